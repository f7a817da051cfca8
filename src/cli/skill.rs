//! `sotay skill`: the skill catalogue in force.

use super::Ctx;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum SkillCommand {
    List,
}

pub fn run(cmd: SkillCommand, ctx: &Ctx) -> anyhow::Result<()> {
    let SkillCommand::List = cmd;
    let catalogue = ctx.app()?.skills()?;
    ctx.print(&catalogue, |catalogue| {
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
    });
    Ok(())
}
