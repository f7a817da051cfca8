//! `sotay serve` and `sotay server`: run the central sync server, and administer its database
//! (enrolment codes, revocation, statistics, the province report, targets, USB bundles).

use super::report::{print_written, ReportSpec, TargetSpec};
use super::Ctx;
use anyhow::Context;
use clap::{Args, Subcommand};
use sotay_application::write_report_file;
use sotay_protocol::{DeviceId, Organisation};
use sotay_server::admin;
use sotay_server::Database;
use std::path::PathBuf;

#[derive(Args)]
pub struct ServerDb {
    /// PostgreSQL URL (postgres://user:pass@host/db) instead of an SQLite --db file.
    #[arg(long, env = "SOTAY_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    target: ServerDb,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// A newer skill catalogue (JSON, as assets/skills.json) to hand to laptops.
    #[arg(long)]
    catalogue: Option<PathBuf>,
    /// The server's certificate (PEM, self-signed is fine): serve HTTPS. Laptops refuse plain
    /// http:// from any other machine.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ServerCommand {
    /// Print a one-time enrolment code for a team (creating the team if needed).
    Enroll {
        #[command(flatten)]
        target: ServerDb,
        #[arg(long)]
        team: String,
        #[arg(long, value_enum)]
        org: Option<Organisation>,
        #[arg(long)]
        province: Option<String>,
        #[arg(long)]
        commune: Option<String>,
        /// The certificate `serve` uses (PEM): its fingerprint is printed with the code, for
        /// the volunteer to type or compare at enrolment.
        #[arg(long)]
        tls_cert: Option<PathBuf>,
    },
    /// Revoke a device's token.
    Revoke {
        #[command(flatten)]
        target: ServerDb,
        device: DeviceId,
    },
    /// Counts per team.
    Stats {
        #[command(flatten)]
        target: ServerDb,
    },
    /// The progress report over everything synced (per team, commune, province).
    Report {
        #[command(flatten)]
        target: ServerDb,
        /// Only this team (by name).
        #[arg(long)]
        team: Option<String>,
        /// Only this province (2-digit code).
        #[arg(long)]
        province: Option<String>,
        #[command(flatten)]
        spec: ReportSpec,
    },
    /// Set a commune's adult population and targets on the server.
    Target {
        #[command(flatten)]
        target: ServerDb,
        #[command(flatten)]
        spec: TargetSpec,
    },
    /// Records set aside because they break the rules (quarantine).
    Quarantine {
        #[command(flatten)]
        target: ServerDb,
    },
    /// Apply a USB bundle exported by a laptop.
    ImportBundle {
        #[command(flatten)]
        target: ServerDb,
        file: PathBuf,
    },
}

/// An enrolment code as printed: with the fingerprint to pin, when the certificate was given.
#[derive(serde::Serialize)]
struct PrintedCode {
    #[serde(flatten)]
    code: admin::EnrolmentCode,
    certificate_fingerprint: Option<String>,
}

async fn open_server_db(ctx: &Ctx, target: &ServerDb) -> anyhow::Result<Database> {
    Ok(match (&target.database_url, &ctx.db) {
        (Some(url), _) => Database::connect_postgres(url).await?,
        (None, Some(path)) => Database::open_sqlite(path)?,
        (None, None) => {
            anyhow::bail!("cần --db FILE (SQLite) hoặc --database-url URL (PostgreSQL)")
        }
    })
}

pub fn serve(args: ServeArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let mut settings = sotay_server::Settings::default();
    if let Some(path) = &args.catalogue {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("không đọc được {}", path.display()))?;
        let catalogue: sotay_core::refdata::SkillCatalogue = serde_json::from_str(&text)
            .with_context(|| format!("{} không phải danh mục kỹ năng", path.display()))?;
        settings.catalogue = std::sync::Arc::new(catalogue);
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(sotay_server::TlsIdentity::load(cert, key)?),
        _ => None,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    super::runtime()?.block_on(async {
        let db = open_server_db(ctx, &args.target).await?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("không mở được cổng {}", args.listen))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        eprintln!(
            "Máy chủ Sổ Tay đang chạy tại {scheme}://{}",
            listener.local_addr()?
        );
        match &tls {
            Some(identity) => eprintln!("Dấu vân tay chứng chỉ: {}", identity.fingerprint),
            None => eprintln!(
                "Chưa có TLS (--tls-cert/--tls-key): máy tính xách tay chỉ đồng bộ được khi máy chủ ở ngay trên máy đó"
            ),
        }
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        sotay_server::serve(listener, db, settings, tls.as_ref(), shutdown).await?;
        Ok(())
    })
}

pub fn run(cmd: ServerCommand, ctx: &Ctx) -> anyhow::Result<()> {
    super::runtime()?.block_on(run_async(cmd, ctx))
}

async fn run_async(cmd: ServerCommand, ctx: &Ctx) -> anyhow::Result<()> {
    match cmd {
        ServerCommand::Enroll {
            target,
            team,
            org,
            province,
            commune,
            tls_cert,
        } => {
            let fingerprint = tls_cert
                .as_deref()
                .map(sotay_server::tls::fingerprint_of)
                .transpose()?;
            let db = open_server_db(ctx, &target).await?;
            let spec = match (org, province, commune) {
                (Some(organisation), Some(province_code), Some(commune_code)) => {
                    Some(admin::TeamSpec {
                        name: team.clone(),
                        organisation,
                        province_code,
                        commune_code,
                    })
                }
                _ => None,
            };
            let code = PrintedCode {
                code: admin::create_enrolment_code(&db, &team, spec).await?,
                certificate_fingerprint: fingerprint,
            };
            ctx.print(&code, |printed| {
                let code = &printed.code;
                println!("Mã đăng ký cho đội “{}”: {}", code.team_name, code.code);
                println!("Dùng một lần, hết hạn {}.", code.expires_at);
                if let Some(fingerprint) = &printed.certificate_fingerprint {
                    println!("Dấu vân tay chứng chỉ máy chủ: {fingerprint}");
                }
            });
        }
        ServerCommand::Revoke { target, device } => {
            admin::revoke(&open_server_db(ctx, &target).await?, device).await?;
            println!("Đã thu hồi thiết bị {device}.");
        }
        ServerCommand::Stats { target } => {
            let stats = admin::stats(&open_server_db(ctx, &target).await?).await?;
            ctx.print(&stats, |stats| {
                for t in stats {
                    println!(
                        "{}: {} người dân, {} buổi, {} lượt tham dự, {} kết quả ({} đạt); {} thiết bị, {} bản ghi",
                        t.team_name, t.citizens, t.sessions, t.attendances, t.outcomes, t.achieved, t.devices, t.records
                    );
                }
            });
        }
        ServerCommand::Report {
            target,
            team,
            province,
            spec,
        } => {
            let request = spec.request();
            let scope = admin::ReportScope { team, province };
            let report = admin::report(
                &open_server_db(ctx, &target).await?,
                &scope,
                &request.options(),
            )
            .await?;
            let out = spec.out().unwrap_or_else(|| {
                PathBuf::from(format!("bao-cao-may-chu.{}", request.format.extension()))
            });
            print_written(&write_report_file(&report, request.format, &out)?, ctx);
        }
        ServerCommand::Target { target, spec } => {
            admin::set_target(&open_server_db(ctx, &target).await?, &spec.target()).await?;
            println!("Đã lưu chỉ tiêu.");
        }
        ServerCommand::Quarantine { target } => {
            let entries = admin::quarantine(&open_server_db(ctx, &target).await?).await?;
            ctx.print(&entries, |entries| {
                if entries.is_empty() {
                    println!("Không có bản ghi nào bị giữ lại.");
                }
                for q in entries {
                    println!(
                        "{}  {}: máy {} số {} ({} {}) — {}",
                        q.received_at,
                        q.team_name,
                        q.device_id,
                        q.seq,
                        q.entity,
                        q.entity_id,
                        q.reason
                    );
                }
            });
        }
        ServerCommand::ImportBundle { target, file } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("không đọc được {}", file.display()))?;
            let response =
                admin::import_bundle(&open_server_db(ctx, &target).await?, &bytes).await?;
            ctx.print(&response, |r| {
                println!(
                    "Đã nhập gói: {} bản ghi mới, {} bản ghi đã có; đã nhận đến số {}.",
                    r.applied, r.duplicates, r.acked_seq
                )
            });
        }
    }
    Ok(())
}
