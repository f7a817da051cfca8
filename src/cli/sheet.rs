//! `sotay sheet`: print a session's attendance sheet as PDF.

use super::Ctx;
use clap::Args;
use sotay_core::sheet::SheetOptions;
use sotay_protocol::SessionId;
use std::path::PathBuf;

#[derive(Args)]
pub struct SheetArgs {
    session: SessionId,
    /// The PDF to write (default: a file named after the session's date in Documents/So Tay).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Numbered empty rows for walk-ins.
    #[arg(long, default_value_t = 0)]
    blank_rows: usize,
    #[arg(long)]
    landscape: bool,
    /// The pre-session variant: blank result column, for signing on arrival.
    #[arg(long)]
    invite: bool,
    /// Print full phone numbers (default: last 3 digits only).
    #[arg(long)]
    show_phone: bool,
}

pub fn run(args: SheetArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let options = SheetOptions {
        blank_rows: args.blank_rows,
        invite: args.invite,
        show_phone: args.show_phone,
        landscape: args.landscape,
    };
    let printed = ctx.app()?.print_sheet(args.session, &options, args.out)?;
    ctx.print(&printed, |p| {
        println!(
            "Đã in danh sách {} người (+{} dòng trống) vào {}.",
            p.rows, p.blank_rows, p.path
        )
    });
    Ok(())
}
