//! `sotay backup` and `sotay restore`: a consistent copy of the local database, and putting one
//! back.

use super::Ctx;
use anyhow::Context;
use clap::Args;
use sotay_application::DataPaths;
use sotay_core::Passphrase;
use std::path::PathBuf;

#[derive(Args)]
pub struct BackupArgs {
    /// The copy to write (default: a dated file in Documents/So Tay).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup to put back (a file `sotay backup` or the app's "Sao lưu" wrote). Its
    /// passphrase (the one in use when it was made) comes from SOTAY_PASSPHRASE or is asked.
    file: PathBuf,
}

pub fn restore(args: RestoreArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("không đọc được {}", args.file.display()))?;
    let paths = DataPaths::resolve(ctx.db.clone(), None);
    let passphrase = super::passphrase::typed(
        "SOTAY_PASSPHRASE",
        "Mật khẩu của bản sao lưu (mật khẩu Sổ Tay lúc sao lưu): ",
    )?;
    let aside = sotay_application::restore_backup(&paths, &bytes, &Passphrase::new(&passphrase))?;
    println!(
        "Đã khôi phục dữ liệu từ {} vào {}.",
        args.file.display(),
        paths.database.display()
    );
    if let Some(aside) = aside {
        println!("Dữ liệu trước đó được giữ lại ở {}.", aside.display());
    }
    println!("Từ nay máy mở bằng mật khẩu của bản sao lưu.");
    println!(
        "Hãy đồng bộ (`sotay sync`): những gì máy này đã gửi sau lần sao lưu sẽ được lấy lại từ máy chủ."
    );
    Ok(())
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
