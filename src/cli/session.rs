//! `sotay session`: record a session with its attendance and outcomes, list and show sessions.

use super::Ctx;
use anyhow::Context;
use clap::{Args, Subcommand};
use sotay_core::{AttendeeInput, SessionInput};
use sotay_protocol::{CitizenId, Outcome, SessionId};

#[derive(Subcommand)]
pub enum SessionCommand {
    /// Record a session with its attendance and outcomes.
    Add(SessionAddArgs),
    Show {
        id: SessionId,
    },
    List,
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
        let (id, code) = pair
            .split_once(':')
            .with_context(|| format!("--achieved “{pair}” phải có dạng MÃ_NGƯỜI_DÂN:MÃ_KỸ_NĂNG"))?;
        let id: CitizenId = id
            .parse()
            .with_context(|| format!("--achieved “{pair}”: mã người dân không hợp lệ"))?;
        let attendee = attendees
            .iter_mut()
            .find(|x| x.citizen_id == id)
            .with_context(|| format!("--achieved “{pair}”: người này chưa có trong --attendee"))?;
        attendee.achieved.push(code.trim().to_owned());
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
        SessionCommand::Show { id } => {
            let detail = app.session(id)?;
            ctx.print(&detail, |d| {
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
            });
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
