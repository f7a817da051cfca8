//! Commune targets: their validation, which the laptop's store and the server share, and their
//! SQLite table; and the store's report over everything this laptop holds.

use super::{build, CommuneTarget, Report, ReportOptions};
use crate::error::{CoreError, CoreResult};
use crate::refdata::admin_units;
use crate::validate::Field;

impl CommuneTarget {
    /// Checks the commune against the catalogue and the numbers against their ranges. Both the
    /// laptop's store and the server accept targets, so they share this one check.
    pub fn validate(&self) -> CoreResult<()> {
        if admin_units().commune(&self.commune_code).is_none() {
            return Err(CoreError::invalid(
                Field::Commune,
                format!("mã xã “{}” không có trong danh mục", self.commune_code),
                format!("there is no commune with the code “{}”", self.commune_code),
            ));
        }
        if self.adult_population == 0 || self.basic_pct > 100 || self.confirmed_pct > 100 {
            return Err(CoreError::invalid(
                Field::Commune,
                "dân số phải lớn hơn 0, chỉ tiêu từ 0 đến 100 %",
                "the population must be above 0 and targets between 0 and 100 %",
            ));
        }
        Ok(())
    }
}

impl crate::Store {
    /// Sets (or replaces) a commune's adult population and targets.
    pub fn set_target(&mut self, target: &CommuneTarget) -> CoreResult<()> {
        target.validate()?;
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
        // Targets are this laptop's own (no outbox record marks the change): the kept report
        // with its progress is stale.
        self.forget_views();
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
        let mut input = self.report_input()?;
        input.catalogue = Some(self.catalogue()?.into_owned());
        Ok(build(&input, options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_need_a_known_commune_and_numbers_in_range() {
        let ok = CommuneTarget {
            commune_code: "14758".into(),
            adult_population: 10,
            basic_pct: 100,
            confirmed_pct: 80,
        };
        assert!(ok.validate().is_ok());
        let unknown = CommuneTarget {
            commune_code: "99999".into(),
            ..ok.clone()
        };
        assert!(unknown
            .validate()
            .unwrap_err()
            .to_string()
            .contains("mã xã “99999” không có trong danh mục"));
        for bad in [
            CommuneTarget {
                adult_population: 0,
                ..ok.clone()
            },
            CommuneTarget {
                basic_pct: 101,
                ..ok.clone()
            },
            CommuneTarget {
                confirmed_pct: 101,
                ..ok.clone()
            },
        ] {
            assert!(bad
                .validate()
                .unwrap_err()
                .to_string()
                .contains("chỉ tiêu từ 0 đến 100 %"));
        }
    }
}
