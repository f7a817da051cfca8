//! The team on this laptop, the reference data its forms offer, and the home screen's numbers.

use crate::error::AppResult;
use crate::App;
use serde::Serialize;
use sotay_core::outbox::OutboxStatus;
use sotay_core::refdata::{Province, SkillCatalogue};
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
}

/// The team's commune: adults, the province's targets, and how far the team has come.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TargetProgress {
    pub commune_code: String,
    pub adult_population: u64,
    /// Targets, in percent of adults.
    pub basic_target_pct: u32,
    pub confirmed_target_pct: u32,
    /// Where the team stands, in percent of adults (one decimal).
    pub reached_pct: f64,
    pub confirmed_pct: f64,
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
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
            let headline = s.headline()?;
            let team = s.team().ok();
            let target = match &team {
                Some(team) => s
                    .targets()?
                    .into_iter()
                    .find(|t| t.commune_code == team.team.commune_code)
                    .map(|t| TargetProgress {
                        reached_pct: percent(headline.people_reached, t.adult_population),
                        confirmed_pct: percent(headline.people_confirmed, t.adult_population),
                        commune_code: t.commune_code,
                        adult_population: t.adult_population,
                        basic_target_pct: t.basic_pct,
                        confirmed_target_pct: t.confirmed_pct,
                    }),
                None => None,
            };
            Ok(Overview {
                target,
                team,
                citizens: s.count_citizens()?,
                sessions: s.count_sessions()?,
                people_reached: headline.people_reached,
                people_confirmed: headline.people_confirmed,
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

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn progress_is_a_percentage_to_one_decimal() {
        assert_eq!(percent(28, 56), 50.0);
        assert_eq!(percent(5, 56), 8.9);
        assert_eq!(percent(56, 56), 100.0);
        assert_eq!(percent(3, 0), 0.0, "no population, no division by zero");
    }
}
