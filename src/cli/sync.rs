//! `sotay sync` and `sotay bundle`: enrol, sync now with progress, status, conflicts, and the USB
//! bundle for when there is no network.

use super::{runtime, Ctx};
use clap::{Args, Subcommand};
use sotay_application::SyncOptions;
use sotay_protocol::sync::MAX_BATCHES_IN_FLIGHT;
use std::path::PathBuf;

#[derive(Args)]
pub struct SyncArgs {
    #[command(subcommand)]
    command: Option<SyncCommand>,
    /// Seconds before one request is abandoned and retried.
    #[arg(long, default_value_t = SyncOptions::default().timeout_secs)]
    timeout: u64,
    /// Failed attempts in a row before giving up.
    #[arg(long, default_value_t = SyncOptions::default().attempts)]
    attempts: u32,
    /// Batches sent at once, each on its own connection, 1 to 4 (1: one at a time, for a link
    /// or proxy that allows only one).
    #[arg(long, default_value_t = SyncOptions::default().in_flight as u8,
          value_parser = clap::value_parser!(u8).range(1..=MAX_BATCHES_IN_FLIGHT as i64))]
    in_flight: u8,
}

#[derive(Subcommand)]
enum SyncCommand {
    /// Join a server with a one-time enrolment code.
    Enroll {
        #[arg(long)]
        server: String,
        #[arg(long)]
        code: String,
        /// Your name, when this laptop is new to the team.
        #[arg(long)]
        volunteer: Option<String>,
        /// The server certificate's fingerprint as `sotay server enroll` printed it; without
        /// it, the certificate the server shows now is trusted from then on.
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Enrol again with a new code (after the admin revoked this laptop, or when the team's
    /// server moved): same team, everything sent and pulled again at the next sync.
    Reenroll {
        #[arg(long)]
        server: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// Last success, pending records, last error.
    Status,
    /// Values that lost a merge with another laptop's edit.
    Conflicts {
        /// Put this conflict's lost value back (dùng giá trị này), as a new edit that syncs.
        #[arg(long = "use", value_name = "ID")]
        use_value: Option<i64>,
    },
}

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Write all pending records to a signed, compressed file.
    Export {
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: SyncArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let app = ctx.app()?;
    match args.command {
        Some(SyncCommand::Enroll {
            server,
            code,
            volunteer,
            fingerprint,
        }) => {
            let team = runtime()?.block_on(app.enroll(
                &server,
                &code,
                volunteer.as_deref(),
                fingerprint.as_deref(),
            ))?;
            let certificate = app.sync_status()?.certificate;
            ctx.print(&team, |team| {
                println!(
                    "Đã đăng ký máy này với {server} cho đội “{}”.",
                    team.team.name
                );
                if let Some(fingerprint) = &certificate {
                    println!("Chứng chỉ máy chủ (từ nay chỉ tin chứng chỉ này): {fingerprint}");
                }
            });
        }
        Some(SyncCommand::Reenroll {
            server,
            code,
            fingerprint,
        }) => {
            let team = runtime()?.block_on(app.reenroll(&server, &code, fingerprint.as_deref()))?;
            let status = app.sync_status()?;
            ctx.print(&team, |team| {
                println!(
                    "Đã đăng ký lại máy này với {server} cho đội “{}”; lần đồng bộ tới sẽ gửi lại {} bản ghi.",
                    team.team.name, status.pending
                );
                if let Some(fingerprint) = &status.certificate {
                    println!("Chứng chỉ máy chủ (từ nay chỉ tin chứng chỉ này): {fingerprint}");
                }
            });
        }
        Some(SyncCommand::Status) => {
            let status = app.sync_status()?;
            ctx.print(&status, |status| {
                println!(
                    "Máy chủ: {}",
                    status.server.as_deref().unwrap_or("(chưa đăng ký)")
                );
                println!("Chờ đồng bộ: {} bản ghi", status.pending);
                println!(
                    "Lần đồng bộ thành công gần nhất: {}",
                    status.last_success.as_deref().unwrap_or("chưa có")
                );
                if let Some(e) = &status.last_error {
                    println!("Lỗi lần gần nhất: {e}");
                }
                if status.quarantined > 0 {
                    println!(
                        "Bản ghi bị giữ lại vì không hợp lệ: {} (máy chủ từ chối, hoặc nhận về mà không áp dụng được)",
                        status.quarantined
                    );
                }
            });
        }
        Some(SyncCommand::Conflicts {
            use_value: Some(id),
        }) => {
            app.use_lost_value(id)?;
            println!("Đã dùng lại giá trị của xung đột {id}; lần đồng bộ tới sẽ gửi cho cả đội.");
        }
        Some(SyncCommand::Conflicts { use_value: None }) => {
            let conflicts = app.conflicts()?;
            ctx.print(&conflicts, |conflicts| {
                if conflicts.is_empty() {
                    println!("Không có xung đột.");
                }
                for c in conflicts {
                    let from = if c.lost_here {
                        "máy này"
                    } else {
                        "máy khác"
                    };
                    println!(
                        "[{}] {} — {}: giá trị {} (nhập {} trên {from}) đã bị thay bằng {} ({})",
                        c.id,
                        c.subject,
                        c.field,
                        c.lost_value,
                        c.lost_at,
                        c.current_value,
                        c.winner_at
                    );
                }
            });
        }
        None => {
            let config = SyncOptions {
                timeout_secs: args.timeout,
                attempts: args.attempts,
                in_flight: args.in_flight.into(),
            }
            .config();
            let json = ctx.json;
            let mut report = move |p: sotay_sync::SyncProgress| {
                if !json {
                    eprintln!(
                        "Đã gửi {}/{} bản ghi, {} KB",
                        p.sent,
                        p.total,
                        p.bytes_sent / 1024
                    );
                }
            };
            let summary = runtime()?.block_on(app.sync(&config, &mut report))?;
            ctx.print(&summary, |s| {
                println!(
                    "Đồng bộ xong: gửi {} bản ghi ({} đã có trên máy chủ), nhận {} bản ghi; {} yêu cầu, {} lần thử lại, {} KB gửi đi; còn chờ {}.",
                    s.pushed, s.duplicates, s.pulled, s.requests, s.retries, s.bytes_sent / 1024, s.pending
                );
                if let Some(notice) = &s.notice {
                    println!("Chú ý: {notice}");
                }
                if s.quarantined > 0 {
                    println!(
                        "Chú ý: {} bản ghi không hợp lệ bị giữ lại, không đồng bộ (xem `sotay sync status`).",
                        s.quarantined
                    );
                }
            });
        }
    }
    Ok(())
}

pub fn run_bundle(cmd: BundleCommand, ctx: &Ctx) -> anyhow::Result<()> {
    let BundleCommand::Export { out } = cmd;
    let summary = ctx.app()?.export_bundle(&out)?;
    ctx.print(&summary, |s| {
        println!(
            "Đã ghi {} bản ghi (số {}–{}, {} byte) vào {}. Các bản ghi vẫn chờ cho đến khi máy chủ xác nhận.",
            s.records,
            s.first_seq,
            s.last_seq,
            s.bytes,
            out.display()
        )
    });
    Ok(())
}
