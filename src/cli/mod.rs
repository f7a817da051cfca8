//! The `sotay` command tree and what is common to every command: the global flags, opening the
//! application on the local store, printing JSON, and turning an error into one Vietnamese line
//! (or `{"error": {"kind", "message"}}` with `--json`) and a failing exit status.

mod backup;
mod citizen;
mod data;
mod init;
mod outbox;
mod outcome;
mod passphrase;
mod report;
mod server;
mod session;
mod sheet;
mod skill;
mod sync;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use sotay_application::{App, AppError, DataPaths};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sotay",
    version,
    about = "Sổ Tay — sổ tay của đội tình nguyện Bình dân học vụ số (digital-literacy volunteer notebook)"
)]
struct Cli {
    /// Local database file (default: sotay.sqlite in the platform data directory).
    #[arg(long, global = true, env = "SOTAY_DB")]
    db: Option<PathBuf>,
    /// Print data as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Set up this laptop for a team (khởi tạo đội).
    Init(init::InitArgs),
    /// The citizen register (người dân).
    #[command(subcommand)]
    Citizen(citizen::CitizenCommand),
    /// The skill catalogue (danh mục kỹ năng).
    #[command(subcommand)]
    Skill(skill::SkillCommand),
    /// Teaching sessions (buổi hướng dẫn).
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Outcomes reached after their session (kết quả).
    #[command(subcommand)]
    Outcome(outcome::OutcomeCommand),
    /// Changes waiting to be synced (hàng đợi đồng bộ).
    #[command(subcommand)]
    Outbox(outbox::OutboxCommand),
    /// Print an attendance sheet as PDF (danh sách điểm danh).
    Sheet(sheet::SheetArgs),
    /// Progress report (báo cáo) as XLSX, CSV or JSON.
    Report(report::ReportArgs),
    /// Commune population and targets for reports (chỉ tiêu).
    #[command(subcommand)]
    Target(report::TargetCommand),
    /// Sync with the central server (đồng bộ); without a subcommand, sync now.
    Sync(sync::SyncArgs),
    /// USB bundles for when there is no network (gói dữ liệu).
    #[command(subcommand)]
    Bundle(sync::BundleCommand),
    /// Where the data and saved files are; move the data to another folder (dữ liệu).
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Copy the whole local database to a file (sao lưu).
    Backup(backup::BackupArgs),
    /// Put a backup back in place of the local database, keeping the current one aside
    /// (khôi phục).
    Restore(backup::RestoreArgs),
    /// The passphrase that encrypts the local database (mật khẩu).
    #[command(subcommand)]
    Passphrase(passphrase::PassphraseCommand),
    /// Run the central sync server (máy chủ đồng bộ) on --db FILE or --database-url URL.
    Serve(server::ServeArgs),
    /// Administer the central server's database.
    #[command(subcommand)]
    Server(server::ServerCommand),
}

/// What every command gets: the global flags.
pub struct Ctx {
    pub db: Option<PathBuf>,
    pub json: bool,
}

impl Ctx {
    /// The application on the laptop's store (created, or encrypted, on first use).
    pub fn app(&self) -> anyhow::Result<App> {
        let paths = DataPaths::resolve(self.db.clone(), None);
        let passphrase = passphrase::for_database(&paths)?;
        let path = paths.database.display().to_string();
        App::open(paths, &passphrase).with_context(|| format!("không mở được {path}"))
    }

    /// Prints `value` as JSON when `--json` was given, else runs `human`.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce(&T)) {
        if self.json {
            print_json(value);
        } else {
            human(value);
        }
    }
}

pub fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("output types serialise")
    );
}

/// A runtime for the commands that talk to the network.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn main() -> ExitCode {
    // Decided before parsing: clap's own allocations would already land in huge pages. A word
    // `serve` anywhere (a name, say) only keeps them, as for the server.
    if !std::env::args_os().skip(1).any(|arg| arg == "serve") {
        crate::short_lived();
    }
    let cli = Cli::parse();
    let ctx = Ctx {
        db: cli.db,
        json: cli.json,
    };
    match run(cli.command, &ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report_error(&err, ctx.json);
            ExitCode::FAILURE
        }
    }
}

fn report_error(err: &anyhow::Error, json: bool) {
    let kind = if let Some(e) = err.downcast_ref::<AppError>() {
        if let AppError::Core(sotay_core::CoreError::ImportRejected(report)) = e {
            if json {
                print_json(report);
            }
        }
        e.kind()
    } else if let Some(e) = err.downcast_ref::<sotay_server::ServerError>() {
        e.kind()
    } else {
        "error"
    };
    if json {
        let message = format!("{err:#}");
        eprintln!(
            "{}",
            serde_json::json!({"error": {"kind": kind, "message": message}})
        );
    } else {
        eprintln!("Lỗi: {err:#}");
    }
}

fn run(command: Command, ctx: &Ctx) -> anyhow::Result<()> {
    match command {
        Command::Init(args) => init::run(args, ctx),
        Command::Citizen(cmd) => citizen::run(cmd, ctx),
        Command::Skill(cmd) => skill::run(cmd, ctx),
        Command::Session(cmd) => session::run(cmd, ctx),
        Command::Outbox(cmd) => outbox::run(cmd, ctx),
        Command::Outcome(cmd) => outcome::run(cmd, ctx),
        Command::Sheet(args) => sheet::run(args, ctx),
        Command::Report(args) => report::run(args, ctx),
        Command::Target(cmd) => report::run_target(cmd, ctx),
        Command::Sync(args) => sync::run(args, ctx),
        Command::Bundle(cmd) => sync::run_bundle(cmd, ctx),
        Command::Backup(args) => backup::run(args, ctx),
        Command::Data(cmd) => data::run(cmd, ctx),
        Command::Restore(args) => backup::restore(args, ctx),
        Command::Passphrase(cmd) => passphrase::run(cmd, ctx),
        Command::Serve(args) => server::serve(args, ctx),
        Command::Server(cmd) => server::run(cmd, ctx),
    }
}
