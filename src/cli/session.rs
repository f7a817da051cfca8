//! `sotay session`: record a session with its attendance and outcomes, correct it, list and show
//! sessions.

use super::Ctx;
use anyhow::Context;
use clap::{Args, Subcommand};
use sotay_core::{AttendeeInput, SessionDetail, SessionInput};
use sotay_protocol::{CitizenId, Outcome, SessionId};

#[derive(Subcommand)]
pub enum SessionCommand {
    /// Record a session with its attendance and outcomes.
    Add(SessionAddArgs),
    /// Correct a past session: what is not given stays as it is.
    Edit(SessionEditArgs),
    Show {
        id: SessionId,
    },
    List,
}

#[derive(Args)]
pub struct SessionEditArgs {
    id: SessionId,
    /// YYYY-MM-DD
    #[arg(long)]
    date: Option<String>,
    /// HH:MM
    #[arg(long)]
    time: Option<String>,
    #[arg(long)]
    place: Option<String>,
    #[arg(long)]
    village: Option<String>,
    /// Skill codes, comma-separated: replaces the session's skills.
    #[arg(long, value_delimiter = ',')]
    skills: Option<Vec<String>>,
    /// A citizen ID to add to the attendance; repeat for each.
    #[arg(long = "add")]
    add: Vec<CitizenId>,
    /// A citizen ID written down by mistake: removed from the attendance.
    #[arg(long = "remove")]
    remove: Vec<CitizenId>,
    /// CITIZEN_ID:SKILL_CODE the citizen achieved; repeat as needed.
    #[arg(long = "achieved")]
    achieved: Vec<String>,
    /// CITIZEN_ID:SKILL_CODE marked achieved by mistake: only taught.
    #[arg(long = "not-achieved")]
    not_achieved: Vec<String>,
    #[arg(long)]
    note: Option<String>,
}

/// The session's form as it stands with the corrections asked for applied.
fn corrected(mut form: SessionInput, a: SessionEditArgs) -> anyhow::Result<SessionInput> {
    form.date = a.date.unwrap_or(form.date);
    form.time = a.time.or(form.time);
    form.place = a.place.unwrap_or(form.place);
    form.village = a.village.or(form.village);
    form.skills = a.skills.unwrap_or(form.skills);
    form.note = a.note.or(form.note);
    form.attendees.retain(|x| !a.remove.contains(&x.citizen_id));
    for id in a.add {
        if !form.attendees.iter().any(|x| x.citizen_id == id) {
            form.attendees.push(AttendeeInput {
                citizen_id: id,
                achieved: Vec::new(),
            });
        }
    }
    for (pairs, achieved) in [(&a.achieved, true), (&a.not_achieved, false)] {
        for pair in pairs {
            let (id, code) = citizen_skill(pair)?;
            let attendee = form
                .attendees
                .iter_mut()
                .find(|x| x.citizen_id == id)
                .with_context(|| format!("“{pair}”: người này không có trong buổi"))?;
            attendee.achieved.retain(|c| *c != code);
            if achieved {
                attendee.achieved.push(code);
            }
        }
    }
    Ok(form)
}

/// `CITIZEN_ID:SKILL_CODE` from `--achieved` and `--not-achieved`.
fn citizen_skill(pair: &str) -> anyhow::Result<(CitizenId, String)> {
    let (id, code) = pair
        .split_once(':')
        .with_context(|| format!("“{pair}” phải có dạng MÃ_NGƯỜI_DÂN:MÃ_KỸ_NĂNG"))?;
    let id: CitizenId = id
        .parse()
        .with_context(|| format!("“{pair}”: mã người dân không hợp lệ"))?;
    Ok((id, code.trim().to_owned()))
}

#[derive(Args)]
pub struct SessionAddArgs {
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

/// Attendees from `--attendee`, with each `--achieved ID:CODE` given to its attendee.
fn attendees(ids: &[CitizenId], achieved: &[String]) -> anyhow::Result<Vec<AttendeeInput>> {
    let mut attendees: Vec<AttendeeInput> = ids
        .iter()
        .map(|&citizen_id| AttendeeInput {
            citizen_id,
            achieved: Vec::new(),
        })
        .collect();
    for pair in achieved {
        let (id, code) = citizen_skill(pair)?;
        let attendee = attendees
            .iter_mut()
            .find(|x| x.citizen_id == id)
            .with_context(|| format!("--achieved “{pair}”: người này chưa có trong --attendee"))?;
        attendee.achieved.push(code);
    }
    Ok(attendees)
}

pub fn run(cmd: SessionCommand, ctx: &Ctx) -> anyhow::Result<()> {
    let app = ctx.app()?;
    match cmd {
        SessionCommand::Add(a) => {
            let detail = app.record_session(SessionInput {
                attendees: attendees(&a.attendees, &a.achieved)?,
                date: a.date,
                time: a.time,
                place: a.place,
                village: a.village,
                skills: a.skills,
                volunteers: Vec::new(),
                note: a.note,
            })?;
            ctx.print(&detail, |d| {
                println!(
                    "Đã ghi buổi {} ngày {} tại {} với {} người tham dự.",
                    d.session.id,
                    d.session.date,
                    d.session.place,
                    d.attendees.len()
                )
            });
        }
        SessionCommand::Edit(a) => {
            let id = a.id;
            let form = corrected(SessionInput::from(&app.session(id)?), a)?;
            let detail = app.edit_session(id, form)?;
            ctx.print(&detail, show);
        }
        SessionCommand::Show { id } => {
            let detail = app.session(id)?;
            ctx.print(&detail, show);
        }
        SessionCommand::List => {
            let sessions = app.sessions()?;
            ctx.print(&sessions, |sessions| {
                if sessions.is_empty() {
                    println!("Chưa có buổi nào.");
                }
                for s in sessions {
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
            });
        }
    }
    Ok(())
}

/// A session as the volunteer reads it: details, then each attendee with what they reached.
fn show(d: &SessionDetail) {
    let time = d.session.time.as_deref().map(|t| format!(" {t}"));
    println!(
        "Buổi {} — ngày {}{}",
        d.session.id,
        d.session.date,
        time.unwrap_or_default()
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
