//! `sotay outcome add`: a skill reached after its session (the person activated VNeID at home
//! the next day), with who confirmed it and when.

use super::Ctx;
use clap::{Args, Subcommand};
use sotay_protocol::{CitizenId, SessionId};

#[derive(Subcommand)]
pub enum OutcomeCommand {
    /// Mark a skill taught at a session as achieved (đánh dấu đã đạt).
    Add(OutcomeAddArgs),
}

#[derive(Args)]
pub struct OutcomeAddArgs {
    #[arg(long)]
    citizen: CitizenId,
    #[arg(long)]
    session: SessionId,
    /// The skill's code (`sotay skill list`).
    #[arg(long)]
    skill: String,
    /// Who confirmed it (default: the volunteer of this laptop).
    #[arg(long)]
    by: Option<String>,
    /// On which day, YYYY-MM-DD (default: today).
    #[arg(long)]
    on: Option<String>,
}

pub fn run(cmd: OutcomeCommand, ctx: &Ctx) -> anyhow::Result<()> {
    let app = ctx.app()?;
    match cmd {
        OutcomeCommand::Add(args) => {
            let by = match args.by {
                Some(by) => by,
                None => {
                    let team = app.team()?;
                    team.current_volunteer
                        .and_then(|id| team.volunteers.iter().find(|v| v.id == id))
                        .map(|v| v.name.clone())
                        .unwrap_or_default()
                }
            };
            let history = app.mark_achieved(
                args.citizen,
                args.session,
                &args.skill,
                &by,
                args.on.as_deref(),
            )?;
            ctx.print(&history, |h| {
                println!(
                    "Đã ghi: {} đạt kỹ năng {} (xác nhận bởi {by}).",
                    h.citizen.full_name, args.skill
                )
            });
        }
    }
    Ok(())
}
