//! `sotay init`: set up this laptop for a team.

use super::Ctx;
use clap::Args;
use sotay_core::NewTeam;
use sotay_protocol::Organisation;

#[derive(Args)]
pub struct InitArgs {
    #[arg(long)]
    team: String,
    #[arg(long, value_enum)]
    org: Organisation,
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

pub fn run(args: InitArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let team = ctx.app()?.init_team(NewTeam {
        name: args.team,
        organisation: args.org,
        province_code: args.province,
        commune_code: args.commune,
        volunteer: args.volunteer,
    })?;
    ctx.print(&team, |team| {
        println!(
            "Đã khởi tạo đội “{}” — {}, {}.",
            team.team.name, team.commune_name, team.province_name
        )
    });
    Ok(())
}
