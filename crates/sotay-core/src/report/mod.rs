//! Progress reports: counts by skill and outcome, gender, age band, village, commune, province,
//! team and month; distinct people reached against attendances; progress of each commune against
//! its targets. This module owns the report's types and `build`, a pure function of decoded
//! records, so the laptop (its own and pulled records) and the server (everything synced) produce
//! the same report from the same data. Decoding stored states into input is in `states`, commune
//! targets and the store's report in `targets`, and the JSON, CSV and XLSX files in `writers`.

mod states;
mod tables;
mod targets;
mod writers;

pub use states::input_from_states;
pub(crate) use tables::outcomes_column;
#[cfg(test)]
pub(crate) use tables::outcomes_from_column;
pub(crate) use writers::file_error;
pub use writers::{csv_safe, write_csv, write_json, write_xlsx};

use crate::refdata::{admin_units, skills};
use crate::validate::gender_vi;
use serde::Serialize;
use sotay_protocol::{AttendanceV2, CitizenId, CitizenV1, Outcome, SessionId, SessionV1, TeamId};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
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

/// The headline numbers and what each one counts: written into every XLSX report beside the
/// numbers, and the same words the app's home screen uses.
pub const DEFINITIONS: [(&str, &str); 6] = [
    ("Số buổi", "Buổi hướng dẫn trong kỳ."),
    (
        "Số người được tiếp cận",
        "Số người khác nhau đã dự ít nhất một buổi trong kỳ; mỗi người chỉ tính một lần.",
    ),
    (
        "Số người có kết quả đạt",
        "Số người khác nhau có ít nhất một kỹ năng hoặc dịch vụ được ghi “đạt” (tự làm được, \
         ví dụ đã kích hoạt VNeID mức 1): số “đã xác nhận” so với chỉ tiêu.",
    ),
    (
        "Lượt tham dự",
        "Mỗi người ở mỗi buổi tính một lượt; một người dự ba buổi là ba lượt.",
    ),
    (
        "Lượt kỹ năng đã hướng dẫn, chưa đạt",
        "Mỗi (người, kỹ năng) được hướng dẫn ở một buổi mà chưa đạt tính một lượt.",
    ),
    (
        "Lượt kỹ năng đạt",
        "Mỗi (người, kỹ năng) được ghi “đạt” ở một buổi tính một lượt; một người đạt hai kỹ \
         năng là hai lượt.",
    ),
];

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
    pub attendances: Vec<AttendanceV2>,
    pub team_names: HashMap<TeamId, String>,
    pub targets: Vec<CommuneTarget>,
    /// Skill names; the compiled-in catalogue when None.
    pub catalogue: Option<crate::refdata::SkillCatalogue>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct Counts {
    /// Distinct people.
    pub people: u64,
    pub attendances: u64,
    /// Skill outcomes "taught" (shown how).
    pub taught: u64,
    /// Skill outcomes "achieved" (done on their own, e.g. VNeID activated).
    pub achieved: u64,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct BreakdownRow {
    pub group: String,
    #[serde(flatten)]
    #[ts(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct BreakdownTable {
    pub breakdown: Breakdown,
    pub title: String,
    pub rows: Vec<BreakdownRow>,
}

/// A commune's progress against its targets over the report's period.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(rename = "CommuneProgress")]
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

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
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

/// `part` in percent of `whole`, to one decimal; 0 when there is no whole.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

fn age_band(age: i32) -> &'static str {
    match age {
        i32::MIN..=17 => "Dưới 18",
        18..=35 => "18–35",
        36..=59 => "36–59",
        _ => "60 trở lên",
    }
}

pub(crate) fn commune_name(code: &str) -> String {
    admin_units()
        .commune(code)
        .map_or_else(|| code.to_owned(), |(_, c)| c.name.clone())
}

fn province_name(commune_code: &str) -> String {
    admin_units()
        .commune(commune_code)
        .map_or_else(|| "?".to_owned(), |(p, _)| p.name.clone())
}

/// The report's counting maps: one lookup per attendance and breakdown, so the hasher counts.
/// foldhash is seeded per process, as std's SipHash is, and several times faster.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

#[derive(Default)]
struct Acc {
    /// The people counted, by their index in the report's input (distinct people per group).
    people: FastSet<u32>,
    counts: Counts,
}

/// What the breakdowns group a person by, worked out once per person instead of once per
/// attendance and breakdown.
struct Person<'a> {
    citizen: &'a CitizenV1,
    commune: String,
    province: String,
}

/// One breakdown's groups, each found by name once and then by its slot.
#[derive(Default)]
struct Groups<'a> {
    slots: FastMap<&'a str, usize>,
    rows: Vec<(&'a str, Acc)>,
}

impl<'a> Groups<'a> {
    fn slot(&mut self, name: &'a str) -> usize {
        let rows = &mut self.rows;
        *self.slots.entry(name).or_insert_with(|| {
            rows.push((name, Acc::default()));
            rows.len() - 1
        })
    }
}

/// The group of breakdown `b` a person or a session falls in, where it depends on them alone.
fn fixed_group<'a>(
    b: Breakdown,
    person: &'a Person,
    session: &'a (&SessionV1, String),
) -> Option<&'a str> {
    let citizen = person.citizen;
    Some(match b {
        Breakdown::Gender => gender_vi(citizen.gender),
        Breakdown::Village => &citizen.village,
        Breakdown::Commune => &person.commune,
        Breakdown::Province => &person.province,
        Breakdown::Team => &session.1,
        Breakdown::Month => &session.0.date[..7],
        Breakdown::Skill | Breakdown::Age => return None,
    })
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
    let people: Vec<Person> = input
        .citizens
        .values()
        .map(|citizen| Person {
            citizen,
            commune: commune_name(&citizen.commune_code),
            province: province_name(&citizen.commune_code),
        })
        .collect();
    let person_at: FastMap<CitizenId, usize> = people
        .iter()
        .enumerate()
        .map(|(i, p)| (p.citizen.id, i))
        .collect();
    let sessions: Vec<(&SessionV1, String)> = input
        .sessions
        .values()
        .filter(|s| in_period(s))
        .map(|s| {
            let team = input
                .team_names
                .get(&s.team_id)
                .cloned()
                .unwrap_or_else(|| s.team_id.to_string());
            (s, team)
        })
        .collect();
    let session_at: FastMap<SessionId, usize> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| (s.0.id, i))
        .collect();
    let catalogue = input.catalogue.as_ref().unwrap_or_else(|| skills());
    let skill_names: FastMap<&str, String> = catalogue
        .skills
        .iter()
        .map(|s| (s.code.as_str(), format!("{} {}", s.code, s.name_vi)))
        .collect();
    let mut tables: Vec<(Breakdown, Groups)> = by.iter().map(|b| (*b, Groups::default())).collect();
    // Each person's and session's slot in every breakdown that depends on them alone, found
    // once here instead of by name for every attendance.
    let mut person_slots: Vec<Vec<usize>> = vec![Vec::new(); people.len()];
    let mut session_slots: Vec<Vec<usize>> = vec![Vec::new(); sessions.len()];
    let mut total = Acc::default();
    let mut confirmed: FastSet<u32> = FastSet::default();
    let mut reached_by_commune: FastMap<&str, FastSet<u32>> = FastMap::default();
    let mut confirmed_by_commune: FastMap<&str, FastSet<u32>> = FastMap::default();
    let mut sessions_seen: FastSet<SessionId> = FastSet::default();

    for a in input.attendances.iter().filter(|a| a.present) {
        let (Some(&s), Some(&p)) = (session_at.get(&a.session_id), person_at.get(&a.citizen_id))
        else {
            continue;
        };
        let (session, person) = (&sessions[s], &people[p]);
        let citizen = person.citizen;
        let index = p as u32;
        sessions_seen.insert(session.0.id);
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
            acc.people.insert(index);
            acc.counts.attendances += 1;
            acc.counts.taught += taught;
            acc.counts.achieved += achieved;
        };
        add(&mut total, taught, achieved);
        reached_by_commune
            .entry(citizen.commune_code.as_str())
            .or_default()
            .insert(index);
        if achieved > 0 {
            confirmed.insert(index);
            confirmed_by_commune
                .entry(citizen.commune_code.as_str())
                .or_default()
                .insert(index);
        }
        let (fill_person, fill_session) = (person_slots[p].is_empty(), session_slots[s].is_empty());
        if fill_person || fill_session {
            // Every group found here gets this attendance below: none is left empty.
            for (b, groups) in tables.iter_mut() {
                let slot = fixed_group(*b, person, session).map_or(usize::MAX, |g| groups.slot(g));
                let on_session = matches!(b, Breakdown::Team | Breakdown::Month);
                if fill_person {
                    person_slots[p].push(if on_session { usize::MAX } else { slot });
                }
                if fill_session {
                    session_slots[s].push(if on_session { slot } else { usize::MAX });
                }
            }
        }
        let session_year: i32 = session.0.date[..4].parse().unwrap_or(citizen.birth_year);
        for (k, (b, groups)) in tables.iter_mut().enumerate() {
            let slot = match b {
                Breakdown::Skill => {
                    for o in &a.outcomes {
                        let name = skill_names
                            .get(o.skill.as_str())
                            .map_or(o.skill.as_str(), String::as_str);
                        let (t, ach) = match o.outcome {
                            Outcome::Taught => (1, 0),
                            Outcome::Achieved => (0, 1),
                        };
                        let slot = groups.slot(name);
                        add(&mut groups.rows[slot].1, t, ach);
                    }
                    continue;
                }
                Breakdown::Age => groups.slot(age_band(session_year - citizen.birth_year)),
                Breakdown::Team | Breakdown::Month => session_slots[s][k],
                _ => person_slots[p][k],
            };
            add(&mut groups.rows[slot].1, taught, achieved);
        }
    }

    let finish = |acc: &Acc| Counts {
        people: acc.people.len() as u64,
        ..acc.counts.clone()
    };
    let breakdowns = tables
        .into_iter()
        .map(|(b, table)| {
            let mut rows: Vec<BreakdownRow> = table
                .rows
                .iter()
                .map(|(group, acc)| BreakdownRow {
                    group: (*group).to_owned(),
                    counts: finish(acc),
                })
                .collect();
            rows.sort_by(|x, y| x.group.cmp(&y.group));
            if matches!(
                b,
                Breakdown::Village | Breakdown::Commune | Breakdown::Team | Breakdown::Province
            ) {
                rows.sort_by(|x, y| crate::text::compare_vi(&x.group, &y.group));
            }
            BreakdownTable {
                breakdown: b,
                title: b.title_vi().to_owned(),
                rows,
            }
        })
        .collect();
    let targets = input
        .targets
        .iter()
        .map(|t| {
            let reached = reached_by_commune
                .get(t.commune_code.as_str())
                .map_or(0, |s| s.len() as u64);
            let conf = confirmed_by_commune
                .get(t.commune_code.as_str())
                .map_or(0, |s| s.len() as u64);
            let (reached_pct, confirmed_pct) = (
                percent(reached, t.adult_population),
                percent(conf, t.adult_population),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_a_percentage_to_one_decimal() {
        assert_eq!(percent(28, 56), 50.0);
        assert_eq!(percent(5, 56), 8.9);
        assert_eq!(percent(56, 56), 100.0);
        assert_eq!(percent(3, 0), 0.0, "no population, no division by zero");
    }

    #[test]
    fn each_breakdown_counts_attendances_outcomes_and_distinct_people_per_group() {
        use sotay_protocol::{ConsentV1, Gender, SkillOutcomeV2, TeamId};
        let team = TeamId::new();
        let person = |name: &str, gender, birth_year, village: &str| CitizenV1 {
            id: CitizenId::new(),
            team_id: team,
            full_name: name.into(),
            gender,
            birth_year,
            birth_date: None,
            village: village.into(),
            commune_code: "14758".into(),
            phone: None,
            cccd: None,
            groups: Vec::new(),
            consent: ConsentV1 {
                given: true,
                date: "2026-01-01".into(),
                recorded_by: "Lê Thị Hoa".into(),
            },
            note: None,
            merged_into: None,
        };
        let session = |date: &str| SessionV1 {
            id: SessionId::new(),
            team_id: team,
            date: date.into(),
            time: None,
            place: "Nhà văn hóa".into(),
            village: None,
            commune_code: "14758".into(),
            volunteers: Vec::new(),
            skills: vec!["0.1".into(), "VNEID1".into()],
            note: None,
        };
        let (an, binh, lan) = (
            person("Trần Văn An", Gender::Male, 2010, "Thôn Đông"),
            person("Mai Văn Bình", Gender::Male, 1950, "Thôn Đông"),
            person("Nguyễn Thị Lan", Gender::Female, 1980, "Thôn Tây"),
        );
        let (october, november) = (session("2026-10-03"), session("2026-11-20"));
        let came =
            |s: &SessionV1, c: &CitizenV1, present, outcomes: &[(&str, Outcome)]| AttendanceV2 {
                session_id: s.id,
                citizen_id: c.id,
                present,
                outcomes: outcomes
                    .iter()
                    .map(|(skill, outcome)| SkillOutcomeV2 {
                        skill: (*skill).into(),
                        outcome: *outcome,
                        confirmed_by: None,
                        confirmed_on: None,
                    })
                    .collect(),
            };
        let (taught, achieved) = (Outcome::Taught, Outcome::Achieved);
        let input = ReportInput {
            attendances: vec![
                came(
                    &october,
                    &an,
                    true,
                    &[("0.1", taught), ("VNEID1", achieved)],
                ),
                came(&october, &binh, true, &[("0.1", taught)]),
                came(&october, &lan, false, &[("0.1", taught)]),
                came(&november, &binh, true, &[("VNEID1", achieved)]),
                came(&november, &lan, true, &[]),
            ],
            citizens: [&an, &binh, &lan].map(|c| (c.id, c.clone())).into(),
            sessions: [&october, &november].map(|s| (s.id, s.clone())).into(),
            team_names: [(team, "Đội Hàm Rồng".to_owned())].into(),
            ..Default::default()
        };
        let report = build(&input, &ReportOptions::default());
        assert_eq!(report.totals.people, 3);
        assert_eq!(report.totals.attendances, 4, "the absent one is left out");
        assert_eq!(report.sessions, 2);
        assert_eq!(report.people_confirmed, 2);
        let rows = |b: Breakdown| -> Vec<(String, u64, u64, u64, u64)> {
            report
                .breakdowns
                .iter()
                .find(|t| t.breakdown == b)
                .unwrap()
                .rows
                .iter()
                .map(|r| {
                    let c = &r.counts;
                    (
                        r.group.clone(),
                        c.people,
                        c.attendances,
                        c.taught,
                        c.achieved,
                    )
                })
                .collect()
        };
        let row = |g: &str, p, a, t, ach| (g.to_owned(), p, a, t, ach);
        assert_eq!(
            rows(Breakdown::Village),
            [row("Thôn Đông", 2, 3, 2, 2), row("Thôn Tây", 1, 1, 0, 0)]
        );
        assert_eq!(
            rows(Breakdown::Month),
            [row("2026-10", 2, 2, 2, 1), row("2026-11", 2, 2, 0, 1)]
        );
        assert_eq!(
            rows(Breakdown::Gender),
            [row("Nam", 2, 3, 2, 2), row("Nữ", 1, 1, 0, 0)]
        );
        assert_eq!(
            rows(Breakdown::Age),
            [
                row("36–59", 1, 1, 0, 0),
                row("60 trở lên", 1, 2, 1, 1),
                row("Dưới 18", 1, 1, 1, 1),
            ]
        );
        let skills = rows(Breakdown::Skill);
        assert_eq!(skills.len(), 2, "{skills:?}");
        assert!(skills[0].0.starts_with("0.1 ") && skills[0].1 == 2 && skills[0].3 == 2);
        assert!(skills[1].0.starts_with("VNEID1 ") && skills[1].1 == 2 && skills[1].4 == 2);
        assert_eq!(rows(Breakdown::Team), [row("Đội Hàm Rồng", 3, 4, 2, 2)]);
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
