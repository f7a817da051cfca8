//! Progress reports: counts by skill and outcome, gender, age band, village, commune, province,
//! team and month; distinct people reached against attendances; progress of each commune against
//! its targets. `build` is a pure function of decoded records, so the laptop (its own and pulled
//! records) and the server (everything synced) produce the same report from the same data.
//! Writers give JSON, CSV (long format: breakdown, group, metric, value) and XLSX (one sheet per
//! breakdown, numbers as numbers), all safe against spreadsheet formula injection.

use crate::error::{CoreError, CoreResult};
use crate::refdata::{admin_units, skills};
use crate::validate::gender_vi;
use serde::Serialize;
use sotay_protocol::{AttendanceV1, CitizenId, CitizenV1, Outcome, SessionId, SessionV1, TeamId};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    Skill,
    Gender,
    Age,
    Village,
    Commune,
    Province,
    Team,
    Month,
}

impl Breakdown {
    pub const ALL: [Breakdown; 8] = [
        Breakdown::Skill,
        Breakdown::Gender,
        Breakdown::Age,
        Breakdown::Village,
        Breakdown::Commune,
        Breakdown::Province,
        Breakdown::Team,
        Breakdown::Month,
    ];

    pub fn title_vi(self) -> &'static str {
        match self {
            Breakdown::Skill => "Theo kỹ năng",
            Breakdown::Gender => "Theo giới tính",
            Breakdown::Age => "Theo độ tuổi",
            Breakdown::Village => "Theo thôn, xóm",
            Breakdown::Commune => "Theo xã, phường",
            Breakdown::Province => "Theo tỉnh, thành phố",
            Breakdown::Team => "Theo đội",
            Breakdown::Month => "Theo tháng",
        }
    }

    fn group_header_vi(self) -> &'static str {
        match self {
            Breakdown::Skill => "Kỹ năng",
            Breakdown::Gender => "Giới tính",
            Breakdown::Age => "Độ tuổi",
            Breakdown::Village => "Thôn/Xóm",
            Breakdown::Commune => "Xã/Phường",
            Breakdown::Province => "Tỉnh/Thành phố",
            Breakdown::Team => "Đội",
            Breakdown::Month => "Tháng",
        }
    }
}

/// A commune's adult population and targets, entered by an official.
#[derive(Debug, Clone, Serialize)]
pub struct CommuneTarget {
    pub commune_code: String,
    pub adult_population: u64,
    /// Share of adults with basic digital skills (reached), in percent; default 100.
    pub basic_pct: u32,
    /// Share of adults with a confirmed achievement, in percent; default 80.
    pub confirmed_pct: u32,
}

#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Empty: every breakdown.
    pub by: Vec<Breakdown>,
}

/// Everything a report is computed from.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    pub citizens: HashMap<CitizenId, CitizenV1>,
    pub sessions: HashMap<SessionId, SessionV1>,
    pub attendances: Vec<AttendanceV1>,
    pub team_names: HashMap<TeamId, String>,
    pub targets: Vec<CommuneTarget>,
    /// Skill names; the compiled-in catalogue when None.
    pub catalogue: Option<crate::refdata::SkillCatalogue>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Distinct people.
    pub people: u64,
    pub attendances: u64,
    /// Skill outcomes "taught" (shown how).
    pub taught: u64,
    /// Skill outcomes "achieved" (done on their own, e.g. VNeID activated).
    pub achieved: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakdownRow {
    pub group: String,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakdownTable {
    pub breakdown: Breakdown,
    pub title: String,
    pub rows: Vec<BreakdownRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetProgress {
    pub commune_code: String,
    pub commune_name: String,
    pub adult_population: u64,
    pub reached: u64,
    pub reached_pct: f64,
    pub basic_target_pct: u32,
    pub basic_met: bool,
    pub confirmed: u64,
    pub confirmed_pct: f64,
    pub confirmed_target_pct: u32,
    pub confirmed_met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: Option<String>,
    pub to: Option<String>,
    pub sessions: u64,
    /// People reached (distinct), attendances and outcomes over the whole period.
    pub totals: Counts,
    /// Distinct people with at least one achieved outcome.
    pub people_confirmed: u64,
    pub breakdowns: Vec<BreakdownTable>,
    pub targets: Vec<TargetProgress>,
}

fn age_band(age: i32) -> &'static str {
    match age {
        i32::MIN..=17 => "Dưới 18",
        18..=35 => "18–35",
        36..=59 => "36–59",
        _ => "60 trở lên",
    }
}

fn commune_name(code: &str) -> String {
    admin_units()
        .commune(code)
        .map_or_else(|| code.to_owned(), |(_, c)| c.name.clone())
}

fn province_name(commune_code: &str) -> String {
    admin_units()
        .commune(commune_code)
        .map_or_else(|| "?".to_owned(), |(p, _)| p.name.clone())
}

#[derive(Default)]
struct Acc {
    people: HashSet<CitizenId>,
    counts: Counts,
}

/// Builds the report. Attendances whose session is outside the period, deleted, or unknown are
/// left out; so are attendances of unknown citizens.
pub fn build(input: &ReportInput, options: &ReportOptions) -> Report {
    let in_period = |s: &SessionV1| {
        options.from.as_deref().is_none_or(|f| s.date.as_str() >= f)
            && options.to.as_deref().is_none_or(|t| s.date.as_str() <= t)
    };
    let by: Vec<Breakdown> = if options.by.is_empty() {
        Breakdown::ALL.to_vec()
    } else {
        options.by.clone()
    };
    let mut tables: BTreeMap<Breakdown, BTreeMap<String, Acc>> = BTreeMap::new();
    let mut total = Acc::default();
    let mut confirmed: HashSet<CitizenId> = HashSet::new();
    let mut reached_by_commune: HashMap<String, HashSet<CitizenId>> = HashMap::new();
    let mut confirmed_by_commune: HashMap<String, HashSet<CitizenId>> = HashMap::new();
    let mut sessions_seen: HashSet<SessionId> = HashSet::new();

    for a in input.attendances.iter().filter(|a| a.present) {
        let (Some(session), Some(citizen)) = (
            input.sessions.get(&a.session_id),
            input.citizens.get(&a.citizen_id),
        ) else {
            continue;
        };
        if !in_period(session) {
            continue;
        }
        sessions_seen.insert(session.id);
        let taught = a
            .outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::Taught)
            .count() as u64;
        let achieved = a
            .outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::Achieved)
            .count() as u64;
        let add = |acc: &mut Acc, taught: u64, achieved: u64| {
            acc.people.insert(citizen.id);
            acc.counts.attendances += 1;
            acc.counts.taught += taught;
            acc.counts.achieved += achieved;
        };
        add(&mut total, taught, achieved);
        reached_by_commune
            .entry(citizen.commune_code.clone())
            .or_default()
            .insert(citizen.id);
        if achieved > 0 {
            confirmed.insert(citizen.id);
            confirmed_by_commune
                .entry(citizen.commune_code.clone())
                .or_default()
                .insert(citizen.id);
        }
        let session_year: i32 = session.date[..4].parse().unwrap_or(citizen.birth_year);
        for &b in &by {
            let table = tables.entry(b).or_default();
            if b == Breakdown::Skill {
                for o in &a.outcomes {
                    let name = input
                        .catalogue
                        .as_ref()
                        .unwrap_or_else(|| skills())
                        .skill(&o.skill)
                        .map_or_else(|| o.skill.clone(), |s| format!("{} {}", s.code, s.name_vi));
                    let (t, ach) = match o.outcome {
                        Outcome::Taught => (1, 0),
                        Outcome::Achieved => (0, 1),
                    };
                    add(table.entry(name).or_default(), t, ach);
                }
                continue;
            }
            let group = match b {
                Breakdown::Gender => gender_vi(citizen.gender).to_owned(),
                Breakdown::Age => age_band(session_year - citizen.birth_year).to_owned(),
                Breakdown::Village => citizen.village.clone(),
                Breakdown::Commune => commune_name(&citizen.commune_code),
                Breakdown::Province => province_name(&citizen.commune_code),
                Breakdown::Team => input
                    .team_names
                    .get(&session.team_id)
                    .cloned()
                    .unwrap_or_else(|| session.team_id.to_string()),
                Breakdown::Month => session.date[..7].to_owned(),
                Breakdown::Skill => unreachable!("handled above"),
            };
            add(table.entry(group).or_default(), taught, achieved);
        }
    }

    let finish = |acc: &Acc| Counts {
        people: acc.people.len() as u64,
        ..acc.counts.clone()
    };
    let breakdowns = by
        .iter()
        .map(|b| {
            let mut rows: Vec<BreakdownRow> = tables
                .get(b)
                .map(|t| {
                    t.iter()
                        .map(|(group, acc)| BreakdownRow {
                            group: group.clone(),
                            counts: finish(acc),
                        })
                        .collect()
                })
                .unwrap_or_default();
            if matches!(
                b,
                Breakdown::Village | Breakdown::Commune | Breakdown::Team | Breakdown::Province
            ) {
                rows.sort_by(|x, y| crate::text::compare_vi(&x.group, &y.group));
            }
            BreakdownTable {
                breakdown: *b,
                title: b.title_vi().to_owned(),
                rows,
            }
        })
        .collect();
    let pct = |n: u64, of: u64| {
        if of == 0 {
            0.0
        } else {
            (n as f64 * 1000.0 / of as f64).round() / 10.0
        }
    };
    let targets = input
        .targets
        .iter()
        .map(|t| {
            let reached = reached_by_commune
                .get(&t.commune_code)
                .map_or(0, |s| s.len() as u64);
            let conf = confirmed_by_commune
                .get(&t.commune_code)
                .map_or(0, |s| s.len() as u64);
            let (reached_pct, confirmed_pct) = (
                pct(reached, t.adult_population),
                pct(conf, t.adult_population),
            );
            TargetProgress {
                commune_code: t.commune_code.clone(),
                commune_name: commune_name(&t.commune_code),
                adult_population: t.adult_population,
                reached,
                reached_pct,
                basic_target_pct: t.basic_pct,
                basic_met: reached_pct >= f64::from(t.basic_pct),
                confirmed: conf,
                confirmed_pct,
                confirmed_target_pct: t.confirmed_pct,
                confirmed_met: confirmed_pct >= f64::from(t.confirmed_pct),
            }
        })
        .collect();
    Report {
        from: options.from.clone(),
        to: options.to.clone(),
        sessions: sessions_seen.len() as u64,
        totals: finish(&total),
        people_confirmed: confirmed.len() as u64,
        breakdowns,
        targets,
    }
}

/// Collects report input from merged entity states (`sotay_protocol::merge::EntityState` as
/// JSON, by entity name), as both the laptop and the server store them. Deleted entities and
/// states that do not decode are left out.
pub fn input_from_states<'a>(
    states: impl IntoIterator<Item = (&'a str, &'a str)>,
    team_names: HashMap<TeamId, String>,
    targets: Vec<CommuneTarget>,
) -> ReportInput {
    use sotay_protocol::merge::EntityState;
    use sotay_protocol::{Entity, Payload};
    let mut input = ReportInput {
        team_names,
        targets,
        ..Default::default()
    };
    for (entity, state) in states {
        let (Some(entity), Ok(state)) = (
            Entity::parse(entity),
            serde_json::from_str::<EntityState>(state),
        ) else {
            continue;
        };
        if state.is_deleted() {
            continue;
        }
        match Payload::decode(entity, 1, state.payload()) {
            Ok(Payload::Citizen(c)) => {
                input.citizens.insert(c.id, c);
            }
            Ok(Payload::Session(s)) => {
                input.sessions.insert(s.id, s);
            }
            Ok(Payload::Attendance(a)) => input.attendances.push(a),
            Ok(Payload::Team(t)) => {
                input.team_names.entry(t.id).or_insert(t.name);
            }
            _ => {}
        }
    }
    input
}

/// A cell that a spreadsheet would read as a formula gets a leading apostrophe.
pub fn csv_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> CoreError {
    CoreError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

const METRICS: [&str; 4] = ["Số người", "Lượt tham dự", "Lượt hướng dẫn", "Lượt đạt"];

fn metric_values(c: &Counts) -> [u64; 4] {
    [c.people, c.attendances, c.taught, c.achieved]
}

pub fn write_json(report: &Report, out: &Path) -> CoreResult<()> {
    let json = serde_json::to_vec_pretty(report).expect("reports serialise");
    std::fs::write(out, json).map_err(|e| file_error(out, e))
}

/// Long format, one value a row, so one file holds every breakdown and the targets.
pub fn write_csv(report: &Report, out: &Path) -> CoreResult<()> {
    let mut w = csv::Writer::from_path(out).map_err(|e| file_error(out, e))?;
    let mut row = |a: &str, b: &str, c: &str, v: String| {
        w.write_record([csv_safe(a), csv_safe(b), csv_safe(c), v])
            .map_err(|e| file_error(out, e))
    };
    row("Phân tích", "Nhóm", "Chỉ số", "Giá trị".into())?;
    for (m, v) in METRICS.iter().zip(metric_values(&report.totals)) {
        row("Tổng", "Tất cả", m, v.to_string())?;
    }
    row(
        "Tổng",
        "Tất cả",
        "Số người có kết quả đạt",
        report.people_confirmed.to_string(),
    )?;
    row("Tổng", "Tất cả", "Số buổi", report.sessions.to_string())?;
    for t in &report.breakdowns {
        for r in &t.rows {
            for (m, v) in METRICS.iter().zip(metric_values(&r.counts)) {
                row(&t.title, &r.group, m, v.to_string())?;
            }
        }
    }
    for t in &report.targets {
        let g = &t.commune_name;
        row(
            "Chỉ tiêu",
            g,
            "Dân số trưởng thành",
            t.adult_population.to_string(),
        )?;
        row("Chỉ tiêu", g, "Đã tiếp cận", t.reached.to_string())?;
        row(
            "Chỉ tiêu",
            g,
            "Tỷ lệ tiếp cận (%)",
            t.reached_pct.to_string(),
        )?;
        row(
            "Chỉ tiêu",
            g,
            "Chỉ tiêu kỹ năng cơ bản (%)",
            t.basic_target_pct.to_string(),
        )?;
        row("Chỉ tiêu", g, "Đã xác nhận", t.confirmed.to_string())?;
        row(
            "Chỉ tiêu",
            g,
            "Tỷ lệ xác nhận (%)",
            t.confirmed_pct.to_string(),
        )?;
        row(
            "Chỉ tiêu",
            g,
            "Chỉ tiêu xác nhận (%)",
            t.confirmed_target_pct.to_string(),
        )?;
    }
    w.flush().map_err(|e| file_error(out, e))
}

pub fn write_xlsx(report: &Report, out: &Path) -> CoreResult<()> {
    use rust_xlsxwriter::{Format, Workbook};
    let xerr = |e: rust_xlsxwriter::XlsxError| file_error(out, e);
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.0");
    let mut book = Workbook::new();

    let sheet = book.add_worksheet().set_name("Tổng quan").map_err(xerr)?;
    sheet
        .write_string_with_format(0, 0, "BÁO CÁO BÌNH DÂN HỌC VỤ SỐ", &bold)
        .map_err(xerr)?;
    let period = format!(
        "Từ {} đến {}",
        report.from.as_deref().unwrap_or("đầu"),
        report.to.as_deref().unwrap_or("nay")
    );
    sheet.write_string(1, 0, &period).map_err(xerr)?;
    let totals = [
        ("Số buổi", report.sessions),
        ("Số người được tiếp cận", report.totals.people),
        ("Số người có kết quả đạt", report.people_confirmed),
        ("Lượt tham dự", report.totals.attendances),
        ("Lượt hướng dẫn", report.totals.taught),
        ("Lượt đạt", report.totals.achieved),
    ];
    for (i, (label, v)) in totals.iter().enumerate() {
        sheet.write_string(3 + i as u32, 0, *label).map_err(xerr)?;
        sheet
            .write_number(3 + i as u32, 1, *v as f64)
            .map_err(xerr)?;
    }
    sheet.set_column_width(0, 30).map_err(xerr)?;

    for t in &report.breakdowns {
        // Sheet names are at most 31 characters; the titles are shorter.
        let sheet = book.add_worksheet().set_name(&t.title).map_err(xerr)?;
        sheet
            .write_string_with_format(0, 0, t.breakdown.group_header_vi(), &bold)
            .map_err(xerr)?;
        for (c, m) in METRICS.iter().enumerate() {
            sheet
                .write_string_with_format(0, 1 + c as u16, *m, &bold)
                .map_err(xerr)?;
        }
        for (r, row) in t.rows.iter().enumerate() {
            let r = 1 + r as u32;
            // write_string stores text, never a formula, whatever the text starts with.
            sheet.write_string(r, 0, &row.group).map_err(xerr)?;
            for (c, v) in metric_values(&row.counts).iter().enumerate() {
                sheet
                    .write_number(r, 1 + c as u16, *v as f64)
                    .map_err(xerr)?;
            }
        }
        sheet.set_column_width(0, 40).map_err(xerr)?;
        sheet.set_column_range_width(1, 4, 16).map_err(xerr)?;
    }

    if !report.targets.is_empty() {
        let sheet = book.add_worksheet().set_name("Chỉ tiêu").map_err(xerr)?;
        let headers = [
            "Xã/Phường",
            "Dân số trưởng thành",
            "Đã tiếp cận",
            "Tỷ lệ tiếp cận (%)",
            "Chỉ tiêu kỹ năng cơ bản (%)",
            "Đạt chỉ tiêu",
            "Đã xác nhận",
            "Tỷ lệ xác nhận (%)",
            "Chỉ tiêu xác nhận (%)",
            "Đạt chỉ tiêu",
        ];
        for (c, h) in headers.iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, *h, &bold)
                .map_err(xerr)?;
        }
        let yes_no = |b: bool| if b { "Đạt" } else { "Chưa đạt" };
        for (r, t) in report.targets.iter().enumerate() {
            let r = 1 + r as u32;
            sheet.write_string(r, 0, &t.commune_name).map_err(xerr)?;
            sheet
                .write_number(r, 1, t.adult_population as f64)
                .map_err(xerr)?;
            sheet.write_number(r, 2, t.reached as f64).map_err(xerr)?;
            sheet
                .write_number_with_format(r, 3, t.reached_pct, &percent)
                .map_err(xerr)?;
            sheet
                .write_number(r, 4, f64::from(t.basic_target_pct))
                .map_err(xerr)?;
            sheet
                .write_string(r, 5, yes_no(t.basic_met))
                .map_err(xerr)?;
            sheet.write_number(r, 6, t.confirmed as f64).map_err(xerr)?;
            sheet
                .write_number_with_format(r, 7, t.confirmed_pct, &percent)
                .map_err(xerr)?;
            sheet
                .write_number(r, 8, f64::from(t.confirmed_target_pct))
                .map_err(xerr)?;
            sheet
                .write_string(r, 9, yes_no(t.confirmed_met))
                .map_err(xerr)?;
        }
        sheet.set_column_width(0, 30).map_err(xerr)?;
        sheet.set_column_range_width(1, 9, 18).map_err(xerr)?;
    }
    book.save(out).map_err(xerr)
}

impl crate::Store {
    /// Sets (or replaces) a commune's adult population and targets.
    pub fn set_target(&mut self, target: &CommuneTarget) -> CoreResult<()> {
        if admin_units().commune(&target.commune_code).is_none() {
            return Err(CoreError::invalid(
                crate::validate::Field::Commune,
                format!("mã xã “{}” không có trong danh mục", target.commune_code),
            ));
        }
        if target.adult_population == 0 || target.basic_pct > 100 || target.confirmed_pct > 100 {
            return Err(CoreError::invalid(
                crate::validate::Field::Commune,
                "dân số phải lớn hơn 0, chỉ tiêu từ 0 đến 100 %",
            ));
        }
        self.conn.execute(
            "INSERT INTO commune_target (commune_code, adult_population, basic_pct, confirmed_pct,
                                         updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (commune_code) DO UPDATE SET adult_population = excluded.adult_population,
                 basic_pct = excluded.basic_pct, confirmed_pct = excluded.confirmed_pct,
                 updated_at = excluded.updated_at",
            rusqlite::params![
                target.commune_code,
                target.adult_population as i64,
                target.basic_pct,
                target.confirmed_pct,
                crate::outbox::now_rfc3339()
            ],
        )?;
        Ok(())
    }

    pub fn targets(&self) -> CoreResult<Vec<CommuneTarget>> {
        let mut stmt = self.conn.prepare(
            "SELECT commune_code, adult_population, basic_pct, confirmed_pct FROM commune_target
             ORDER BY commune_code",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(CommuneTarget {
                commune_code: r.get(0)?,
                adult_population: r.get::<_, i64>(1)? as u64,
                basic_pct: r.get(2)?,
                confirmed_pct: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The report over everything this laptop holds: its own records and those pulled from the
    /// team's other laptops.
    pub fn report(&self, options: &ReportOptions) -> CoreResult<Report> {
        let mut stmt = self.conn.prepare(
            "SELECT entity, state FROM entity_state
             WHERE entity IN ('citizen', 'session', 'attendance', 'team')",
        )?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut input = input_from_states(
            rows.iter().map(|(e, s)| (e.as_str(), s.as_str())),
            HashMap::new(),
            self.targets()?,
        );
        input.catalogue = Some(self.catalogue()?.into_owned());
        Ok(build(&input, options))
    }

    /// The citizen register as CSV or XLSX, in class-list order, with phone and CCCD masked to
    /// their last 3 digits unless `show_personal` is set.
    pub fn export_citizens(
        &self,
        out: &Path,
        xlsx: bool,
        show_personal: bool,
    ) -> CoreResult<usize> {
        let citizens = self.list_citizens(crate::citizens::CitizenSort::GivenName)?;
        let mask = |v: &Option<String>| match v {
            Some(v) if show_personal => v.clone(),
            Some(v) => crate::sheet::mask_phone(v),
            None => String::new(),
        };
        let headers = [
            "STT",
            "Họ và tên",
            "Giới tính",
            "Năm sinh",
            "Ngày sinh",
            "Thôn/Xóm",
            "Xã/Phường",
            "Số điện thoại",
            "Số CCCD",
            "Ghi chú",
        ];
        let rows: Vec<[String; 10]> = citizens
            .iter()
            .enumerate()
            .map(|(i, c)| {
                [
                    (i + 1).to_string(),
                    c.full_name.clone(),
                    gender_vi(c.gender).to_owned(),
                    c.birth_year.to_string(),
                    c.birth_date.clone().unwrap_or_default(),
                    c.village.clone(),
                    commune_name(&c.commune_code),
                    mask(&c.phone),
                    mask(&c.cccd),
                    c.note.clone().unwrap_or_default(),
                ]
            })
            .collect();
        if xlsx {
            use rust_xlsxwriter::{Format, Workbook};
            let xerr = |e: rust_xlsxwriter::XlsxError| file_error(out, e);
            let mut book = Workbook::new();
            let sheet = book.add_worksheet().set_name("Người dân").map_err(xerr)?;
            let bold = Format::new().set_bold();
            for (c, h) in headers.iter().enumerate() {
                sheet
                    .write_string_with_format(0, c as u16, *h, &bold)
                    .map_err(xerr)?;
            }
            for (r, row) in rows.iter().enumerate() {
                let r = 1 + r as u32;
                for (c, v) in row.iter().enumerate() {
                    if c == 0 || c == 3 {
                        sheet
                            .write_number(r, c as u16, v.parse::<f64>().unwrap_or(0.0))
                            .map_err(xerr)?;
                    } else {
                        sheet.write_string(r, c as u16, v).map_err(xerr)?;
                    }
                }
            }
            sheet.set_column_width(1, 28).map_err(xerr)?;
            book.save(out).map_err(xerr)?;
        } else {
            let mut w = csv::Writer::from_path(out).map_err(|e| file_error(out, e))?;
            w.write_record(headers).map_err(|e| file_error(out, e))?;
            for row in &rows {
                w.write_record(row.iter().map(|v| csv_safe(v)))
                    .map_err(|e| file_error(out, e))?;
            }
            w.flush().map_err(|e| file_error(out, e))?;
        }
        Ok(rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_cells_are_neutralised() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("+84"), "'+84");
        assert_eq!(csv_safe("-1"), "'-1");
        assert_eq!(csv_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_safe("Nguyễn"), "Nguyễn");
    }

    #[test]
    fn age_bands_follow_the_report_convention() {
        assert_eq!(age_band(17), "Dưới 18");
        assert_eq!(age_band(18), "18–35");
        assert_eq!(age_band(35), "18–35");
        assert_eq!(age_band(36), "36–59");
        assert_eq!(age_band(60), "60 trở lên");
    }
}
