//! Reference data compiled into the binary from `assets/`: the skill catalogue (Decision
//! 757/QĐ-BKHCN groups plus the service outcomes the movement counts) and the administrative units
//! after the 2025 reform (34 provinces and their communes, statistics office codes). Codes are
//! stable; each file carries its version.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct SkillGroup {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SkillKind {
    /// A skill of the framework, taught and practised.
    Skill,
    /// A public-service outcome counted by the movement (e.g. VNeID activated).
    Service,
}

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct Skill {
    pub code: String,
    pub group: String,
    pub kind: SkillKind,
    pub name_vi: String,
    /// A few words for tight spaces such as the result column of an attendance sheet.
    pub short_vi: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct SkillCatalogue {
    pub version: String,
    pub framework: String,
    pub groups: Vec<SkillGroup>,
    pub skills: Vec<Skill>,
}

impl SkillCatalogue {
    pub fn skill(&self, code: &str) -> Option<&Skill> {
        self.skills.iter().find(|s| s.code == code)
    }

    /// Whether this catalogue's version is later than `other` ("2025.10" > "2025.9"): versions
    /// compare as dot-separated numbers.
    pub fn is_newer_than(&self, other: &str) -> bool {
        let parts =
            |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
        parts(&self.version) > parts(other)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct Commune {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct Province {
    pub code: String,
    pub name: String,
    pub short_name: String,
    pub communes: Vec<Commune>,
}

#[derive(Debug, Deserialize)]
pub struct AdminUnits {
    pub source: String,
    pub provinces: Vec<Province>,
    #[serde(skip)]
    commune_index: HashMap<String, (usize, usize)>,
}

impl AdminUnits {
    pub fn province(&self, code: &str) -> Option<&Province> {
        self.provinces.iter().find(|p| p.code == code)
    }

    /// The commune and the province it belongs to.
    pub fn commune(&self, code: &str) -> Option<(&Province, &Commune)> {
        let &(p, c) = self.commune_index.get(code)?;
        let province = &self.provinces[p];
        Some((province, &province.communes[c]))
    }
}

static SKILLS: LazyLock<SkillCatalogue> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../../assets/skills.json"))
        .expect("assets/skills.json is valid (checked by a unit test)")
});

static ADMIN_UNITS: LazyLock<AdminUnits> = LazyLock::new(|| {
    let mut units: AdminUnits =
        serde_json::from_str(include_str!("../../../assets/admin-units.json"))
            .expect("assets/admin-units.json is valid (checked by a unit test)");
    units.commune_index = units
        .provinces
        .iter()
        .enumerate()
        .flat_map(|(p, province)| {
            province
                .communes
                .iter()
                .enumerate()
                .map(move |(c, commune)| (commune.code.clone(), (p, c)))
        })
        .collect();
    units
});

pub fn skills() -> &'static SkillCatalogue {
    &SKILLS
}

pub fn admin_units() -> &'static AdminUnits {
    &ADMIN_UNITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_loads_with_unique_codes_in_known_groups() {
        let cat = skills();
        assert!(!cat.version.is_empty());
        let mut codes: Vec<_> = cat.skills.iter().map(|s| &s.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), cat.skills.len());
        for s in &cat.skills {
            assert!(cat.groups.iter().any(|g| g.code == s.group), "{}", s.code);
        }
        assert_eq!(cat.skill("VNEID1").unwrap().kind, SkillKind::Service);
        assert!(cat.skill("0.1").is_some() && cat.skill("0.2").is_some());
    }

    #[test]
    fn admin_units_after_the_2025_reform() {
        let units = admin_units();
        assert_eq!(units.provinces.len(), 34);
        let thanh_hoa = units.province("38").unwrap();
        assert_eq!(thanh_hoa.short_name, "Thanh Hóa");
        assert_eq!(thanh_hoa.communes.len(), 166);
        let (province, commune) = units.commune(&thanh_hoa.communes[0].code).unwrap();
        assert_eq!(province.code, "38");
        assert_eq!(commune.code, thanh_hoa.communes[0].code);
        assert!(units.commune("99999").is_none());
    }
}
