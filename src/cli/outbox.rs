//! `sotay outbox`: what waits to be synced.

use super::Ctx;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum OutboxCommand {
    Status,
}

pub fn run(cmd: OutboxCommand, ctx: &Ctx) -> anyhow::Result<()> {
    let OutboxCommand::Status = cmd;
    let status = ctx.app()?.outbox_status()?;
    ctx.print(&status, |status| {
        println!("Máy: {}", status.device_id);
        println!(
            "Chờ đồng bộ: {} bản ghi; đã đồng bộ: {}; số thứ tự cuối: {}",
            status.pending, status.acknowledged, status.last_seq
        );
        for e in &status.pending_by_entity {
            println!("  {}: {}", e.entity, e.pending);
        }
    });
    Ok(())
}
