//! `sotay`: the admin command line of Sổ Tay. Each subcommand parses its arguments, calls
//! `sotay-core`, and prints the result for a person (Vietnamese) or, with `--json`, for a program.

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use sotay_core::citizens::CitizenSort;
use sotay_core::validate::gender_vi;
use sotay_core::{
    AttendeeInput, CitizenInput, CoreError, ImportOptions, NewTeam, SessionInput, Store,
};
use sotay_protocol::{CitizenId, DeviceId, Group, Organisation, Outcome, SessionId};
use sotay_server::Database;
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
    Init(InitArgs),
    /// The citizen register (người dân).
    #[command(subcommand)]
    Citizen(CitizenCommand),
    /// The skill catalogue (danh mục kỹ năng).
    #[command(subcommand)]
    Skill(SkillCommand),
    /// Teaching sessions (buổi hướng dẫn).
    #[command(subcommand)]
    Session(SessionCommand),
    /// Changes waiting to be synced (hàng đợi đồng bộ).
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Print an attendance sheet as PDF (danh sách điểm danh).
    Sheet(SheetArgs),
    /// Progress report (báo cáo) as XLSX, CSV or JSON.
    Report(ReportArgs),
    /// Commune population and targets for reports (chỉ tiêu).
    #[command(subcommand)]
    Target(TargetCommand),
    /// Sync with the central server (đồng bộ); without a subcommand, sync now.
    Sync(SyncArgs),
    /// USB bundles for when there is no network (gói dữ liệu).
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Run the central sync server (máy chủ đồng bộ) on --db FILE or --database-url URL.
    Serve(ServeArgs),
    /// Administer the central server's database.
    #[command(subcommand)]
    Server(ServerCommand),
}

#[derive(Args)]
struct SheetArgs {
    session: SessionId,
    #[arg(long)]
    out: PathBuf,
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

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Xlsx,
    Csv,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ByArg {
    Skill,
    Gender,
    Age,
    Village,
    Commune,
    Province,
    Team,
    Month,
}

#[derive(Args)]
struct ReportSpec {
    /// First day, YYYY-MM-DD.
    #[arg(long)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD.
    #[arg(long)]
    to: Option<String>,
    /// Breakdowns to include (repeatable); all when omitted.
    #[arg(long, value_enum)]
    by: Vec<ByArg>,
    #[arg(long, value_enum)]
    format: FormatArg,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct ReportArgs {
    #[command(flatten)]
    spec: ReportSpec,
}

#[derive(Args)]
struct TargetSpec {
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

#[derive(Subcommand)]
enum TargetCommand {
    Set(TargetSpec),
    List,
}

#[derive(Args)]
struct SyncArgs {
    #[command(subcommand)]
    command: Option<SyncCommand>,
    /// Seconds before one request is abandoned and retried.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Failed attempts in a row before giving up.
    #[arg(long, default_value_t = 6)]
    attempts: u32,
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
    },
    /// Last success, pending records, last error.
    Status,
    /// Values that lost a merge with another laptop's edit.
    Conflicts,
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Write all pending records to a signed, compressed file.
    Export {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
struct ServerDb {
    /// PostgreSQL URL (postgres://user:pass@host/db) instead of an SQLite --db file.
    #[arg(long, env = "SOTAY_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    target: ServerDb,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// A newer skill catalogue (JSON, as assets/skills.json) to hand to laptops.
    #[arg(long)]
    catalogue: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ServerCommand {
    /// Print a one-time enrolment code for a team (creating the team if needed).
    Enroll {
        #[command(flatten)]
        target: ServerDb,
        #[arg(long)]
        team: String,
        #[arg(long, value_enum)]
        org: Option<OrgArg>,
        #[arg(long)]
        province: Option<String>,
        #[arg(long)]
        commune: Option<String>,
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
    /// Apply a USB bundle exported by a laptop.
    ImportBundle {
        #[command(flatten)]
        target: ServerDb,
        file: PathBuf,
    },
}

#[derive(Args)]
struct InitArgs {
    #[arg(long)]
    team: String,
    #[arg(long, value_enum)]
    org: OrgArg,
    /// Province code (2 digits, e.g. 38 for Thanh Hóa).
    #[arg(long)]
    province: String,
    /// Commune/ward code (5 digits).
    #[arg(long)]
    commune: String,
    /// Your name: the volunteer using this laptop.
    #[arg(long)]
    volunteer: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum OrgArg {
    Youth,
    Women,
    University,
    Other,
}

#[derive(Subcommand)]
enum CitizenCommand {
    /// Add one citizen (thêm người dân).
    Add(CitizenAddArgs),
    /// Import a commune list, CSV or XLSX (nhập danh sách).
    Import {
        file: PathBuf,
        /// Store the valid rows and report the invalid ones.
        #[arg(long)]
        skip_invalid: bool,
        /// Check the file and report; store nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Search by name (diacritics optional) or by phone/CCCD digits.
    Search {
        query: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// List the register.
    List {
        #[arg(long, value_enum, default_value = "given-name")]
        sort: SortArg,
    },
    /// List likely duplicates (trùng lặp).
    Duplicates,
    /// Export the register as CSV or XLSX (phone and CCCD masked unless --show-personal).
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        show_personal: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Csv,
    Xlsx,
}

#[derive(Clone, Copy, ValueEnum)]
enum SortArg {
    GivenName,
    Newest,
}

#[derive(Args)]
struct CitizenAddArgs {
    #[arg(long)]
    name: String,
    #[arg(long, value_enum)]
    gender: GenderArg,
    /// Birth year (1957) or date (dd/mm/yyyy).
    #[arg(long)]
    birth: String,
    #[arg(long)]
    village: String,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    cccd: Option<String>,
    #[arg(long = "group", value_enum)]
    groups: Vec<GroupArg>,
    #[arg(long)]
    note: Option<String>,
    /// The citizen agreed to have their data recorded (required).
    #[arg(long)]
    consent: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum GenderArg {
    Nam,
    Nu,
    Khac,
}

#[derive(Clone, Copy, ValueEnum)]
enum GroupArg {
    Elderly,
    Woman,
    EthnicMinority,
    Disability,
    Youth,
}

#[derive(Subcommand)]
enum SkillCommand {
    List,
}

#[derive(Subcommand)]
enum SessionCommand {
    /// Record a session with its attendance and outcomes.
    Add(SessionAddArgs),
    Show {
        id: SessionId,
    },
    List,
}

#[derive(Args)]
struct SessionAddArgs {
    /// YYYY-MM-DD
    #[arg(long)]
    date: String,
    /// HH:MM
    #[arg(long)]
    time: Option<String>,
    #[arg(long)]
    place: String,
    #[arg(long)]
    village: Option<String>,
    /// Skill codes, comma-separated (see `sotay skill list`).
    #[arg(long, value_delimiter = ',', required = true)]
    skills: Vec<String>,
    /// A citizen ID present at the session; repeat for each.
    #[arg(long = "attendee")]
    attendees: Vec<CitizenId>,
    /// CITIZEN_ID:SKILL_CODE for a skill the citizen achieved; repeat as needed.
    #[arg(long = "achieved")]
    achieved: Vec<String>,
    #[arg(long)]
    note: Option<String>,
}

#[derive(Subcommand)]
enum OutboxCommand {
    Status,
}

fn default_db() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("vn", "Binh dan hoc vu so", "sotay")
        .context("không xác định được thư mục dữ liệu của người dùng; hãy dùng --db")?;
    Ok(dirs.data_dir().join("sotay.sqlite"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            match err.downcast_ref::<CoreError>() {
                Some(CoreError::ImportRejected(report)) if json => print_json(report),
                _ => {}
            }
            if json {
                let kind = err
                    .downcast_ref::<CoreError>()
                    .map_or("error", CoreError::kind);
                let body =
                    serde_json::json!({"error": {"kind": kind, "message": format!("{err:#}")}});
                eprintln!("{body}");
            } else {
                eprintln!("Lỗi: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("output types serialise")
    );
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Serve(args) => {
            let mut settings = sotay_server::Settings::default();
            if let Some(path) = &args.catalogue {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("không đọc được {}", path.display()))?;
                let catalogue: sotay_core::refdata::SkillCatalogue = serde_json::from_str(&text)
                    .with_context(|| format!("{} không phải danh mục kỹ năng", path.display()))?;
                settings.catalogue = std::sync::Arc::new(catalogue);
            }
            return serve(
                open_server_db(cli.db, &args.target)?,
                &args.listen,
                settings,
            );
        }
        Command::Server(cmd) => return server(cli.db, cmd, json),
        _ => {}
    }
    let path = match cli.db {
        Some(p) => p,
        None => default_db()?,
    };
    let mut store =
        Store::open(&path).with_context(|| format!("không mở được {}", path.display()))?;
    match cli.command {
        Command::Init(args) => init(&mut store, args, json),
        Command::Citizen(cmd) => citizen(&mut store, cmd, json),
        Command::Skill(SkillCommand::List) => skill_list(&store, json),
        Command::Session(cmd) => session(&mut store, cmd, json),
        Command::Outbox(OutboxCommand::Status) => outbox_status(&store, json),
        Command::Sync(args) => sync(&mut store, args, json),
        Command::Bundle(BundleCommand::Export { out }) => {
            let summary = store.export_bundle(&out)?;
            if json {
                print_json(&summary);
            } else {
                println!(
                    "Đã ghi {} bản ghi (số {}–{}, {} byte) vào {}. Các bản ghi vẫn chờ cho đến khi máy chủ xác nhận.",
                    summary.records,
                    summary.first_seq,
                    summary.last_seq,
                    summary.bytes,
                    out.display()
                );
            }
            Ok(())
        }
        Command::Sheet(args) => {
            let data = store.sheet(
                args.session,
                &sotay_core::sheet::SheetOptions {
                    blank_rows: args.blank_rows,
                    invite: args.invite,
                    show_phone: args.show_phone,
                    landscape: args.landscape,
                },
            )?;
            let pdf = sotay_sheets::render_pdf(&data)?;
            std::fs::write(&args.out, pdf)
                .with_context(|| format!("không ghi được {}", args.out.display()))?;
            println!(
                "Đã in danh sách {} người (+{} dòng trống) vào {}.",
                data.rows.len(),
                data.blank_rows.len(),
                args.out.display()
            );
            Ok(())
        }
        Command::Report(args) => {
            let report = store.report(&report_options(&args.spec))?;
            write_report(&report, &args.spec)
        }
        Command::Target(TargetCommand::Set(spec)) => {
            store.set_target(&commune_target(spec))?;
            println!("Đã lưu chỉ tiêu.");
            Ok(())
        }
        Command::Target(TargetCommand::List) => {
            let targets = store.targets()?;
            if json {
                print_json(&targets);
            } else {
                for t in &targets {
                    println!(
                        "{}: {} người trưởng thành; chỉ tiêu {} % kỹ năng cơ bản, {} % xác nhận",
                        t.commune_code, t.adult_population, t.basic_pct, t.confirmed_pct
                    );
                }
            }
            Ok(())
        }
        Command::Serve(_) | Command::Server(_) => unreachable!("handled above"),
    }
}

fn report_options(spec: &ReportSpec) -> sotay_core::report::ReportOptions {
    use sotay_core::report::Breakdown;
    sotay_core::report::ReportOptions {
        from: spec.from.clone(),
        to: spec.to.clone(),
        by: spec
            .by
            .iter()
            .map(|b| match b {
                ByArg::Skill => Breakdown::Skill,
                ByArg::Gender => Breakdown::Gender,
                ByArg::Age => Breakdown::Age,
                ByArg::Village => Breakdown::Village,
                ByArg::Commune => Breakdown::Commune,
                ByArg::Province => Breakdown::Province,
                ByArg::Team => Breakdown::Team,
                ByArg::Month => Breakdown::Month,
            })
            .collect(),
    }
}

fn write_report(report: &sotay_core::report::Report, spec: &ReportSpec) -> anyhow::Result<()> {
    use sotay_core::report;
    match spec.format {
        FormatArg::Xlsx => report::write_xlsx(report, &spec.out)?,
        FormatArg::Csv => report::write_csv(report, &spec.out)?,
        FormatArg::Json => report::write_json(report, &spec.out)?,
    }
    println!(
        "Đã ghi báo cáo vào {}: {} buổi, {} người được tiếp cận, {} người có kết quả đạt, {} lượt tham dự.",
        spec.out.display(),
        report.sessions,
        report.totals.people,
        report.people_confirmed,
        report.totals.attendances
    );
    Ok(())
}

fn commune_target(spec: TargetSpec) -> sotay_core::report::CommuneTarget {
    sotay_core::report::CommuneTarget {
        commune_code: spec.commune,
        adult_population: spec.adults,
        basic_pct: spec.basic,
        confirmed_pct: spec.confirmed,
    }
}

fn open_server_db(db: Option<PathBuf>, target: &ServerDb) -> anyhow::Result<Database> {
    Ok(match (&target.database_url, db) {
        (Some(url), _) => Database::connect_postgres(url)?,
        (None, Some(path)) => Database::open_sqlite(&path)?,
        (None, None) => {
            anyhow::bail!("cần --db FILE (SQLite) hoặc --database-url URL (PostgreSQL)")
        }
    })
}

fn serve(db: Database, listen: &str, settings: sotay_server::Settings) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("không mở được cổng {listen}"))?;
        eprintln!(
            "Máy chủ Sổ Tay đang chạy tại http://{}",
            listener.local_addr()?
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        sotay_server::serve(listener, db, settings, shutdown).await?;
        Ok(())
    })
}

fn server(db: Option<PathBuf>, cmd: ServerCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        ServerCommand::Enroll {
            target,
            team,
            org,
            province,
            commune,
        } => {
            let db = open_server_db(db, &target)?;
            let spec = match (org, province, commune) {
                (Some(org), Some(province_code), Some(commune_code)) => {
                    Some(sotay_server::admin::TeamSpec {
                        name: team.clone(),
                        organisation: organisation(org),
                        province_code,
                        commune_code,
                    })
                }
                _ => None,
            };
            let code = sotay_server::admin::create_enrolment_code(&db, &team, spec)?;
            if json {
                print_json(&code);
            } else {
                println!("Mã đăng ký cho đội “{}”: {}", code.team_name, code.code);
                println!("Dùng một lần, hết hạn {}.", code.expires_at);
            }
        }
        ServerCommand::Revoke { target, device } => {
            sotay_server::admin::revoke(&open_server_db(db, &target)?, device)?;
            println!("Đã thu hồi thiết bị {device}.");
        }
        ServerCommand::Stats { target } => {
            let stats = sotay_server::admin::stats(&open_server_db(db, &target)?)?;
            if json {
                print_json(&stats);
            } else {
                for t in &stats {
                    println!(
                        "{}: {} người dân, {} buổi, {} lượt tham dự, {} kết quả ({} đạt); {} thiết bị, {} bản ghi",
                        t.team_name, t.citizens, t.sessions, t.attendances, t.outcomes, t.achieved, t.devices, t.records
                    );
                }
            }
        }
        ServerCommand::Report {
            target,
            team,
            province,
            spec,
        } => {
            let scope = sotay_server::admin::ReportScope { team, province };
            let report = sotay_server::admin::report(
                &open_server_db(db, &target)?,
                &scope,
                &report_options(&spec),
            )?;
            write_report(&report, &spec)?;
        }
        ServerCommand::Target { target, spec } => {
            sotay_server::admin::set_target(&open_server_db(db, &target)?, &commune_target(spec))?;
            println!("Đã lưu chỉ tiêu.");
        }
        ServerCommand::ImportBundle { target, file } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("không đọc được {}", file.display()))?;
            let response =
                sotay_server::admin::import_bundle(&open_server_db(db, &target)?, &bytes)?;
            if json {
                print_json(&response);
            } else {
                println!(
                    "Đã nhập gói: {} bản ghi mới, {} bản ghi đã có; đã nhận đến số {}.",
                    response.applied, response.duplicates, response.acked_seq
                );
            }
        }
    }
    Ok(())
}

fn sync(store: &mut Store, args: SyncArgs, json: bool) -> anyhow::Result<()> {
    match args.command {
        Some(SyncCommand::Enroll {
            server,
            code,
            volunteer,
        }) => {
            let team = store.enroll(&server, &code, volunteer.as_deref())?;
            if json {
                print_json(&team);
            } else {
                println!(
                    "Đã đăng ký máy này với {server} cho đội “{}”.",
                    team.team.name
                );
            }
        }
        Some(SyncCommand::Status) => {
            let status = store.sync_status()?;
            if json {
                print_json(&status);
            } else {
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
            }
        }
        Some(SyncCommand::Conflicts) => {
            let conflicts = store.conflicts()?;
            if json {
                print_json(&conflicts);
            } else if conflicts.is_empty() {
                println!("Không có xung đột.");
            } else {
                for c in &conflicts {
                    println!(
                        "{} {} — trường {}: giá trị bị thay {} ({}), thắng bởi {}",
                        c.entity, c.entity_id, c.field, c.lost_value, c.lost_hlc, c.winner_hlc
                    );
                }
            }
        }
        None => {
            let config = sotay_core::sync::SyncConfig {
                request_timeout: std::time::Duration::from_secs(args.timeout),
                max_attempts: args.attempts,
                ..Default::default()
            };
            let mut report = |p: sotay_core::sync::SyncProgress| {
                if !json {
                    eprintln!(
                        "Đã gửi {}/{} bản ghi, {} KB",
                        p.sent,
                        p.total,
                        p.bytes_sent / 1024
                    );
                }
            };
            let summary = store.sync(&config, &mut report)?;
            if json {
                print_json(&summary);
            } else {
                println!(
                    "Đồng bộ xong: gửi {} bản ghi ({} đã có trên máy chủ), nhận {} bản ghi; {} yêu cầu, {} lần thử lại, {} KB gửi đi; còn chờ {}.",
                    summary.pushed, summary.duplicates, summary.pulled, summary.requests, summary.retries,
                    summary.bytes_sent / 1024, summary.pending
                );
            }
        }
    }
    Ok(())
}

fn init(store: &mut Store, args: InitArgs, json: bool) -> anyhow::Result<()> {
    let organisation = organisation(args.org);
    let team = store.init_team(NewTeam {
        name: args.team,
        organisation,
        province_code: args.province,
        commune_code: args.commune,
        volunteer: args.volunteer,
    })?;
    if json {
        print_json(&team);
    } else {
        println!(
            "Đã khởi tạo đội “{}” — {}, {}.",
            team.team.name, team.commune_name, team.province_name
        );
    }
    Ok(())
}

fn organisation(org: OrgArg) -> Organisation {
    match org {
        OrgArg::Youth => Organisation::YouthUnion,
        OrgArg::Women => Organisation::WomensUnion,
        OrgArg::University => Organisation::University,
        OrgArg::Other => Organisation::Other,
    }
}

fn citizen_line(c: &sotay_protocol::CitizenV1) -> String {
    let mut line = format!(
        "{}  {}  {}  {}",
        c.full_name,
        c.birth_year,
        gender_vi(c.gender),
        c.village
    );
    if let Some(phone) = &c.phone {
        line += &format!("  ĐT {phone}");
    }
    if let Some(cccd) = &c.cccd {
        line += &format!("  CCCD {cccd}");
    }
    line + &format!("  [{}]", c.id)
}

fn citizen(store: &mut Store, cmd: CitizenCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        CitizenCommand::Add(a) => {
            let gender = match a.gender {
                GenderArg::Nam => "nam",
                GenderArg::Nu => "nu",
                GenderArg::Khac => "khac",
            };
            let groups = a
                .groups
                .iter()
                .map(|g| match g {
                    GroupArg::Elderly => Group::Elderly,
                    GroupArg::Woman => Group::Woman,
                    GroupArg::EthnicMinority => Group::EthnicMinority,
                    GroupArg::Disability => Group::Disability,
                    GroupArg::Youth => Group::Youth,
                })
                .collect();
            let added = store.add_citizen(CitizenInput {
                full_name: a.name,
                gender: gender.into(),
                birth: a.birth,
                village: a.village,
                phone: a.phone,
                cccd: a.cccd,
                groups,
                note: a.note,
                commune_code: None,
                consent: a.consent,
            })?;
            if json {
                print_json(&added);
            } else {
                println!("Đã thêm: {}", citizen_line(&added.citizen));
                for m in &added.likely_duplicates {
                    println!(
                        "Cảnh báo: có thể trùng với {} ({}, {}) — {} [{}]",
                        m.full_name,
                        m.birth_year,
                        m.village,
                        m.reason.label_vi(),
                        m.citizen_id
                    );
                }
            }
        }
        CitizenCommand::Import {
            file,
            skip_invalid,
            dry_run,
        } => {
            let report = store.import_citizens(
                &file,
                ImportOptions {
                    skip_invalid,
                    dry_run,
                },
            )?;
            if json {
                print_json(&report);
            } else {
                let verb = if report.committed {
                    "Đã nhập"
                } else {
                    "Sẽ nhập (chưa lưu)"
                };
                println!(
                    "{verb} {} người mới từ {} dòng; {} người đã có trong sổ; {} dòng lỗi bị bỏ qua.",
                    report.added,
                    report.rows,
                    report.already_registered.len(),
                    report
                        .invalid
                        .iter()
                        .map(|e| e.row)
                        .collect::<std::collections::BTreeSet<_>>()
                        .len()
                );
                for e in &report.invalid {
                    println!("  dòng {}, cột {}: {}", e.row, e.column, e.reason);
                }
                for f in &report.flagged {
                    for m in &f.matches {
                        println!(
                            "  Cảnh báo dòng {} ({}): có thể trùng với {} ({}) — {}",
                            f.row,
                            f.full_name,
                            m.full_name,
                            m.birth_year,
                            m.reason.label_vi()
                        );
                    }
                }
            }
        }
        CitizenCommand::Search { query, limit } => {
            let found = store.search_citizens(&query, limit)?;
            if json {
                print_json(&found);
            } else if found.is_empty() {
                println!("Không tìm thấy ai khớp “{query}”.");
            } else {
                found.iter().for_each(|c| println!("{}", citizen_line(c)));
            }
        }
        CitizenCommand::List { sort } => {
            let sort = match sort {
                SortArg::GivenName => CitizenSort::GivenName,
                SortArg::Newest => CitizenSort::Newest,
            };
            let citizens = store.list_citizens(sort)?;
            if json {
                print_json(&citizens);
            } else {
                for (i, c) in citizens.iter().enumerate() {
                    println!("{:>4}. {}", i + 1, citizen_line(c));
                }
                println!("Tổng: {} người.", citizens.len());
            }
        }
        CitizenCommand::Export {
            format,
            out,
            show_personal,
        } => {
            let n =
                store.export_citizens(&out, matches!(format, ExportFormat::Xlsx), show_personal)?;
            println!("Đã xuất {n} người dân vào {}.", out.display());
        }
        CitizenCommand::Duplicates => {
            let groups = store.duplicates()?;
            if json {
                print_json(&groups);
            } else if groups.is_empty() {
                println!("Không có ai nghi trùng lặp.");
            } else {
                for g in &groups {
                    println!("Nghi trùng ({}):", g.reason.label_vi());
                    g.citizens
                        .iter()
                        .for_each(|c| println!("  {}", citizen_line(c)));
                }
            }
        }
    }
    Ok(())
}

fn skill_list(store: &Store, json: bool) -> anyhow::Result<()> {
    let catalogue = store.catalogue()?;
    if json {
        print_json(&*catalogue);
        return Ok(());
    }
    println!(
        "Danh mục kỹ năng phiên bản {} — {}",
        catalogue.version, catalogue.framework
    );
    for group in &catalogue.groups {
        println!("{} {}", group.code, group.name_vi);
        for s in catalogue.skills.iter().filter(|s| s.group == group.code) {
            println!("  {:<7} {} ({})", s.code, s.name_vi, s.name_en);
        }
    }
    Ok(())
}

fn session(store: &mut Store, cmd: SessionCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        SessionCommand::Add(a) => {
            let mut attendees: Vec<AttendeeInput> = a
                .attendees
                .iter()
                .map(|&citizen_id| AttendeeInput {
                    citizen_id,
                    achieved: Vec::new(),
                })
                .collect();
            for pair in &a.achieved {
                let (id, code) = pair.split_once(':').with_context(|| {
                    format!("--achieved “{pair}” phải có dạng MÃ_NGƯỜI_DÂN:MÃ_KỸ_NĂNG")
                })?;
                let id: CitizenId = id
                    .parse()
                    .with_context(|| format!("--achieved “{pair}”: mã người dân không hợp lệ"))?;
                let attendee = attendees
                    .iter_mut()
                    .find(|x| x.citizen_id == id)
                    .with_context(|| {
                        format!("--achieved “{pair}”: người này chưa có trong --attendee")
                    })?;
                attendee.achieved.push(code.trim().to_owned());
            }
            let detail = store.add_session(SessionInput {
                date: a.date,
                time: a.time,
                place: a.place,
                village: a.village,
                skills: a.skills,
                volunteers: Vec::new(),
                note: a.note,
                attendees,
            })?;
            if json {
                print_json(&detail);
            } else {
                println!(
                    "Đã ghi buổi {} ngày {} tại {} với {} người tham dự.",
                    detail.session.id,
                    detail.session.date,
                    detail.session.place,
                    detail.attendees.len()
                );
            }
        }
        SessionCommand::Show { id } => {
            let d = store.session(id)?;
            if json {
                print_json(&d);
                return Ok(());
            }
            println!(
                "Buổi {} — ngày {}{}",
                d.session.id,
                d.session.date,
                d.session
                    .time
                    .as_deref()
                    .map(|t| format!(" {t}"))
                    .unwrap_or_default()
            );
            println!("Địa điểm: {}", d.session.place);
            println!("Tình nguyện viên: {}", d.volunteer_names.join(", "));
            println!("Nội dung:");
            for s in &d.skills {
                println!("  {} {}", s.code, s.name_vi);
            }
            println!("Người tham dự ({}):", d.attendees.len());
            for (i, a) in d.attendees.iter().enumerate() {
                let achieved: Vec<&str> = a
                    .outcomes
                    .iter()
                    .filter(|o| o.outcome == Outcome::Achieved)
                    .map(|o| o.skill.as_str())
                    .collect();
                let result = if achieved.is_empty() {
                    "đã hướng dẫn".to_owned()
                } else {
                    format!("đạt: {}", achieved.join(", "))
                };
                println!(
                    "{:>4}. {} ({}) — {}",
                    i + 1,
                    a.citizen.full_name,
                    a.citizen.birth_year,
                    result
                );
            }
        }
        SessionCommand::List => {
            let sessions = store.sessions()?;
            if json {
                print_json(&sessions);
            } else if sessions.is_empty() {
                println!("Chưa có buổi nào.");
            } else {
                for s in &sessions {
                    println!(
                        "{}  {}  {}  {} người, {} kết quả đạt  [{}]",
                        s.date,
                        s.place,
                        s.skills.join(","),
                        s.attendees,
                        s.achieved,
                        s.id
                    );
                }
            }
        }
    }
    Ok(())
}

fn outbox_status(store: &Store, json: bool) -> anyhow::Result<()> {
    let status = store.outbox_status()?;
    if json {
        print_json(&status);
    } else {
        println!("Máy: {}", status.device_id);
        println!(
            "Chờ đồng bộ: {} bản ghi; đã đồng bộ: {}; số thứ tự cuối: {}",
            status.pending, status.acknowledged, status.last_seq
        );
        for e in &status.pending_by_entity {
            println!("  {}: {}", e.entity, e.pending);
        }
    }
    Ok(())
}
