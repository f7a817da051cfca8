//! `sotay data`: where this laptop's data and saved files are, and moving the data to another
//! folder (a bigger disk, a folder that is backed up).

use super::Ctx;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DataCommand {
    /// The data file and the folder for sheets, reports and backups.
    Show,
    /// Move the data file into FOLDER (a full path) and find it there from now on, in the app
    /// and the CLI alike. Close the app first. Not for a file named with --db or SOTAY_DB.
    Move { folder: PathBuf },
}

pub fn run(cmd: DataCommand, ctx: &Ctx) -> anyhow::Result<()> {
    let app = ctx.app()?;
    match cmd {
        DataCommand::Show => {
            let settings = app.local_settings()?;
            ctx.print(&settings, |s| {
                println!("Tệp dữ liệu (đã mã hóa): {}", s.database);
                println!("Thư mục lưu tệp: {}", s.output_folder);
            });
        }
        DataCommand::Move { folder } => {
            let moved = app.move_data(&folder.display().to_string())?;
            let settings = app.local_settings()?;
            ctx.print(&settings, |_| {
                println!("Đã chuyển dữ liệu sang {}.", moved.display());
            });
        }
    }
    Ok(())
}
