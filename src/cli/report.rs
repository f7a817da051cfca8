//! `sotay report` and `sotay target`: the progress report over this laptop's records, and the
//! commune targets it is measured against. The report options are shared with `sotay server
//! report`.

use super::Ctx;
use clap::{Args, Subcommand};
use sotay_application::{ReportFormat, ReportRequest, WrittenReport};
use sotay_core::report::{Breakdown, CommuneTarget};
use std::path::PathBuf;

#[derive(Args)]
pub struct ReportSpec {
    /// First day, YYYY-MM-DD.
    #[arg(long)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD.
    #[arg(long)]
    to: Option<String>,
    /// Breakdowns to include (repeatable); all when omitted.
    #[arg(long, value_enum)]
    by: Vec<Breakdown>,
    #[arg(long, value_enum)]
    format: ReportFormat,
    /// The file to write (default: a file named after the period in Documents/So Tay).
    #[arg(long)]
    out: Option<PathBuf>,
}

impl ReportSpec {
    pub fn request(&self) -> ReportRequest {
        ReportRequest {
            from: self.from.clone(),
            to: self.to.clone(),
            by: self.by.clone(),
            format: self.format,
        }
    }

    pub fn out(&self) -> Option<PathBuf> {
        self.out.clone()
    }
}

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    spec: ReportSpec,
}

#[derive(Args)]
pub struct TargetSpec {
    #[arg(long)]
    commune: String,
    /// Adult population of the commune.
    #[arg(long)]
    adults: u64,
    /// Target share of adults with basic digital skills, percent.
    #[arg(long, default_value_t = 100)]
    basic: u32,
    /// Target share of adults with a confirmed result, percent.
    #[arg(long, default_value_t = 80)]
    confirmed: u32,
}

impl TargetSpec {
    pub fn target(self) -> CommuneTarget {
        CommuneTarget {
            commune_code: self.commune,
            adult_population: self.adults,
            basic_pct: self.basic,
            confirmed_pct: self.confirmed,
        }
    }
}

#[derive(Subcommand)]
pub enum TargetCommand {
    Set(TargetSpec),
    List,
}

/// The line printed after any report is written, the laptop's or the server's.
pub fn print_written(written: &WrittenReport, ctx: &Ctx) {
    ctx.print(written, |w| {
        println!(
            "Đã ghi báo cáo vào {}: {} buổi, {} người được tiếp cận, {} người có kết quả đạt, {} lượt tham dự.",
            w.path, w.sessions, w.people, w.people_confirmed, w.attendances
        )
    });
}

pub fn run(args: ReportArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let written = ctx
        .app()?
        .write_report(&args.spec.request(), args.spec.out())?;
    print_written(&written, ctx);
    Ok(())
}

pub fn run_target(cmd: TargetCommand, ctx: &Ctx) -> anyhow::Result<()> {
    let app = ctx.app()?;
    match cmd {
        TargetCommand::Set(spec) => {
            app.set_target(&spec.target())?;
            println!("Đã lưu chỉ tiêu.");
        }
        TargetCommand::List => {
            let targets = app.targets()?;
            ctx.print(&targets, |targets| {
                for t in targets {
                    println!(
                        "{}: {} người trưởng thành; chỉ tiêu {} % kỹ năng cơ bản, {} % xác nhận",
                        t.commune_code, t.adult_population, t.basic_pct, t.confirmed_pct
                    );
                }
            });
        }
    }
    Ok(())
}
