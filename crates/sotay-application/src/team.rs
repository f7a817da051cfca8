//! The team on this laptop, the reference data its forms offer, and the home screen's numbers.

use crate::error::AppResult;
use crate::App;
use serde::Serialize;
use sotay_core::outbox::OutboxStatus;
use sotay_core::refdata::{Province, SkillCatalogue};
use sotay_core::report::{Breakdown, BreakdownRow, TargetProgress};
use sotay_core::{NewTeam, SyncStatus, TeamInfo};
use ts_rs::TS;

/// The home screen's numbers.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Overview {
    pub team: Option<TeamInfo>,
    pub citizens: u64,
    pub sessions: u64,
    /// "Số người được tiếp cận", as in the report.
    pub people_reached: u64,
    /// "Số người có kết quả đạt", as in the report.
    pub people_confirmed: u64,
    pub outbox: OutboxStatus,
    pub sync: SyncStatus,
    /// Progress against the team's commune targets, once an official has set them.
    pub target: Option<TargetProgress>,
    /// People reached and skills achieved month by month, over all records.
    pub by_month: Vec<BreakdownRow>,
}

impl App {
    pub fn init_team(&self, team: NewTeam) -> AppResult<TeamInfo> {
        Ok(self.store.with(|s| s.init_team(team))?)
    }

    /// Sets the adult population and targets of the team's own commune (an official's figures).
    pub fn set_team_target(
        &self,
        adult_population: u64,
        basic_pct: u32,
        confirmed_pct: u32,
    ) -> AppResult<Overview> {
        let commune_code = self.team()?.team.commune_code;
        self.set_target(&sotay_core::report::CommuneTarget {
            commune_code,
            adult_population,
            basic_pct,
            confirmed_pct,
        })?;
        self.overview()
    }

    pub fn team(&self) -> AppResult<TeamInfo> {
        Ok(self.store.with(|s| s.team())?)
    }

    pub fn overview(&self) -> AppResult<Overview> {
        Ok(self.store.with(|s| {
            let report = s.all_time_report()?;
            let team = s.team().ok();
            let target = team.as_ref().and_then(|team| {
                report
                    .targets
                    .iter()
                    .find(|t| t.commune_code == team.team.commune_code)
                    .cloned()
            });
            let by_month = report
                .breakdowns
                .iter()
                .find(|t| t.breakdown == Breakdown::Month)
                .map(|t| t.rows.clone())
                .unwrap_or_default();
            Ok(Overview {
                target,
                by_month,
                team,
                citizens: s.count_citizens()?,
                sessions: s.count_sessions()?,
                people_reached: report.totals.people,
                people_confirmed: report.people_confirmed,
                outbox: s.outbox_status()?,
                sync: s.sync_status()?,
            })
        })?)
    }

    /// Provinces and their communes (2025 codes), for the first-run form's choices.
    pub fn admin_units(&self) -> Vec<Province> {
        sotay_core::refdata::admin_units().provinces.clone()
    }

    /// The skill catalogue in force (the newest pulled from the server, else the built-in one).
    pub fn skills(&self) -> AppResult<SkillCatalogue> {
        Ok(self.store.with(|s| Ok(s.catalogue()?.into_owned()))?)
    }

    pub fn outbox_status(&self) -> AppResult<OutboxStatus> {
        Ok(self.store.with(|s| s.outbox_status())?)
    }
}
