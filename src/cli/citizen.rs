//! `sotay citizen`: the register — add, edit, import, search, list, duplicates, merge, export.

use super::Ctx;
use clap::{Args, Subcommand};
use sotay_application::ExportFormat;
use sotay_core::validate::{gender_vi, gender_word};
use sotay_core::{CitizenInput, CitizenPatch, CitizenSort, ImportOptions};
use sotay_protocol::{CitizenId, CitizenV1, Gender, Group};
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum CitizenCommand {
    /// Add one citizen (thêm người dân).
    Add(CitizenAddArgs),
    /// Change some fields of a citizen; the others stay as they are (sửa thông tin).
    Edit(CitizenEditArgs),
    /// One citizen's record and history: sessions attended, skills taught, outcomes.
    Show { id: CitizenId },
    /// Erase a person's name, birth date, phone, CCCD and note at their request, here and
    /// (through sync) on the server and every teammate's laptop; reports keep counting them,
    /// anonymously (xóa thông tin theo yêu cầu).
    Forget {
        id: CitizenId,
        /// Confirms that the person asked: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Import a commune list, CSV or XLSX (nhập danh sách).
    Import {
        file: PathBuf,
        /// Store the valid rows and report the invalid ones.
        #[arg(long)]
        skip_invalid: bool,
        /// Check the file and report; store nothing.
        #[arg(long)]
        dry_run: bool,
        /// A row listed as a possible duplicate that is a new person all the same; repeat.
        #[arg(long = "add-anyway", value_name = "ROW")]
        add_anyway: Vec<usize>,
        /// For a list without a consent (“Đồng ý”) column: who collected everyone's consent.
        #[arg(long, requires = "consent_date")]
        consent_by: Option<String>,
        /// …and when (dd/mm/yyyy).
        #[arg(long, requires = "consent_by")]
        consent_date: Option<String>,
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
        sort: CitizenSort,
    },
    /// List likely duplicates (trùng lặp).
    Duplicates,
    /// Merge two records of one person (gộp): OTHER's sessions move to KEEP, then OTHER is
    /// deleted. Syncs like any edit.
    Merge { keep: CitizenId, other: CitizenId },
    /// Export the register as CSV or XLSX (phone and CCCD masked unless --show-personal).
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        show_personal: bool,
    },
}

#[derive(Args)]
pub struct CitizenAddArgs {
    #[arg(long)]
    name: String,
    #[arg(long, value_enum)]
    gender: Gender,
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
    groups: Vec<Group>,
    #[arg(long)]
    note: Option<String>,
    /// The citizen agreed to have their data recorded (required).
    #[arg(long)]
    consent: bool,
}

#[derive(Args)]
pub struct CitizenEditArgs {
    id: CitizenId,
    #[arg(long)]
    name: Option<String>,
    #[arg(long, value_enum)]
    gender: Option<Gender>,
    /// Birth year (1957) or date (dd/mm/yyyy).
    #[arg(long)]
    birth: Option<String>,
    #[arg(long)]
    village: Option<String>,
    /// An empty value ("") removes the number.
    #[arg(long)]
    phone: Option<String>,
    /// An empty value ("") removes the number.
    #[arg(long)]
    cccd: Option<String>,
    /// Replaces the groups; repeat for each.
    #[arg(long = "group", value_enum)]
    groups: Vec<Group>,
    /// Removes every group.
    #[arg(long, conflicts_with = "groups")]
    no_groups: bool,
    /// An empty value ("") removes the note.
    #[arg(long)]
    note: Option<String>,
}

fn gender_input(gender: Gender) -> String {
    gender_word(gender).to_owned()
}

fn citizen_line(c: &CitizenV1) -> String {
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

pub fn run(cmd: CitizenCommand, ctx: &Ctx) -> anyhow::Result<()> {
    let app = ctx.app()?;
    match cmd {
        CitizenCommand::Add(a) => {
            let added = app.add_citizen(CitizenInput {
                full_name: a.name,
                gender: gender_input(a.gender),
                birth: a.birth,
                village: a.village,
                phone: a.phone,
                cccd: a.cccd,
                groups: a.groups,
                note: a.note,
                commune_code: None,
                consent: a.consent,
            })?;
            ctx.print(&added, |added| {
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
            });
        }
        CitizenCommand::Edit(e) => {
            let groups = if e.no_groups {
                Some(Vec::new())
            } else {
                Some(e.groups).filter(|g| !g.is_empty())
            };
            let updated = app.update_citizen(
                e.id,
                CitizenPatch {
                    full_name: e.name,
                    gender: e.gender.map(gender_input),
                    birth: e.birth,
                    village: e.village,
                    phone: e.phone,
                    cccd: e.cccd,
                    groups,
                    note: e.note,
                    commune_code: None,
                },
            )?;
            ctx.print(&updated, |c| println!("Đã sửa: {}", citizen_line(c)));
        }
        CitizenCommand::Forget { id, yes } => {
            if !yes {
                anyhow::bail!(
                    "xóa thông tin cá nhân không hoàn tác được: chạy lại với --yes khi người dân đã yêu cầu"
                );
            }
            let forgotten = app.forget_citizen(id)?;
            ctx.print(&forgotten, |_| {
                println!(
                    "Đã xóa họ tên, ngày sinh, số điện thoại, CCCD và ghi chú của người dân {id}. \
                     Lần đồng bộ tới sẽ xóa trên máy chủ và máy của cả đội; báo cáo vẫn đếm người này (ẩn danh)."
                )
            });
        }
        CitizenCommand::Show { id } => {
            let history = app.citizen_history(id)?;
            ctx.print(&history, |h| {
                let c = &h.citizen;
                println!("{}", citizen_line(c));
                if !c.groups.is_empty() {
                    let groups: Vec<String> = c
                        .groups
                        .iter()
                        .map(|g| {
                            serde_json::to_value(g)
                                .unwrap()
                                .as_str()
                                .unwrap_or("")
                                .into()
                        })
                        .collect();
                    println!("Nhóm: {}", groups.join(", "));
                }
                if let Some(note) = &c.note {
                    println!("Ghi chú: {note}");
                }
                if h.sessions.is_empty() {
                    println!("Chưa dự buổi hướng dẫn nào.");
                }
                for s in &h.sessions {
                    let time = s
                        .time
                        .as_deref()
                        .map(|t| format!(" {t}"))
                        .unwrap_or_default();
                    println!("Buổi {}{time} — {} ({})", s.date, s.place, s.session_id);
                    for o in &s.outcomes {
                        let result = match o.outcome {
                            sotay_protocol::Outcome::Achieved => "đã đạt",
                            sotay_protocol::Outcome::Taught => "đã được hướng dẫn",
                        };
                        let confirmed = match (&o.confirmed_by, &o.confirmed_on) {
                            (Some(by), Some(on)) => format!(" (xác nhận bởi {by} ngày {on})"),
                            _ => String::new(),
                        };
                        println!(
                            "  {} [{}]: {result}{confirmed}",
                            o.skill.name_vi, o.skill.code
                        );
                    }
                }
            });
        }
        CitizenCommand::Import {
            file,
            skip_invalid,
            dry_run,
            add_anyway,
            consent_by,
            consent_date,
        } => {
            let consent = consent_by
                .zip(consent_date)
                .map(|(collected_by, date)| sotay_core::ImportConsent { collected_by, date });
            let report = app.import_citizens_file(
                &file,
                ImportOptions {
                    skip_invalid,
                    dry_run,
                    add_anyway,
                    consent,
                },
            )?;
            ctx.print(&report, |report| {
                let verb = if report.committed {
                    "Đã nhập"
                } else {
                    "Sẽ nhập (chưa lưu)"
                };
                let bad_rows: BTreeSet<_> = report.invalid.iter().map(|e| e.row).collect();
                let held_back = report.possible_duplicates.iter().filter(|r| !r.added).count();
                println!(
                    "{verb} {} người mới từ {} dòng; {} người đã có trong sổ; {} dòng có thể trùng chưa thêm; {} dòng lỗi bị bỏ qua.",
                    report.added,
                    report.rows,
                    report.already_registered.len(),
                    held_back,
                    bad_rows.len()
                );
                for e in &report.invalid {
                    println!("  dòng {}, cột {}: {}", e.row, e.column, e.reason);
                }
                let who = |m: &sotay_core::citizens::DuplicateMatch| {
                    format!("{} ({}, {}) — {}", m.full_name, m.birth_year, m.village, m.reason.label_vi())
                };
                for r in &report.already_registered {
                    let first = r.matches.first().map(who).unwrap_or_default();
                    println!("  Dòng {} ({}): đã có trong sổ — {first}", r.row, r.full_name);
                }
                for r in &report.possible_duplicates {
                    let first = r.matches.first().map(who).unwrap_or_default();
                    let decision = if r.added {
                        "đã thêm như người mới"
                    } else {
                        "chưa thêm; nếu là người khác, nhập lại với --add-anyway"
                    };
                    println!("  Dòng {} ({}): có thể trùng với {first}; {decision} {}", r.row, r.full_name, r.row);
                }
                for r in &report.shared_phone {
                    let first = r.matches.first().map(who).unwrap_or_default();
                    println!("  Dòng {} ({}): đã thêm; dùng chung số điện thoại với {first}", r.row, r.full_name);
                }
            });
        }
        CitizenCommand::Search { query, limit } => {
            let found = app.search_citizens(&query, limit)?;
            ctx.print(&found, |found| {
                if found.is_empty() {
                    println!("Không tìm thấy ai khớp “{query}”.");
                }
                found.iter().for_each(|c| println!("{}", citizen_line(c)));
            });
        }
        CitizenCommand::List { sort } => {
            let citizens = app.list_citizens(sort)?;
            ctx.print(&citizens, |citizens| {
                for (i, c) in citizens.iter().enumerate() {
                    println!("{:>4}. {}", i + 1, citizen_line(c));
                }
                println!("Tổng: {} người.", citizens.len());
            });
        }
        CitizenCommand::Export {
            format,
            out,
            show_personal,
        } => {
            let (file, count) = app.export_citizens(format, out, show_personal)?;
            println!("Đã xuất {count} người dân vào {}.", file.path);
        }
        CitizenCommand::Merge { keep, other } => {
            let kept = app.merge_citizens(keep, other)?;
            ctx.print(&kept, |c| {
                println!("Đã gộp hai hồ sơ thành một: {}", citizen_line(c));
            });
        }
        CitizenCommand::Duplicates => {
            let groups = app.duplicates()?;
            ctx.print(&groups, |groups| {
                if groups.is_empty() {
                    println!("Không có ai nghi trùng lặp.");
                }
                for g in groups {
                    println!("Nghi trùng ({}):", g.reason.label_vi());
                    g.citizens
                        .iter()
                        .for_each(|c| println!("  {}", citizen_line(c)));
                }
            });
        }
    }
    Ok(())
}
