//! `sotay backup`: a consistent copy of the local database.

use super::Ctx;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct BackupArgs {
    /// The copy to write (default: a dated file in Documents/So Tay).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: BackupArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let file = ctx.app()?.backup(args.out)?;
    ctx.print(&file, |file| {
        println!(
            "Đã sao lưu toàn bộ dữ liệu vào {} ({} KB). Hãy cất tệp này ở nơi an toàn: nó chứa thông tin cá nhân của người dân.",
            file.path,
            file.bytes / 1024
        )
    });
    Ok(())
}
