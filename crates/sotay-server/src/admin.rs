//! What a province IT admin does on the server's database: enrolment codes, revocation,
//! statistics, and importing USB bundles.

use crate::apply::{self, now, DeviceRow};
use crate::db::{Database, Val};
use crate::error::{ServerError, ServerResult};
use serde::Serialize;
use sotay_protocol::sync::PushResponse;
use sotay_protocol::{DeviceId, Organisation, TeamId};

/// A team to create if no team of that name exists yet.
#[derive(Debug, Clone)]
pub struct TeamSpec {
    pub name: String,
    pub organisation: Organisation,
    pub province_code: String,
    pub commune_code: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnrolmentCode {
    pub code: String,
    pub team_id: TeamId,
    pub team_name: String,
    pub expires_at: String,
}

/// A random secret of `len` characters from an alphabet without look-alikes (no 0/O, 1/I/L),
/// so a code read aloud over the phone is typed right.
pub(crate) fn random_secret(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in uuid::Uuid::new_v4().into_bytes() {
            // 248 = 8 × 31: rejecting the rest keeps every symbol equally likely.
            if b < 248 && out.len() < len {
                out.push(ALPHABET[(b % 31) as usize] as char);
            }
        }
    }
    out
}

/// Creates the team if needed and a one-time enrolment code for it, valid 14 days.
pub fn create_enrolment_code(
    db: &Database,
    team_name: &str,
    spec: Option<TeamSpec>,
) -> ServerResult<EnrolmentCode> {
    let code = random_secret(10);
    let expires_at = apply::rfc3339(chrono::Utc::now() + chrono::Duration::days(14));
    db.transaction(|conn| {
        let existing = conn.query_one(
            "SELECT id, name FROM teams WHERE name = $1",
            &[team_name.trim().into()],
        )?;
        let (team_id, name) = match existing {
            Some(row) => (row[0].text(), row[1].text()),
            None => {
                let spec = spec.ok_or_else(|| {
                    ServerError::BadRequest(format!(
                        "chưa có đội “{team_name}”: cần --org, --province và --commune để tạo"
                    ))
                })?;
                let units = sotay_core::refdata::admin_units();
                match units.commune(&spec.commune_code) {
                    Some((p, _)) if p.code == spec.province_code => {}
                    _ => {
                        return Err(ServerError::BadRequest(format!(
                            "mã xã {} không thuộc tỉnh {}",
                            spec.commune_code, spec.province_code
                        )))
                    }
                }
                let id = TeamId::new().to_string();
                let organisation = match serde_json::to_value(spec.organisation) {
                    Ok(serde_json::Value::String(s)) => s,
                    _ => unreachable!("unit variants serialise to strings"),
                };
                conn.exec(
                    "INSERT INTO teams (id, name, organisation, province_code, commune_code,
                                        created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        id.clone().into(),
                        sotay_core::text::normalize(&spec.name).into(),
                        organisation.into(),
                        spec.province_code.into(),
                        spec.commune_code.into(),
                        now().into(),
                    ],
                )?;
                (id, sotay_core::text::normalize(&spec.name))
            }
        };
        conn.exec(
            "INSERT INTO enrolment_codes (code_hash, team_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
            &[
                sotay_protocol::wire::token_hash(&code).into(),
                team_id.clone().into(),
                now().into(),
                expires_at.clone().into(),
            ],
        )?;
        Ok(EnrolmentCode {
            code: code.clone(),
            team_id: team_id
                .parse()
                .map_err(|_| ServerError::Internal("mã đội hỏng".into()))?,
            team_name: name,
            expires_at: expires_at.clone(),
        })
    })
}

/// Trades a code for a device token. Returns the token (shown once) and the device's row.
pub(crate) fn enroll(
    db: &Database,
    code: &str,
    device: DeviceId,
) -> ServerResult<(String, DeviceRow)> {
    let token = random_secret(40);
    db.transaction(|conn| {
        let row = conn
            .query_one(
                "SELECT team_id, expires_at, used_by FROM enrolment_codes WHERE code_hash = $1",
                &[sotay_protocol::wire::token_hash(&code.trim().to_uppercase()).into()],
            )?
            .ok_or(ServerError::BadEnrolmentCode)?;
        if row[2] != Val::Null || row[1].text() < now() {
            return Err(ServerError::BadEnrolmentCode);
        }
        let known = conn.query_one(
            "SELECT id FROM devices WHERE id = $1",
            &[device.to_string().into()],
        )?;
        if known.is_some() {
            return Err(ServerError::Forbidden(format!(
                "thiết bị {device} đã đăng ký; thu hồi nó trước khi đăng ký lại"
            )));
        }
        conn.exec(
            "UPDATE enrolment_codes SET used_by = $1 WHERE code_hash = $2",
            &[
                device.to_string().into(),
                sotay_protocol::wire::token_hash(&code.trim().to_uppercase()).into(),
            ],
        )?;
        conn.exec(
            "INSERT INTO devices (id, team_id, token_hash, enrolled_at) VALUES ($1, $2, $3, $4)",
            &[
                device.to_string().into(),
                row[0].clone(),
                sotay_protocol::wire::token_hash(&token).into(),
                now().into(),
            ],
        )?;
        Ok((
            token.clone(),
            DeviceRow {
                id: device,
                team_id: row[0]
                    .text()
                    .parse()
                    .map_err(|_| ServerError::Internal("mã đội hỏng".into()))?,
            },
        ))
    })
}

/// Revokes a device: its token stops working at once; its records stay.
pub fn revoke(db: &Database, device: DeviceId) -> ServerResult<()> {
    db.transaction(|conn| {
        let n = conn.exec(
            "UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            &[now().into(), device.to_string().into()],
        )?;
        if n == 0 {
            return Err(ServerError::NotFound(format!(
                "thiết bị {device} (còn hiệu lực)"
            )));
        }
        Ok(())
    })
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TeamStats {
    pub team_id: String,
    pub team_name: String,
    pub devices: u64,
    pub records: u64,
    pub citizens: u64,
    pub sessions: u64,
    pub attendances: u64,
    pub outcomes: u64,
    pub achieved: u64,
}

/// Counts per team of what the server holds (deleted entities excluded).
pub fn stats(db: &Database) -> ServerResult<Vec<TeamStats>> {
    db.transaction(|conn| {
        let rows = conn.query(
            "SELECT t.id, t.name,
                (SELECT COUNT(*) FROM devices d WHERE d.team_id = t.id),
                (SELECT COUNT(*) FROM records r WHERE r.team_id = t.id),
                (SELECT COUNT(*) FROM entities e
                  WHERE e.team_id = t.id AND e.entity = 'citizen' AND e.deleted = 0),
                (SELECT COUNT(*) FROM entities e
                  WHERE e.team_id = t.id AND e.entity = 'session' AND e.deleted = 0),
                (SELECT COUNT(*) FROM entities e
                  WHERE e.team_id = t.id AND e.entity = 'attendance' AND e.deleted = 0),
                (SELECT CAST(COALESCE(SUM(e.n_outcomes), 0) AS BIGINT) FROM entities e
                  WHERE e.team_id = t.id AND e.entity = 'attendance' AND e.deleted = 0),
                (SELECT CAST(COALESCE(SUM(e.n_achieved), 0) AS BIGINT) FROM entities e
                  WHERE e.team_id = t.id AND e.entity = 'attendance' AND e.deleted = 0)
             FROM teams t ORDER BY t.name",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| TeamStats {
                team_id: r[0].text(),
                team_name: r[1].text(),
                devices: r[2].int() as u64,
                records: r[3].int() as u64,
                citizens: r[4].int() as u64,
                sessions: r[5].int() as u64,
                attendances: r[6].int() as u64,
                outcomes: r[7].int() as u64,
                achieved: r[8].int() as u64,
            })
            .collect())
    })
}

/// Applies a USB bundle with the same checks as a push: signature, device still enrolled,
/// sequence, team scope. All of it or nothing.
pub fn import_bundle(db: &Database, bytes: &[u8]) -> ServerResult<PushResponse> {
    db.transaction(|conn| {
        let mut key = None;
        let mut device_row = None;
        // The header line names the device; its token hash is the key that checks the rest.
        let header = bytes
            .iter()
            .take(200)
            .position(|&b| b == b'\n')
            .and_then(|n| std::str::from_utf8(&bytes[..n]).ok());
        let claimed: Option<DeviceId> = header
            .and_then(|h| h.split(' ').nth(1))
            .and_then(|d| d.parse().ok());
        if let Some(device) = claimed {
            if let Some(row) = conn.query_one(
                "SELECT team_id, token_hash, revoked_at FROM devices WHERE id = $1",
                &[device.to_string().into()],
            )? {
                if row[2] != Val::Null {
                    return Err(ServerError::Revoked);
                }
                key = Some(row[1].text());
                device_row = Some(DeviceRow {
                    id: device,
                    team_id: row[0]
                        .text()
                        .parse()
                        .map_err(|_| ServerError::Internal("mã đội hỏng".into()))?,
                });
            }
        }
        let content = sotay_protocol::bundle::open(bytes, |_| key)
            .map_err(|e| ServerError::Forbidden(format!("gói dữ liệu không hợp lệ: {e}")))?;
        let device = device_row.ok_or(ServerError::Unauthorized)?;
        apply::apply_batch(conn, &device, &content.records)
    })
}

/// A record set aside by the server, for an administrator.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantineEntry {
    pub team_name: String,
    pub device_id: String,
    pub seq: u64,
    pub record_id: String,
    pub entity: String,
    pub entity_id: String,
    pub reason: String,
    pub received_at: String,
}

/// Every record set aside because it breaks the rules, newest first.
pub fn quarantine(db: &Database) -> ServerResult<Vec<QuarantineEntry>> {
    db.transaction(|conn| {
        let rows = conn.query(
            "SELECT t.name, q.device_id, q.seq, q.record_id, q.entity, q.entity_id, q.reason,
                    q.received_at
             FROM quarantine q JOIN teams t ON t.id = q.team_id
             ORDER BY q.id DESC",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| QuarantineEntry {
                team_name: r[0].text(),
                device_id: r[1].text(),
                seq: r[2].int() as u64,
                record_id: r[3].text(),
                entity: r[4].text(),
                entity_id: r[5].text(),
                reason: r[6].text(),
                received_at: r[7].text(),
            })
            .collect())
    })
}

/// Sets (or replaces) a commune's adult population and targets on the server.
pub fn set_target(db: &Database, target: &sotay_core::report::CommuneTarget) -> ServerResult<()> {
    target.validate().map_err(|e| match e {
        // The server's message is the bare reason, without the core's field label in front.
        sotay_core::CoreError::Invalid(fields) => ServerError::BadRequest(
            fields
                .iter()
                .map(|f| f.reason.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => ServerError::BadRequest(other.to_string()),
    })?;
    db.transaction(|conn| {
        conn.exec(
            "INSERT INTO commune_targets (commune_code, adult_population, basic_pct,
                                          confirmed_pct, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (commune_code) DO UPDATE SET
                 adult_population = excluded.adult_population, basic_pct = excluded.basic_pct,
                 confirmed_pct = excluded.confirmed_pct, updated_at = excluded.updated_at",
            &[
                target.commune_code.clone().into(),
                target.adult_population.into(),
                i64::from(target.basic_pct).into(),
                i64::from(target.confirmed_pct).into(),
                now().into(),
            ],
        )?;
        Ok(())
    })
}

/// Which synced data a server report covers.
#[derive(Debug, Clone, Default)]
pub struct ReportScope {
    /// A team name; None for every team.
    pub team: Option<String>,
    /// A province code (2 digits); None for every province.
    pub province: Option<String>,
}

/// The same report as a laptop's, over everything synced to this server.
pub fn report(
    db: &Database,
    scope: &ReportScope,
    options: &sotay_core::report::ReportOptions,
) -> ServerResult<sotay_core::report::Report> {
    use sotay_core::report::{build, input_from_states, CommuneTarget};
    let (states, teams, targets) = db.transaction(|conn| {
        let teams = conn.query("SELECT id, name FROM teams", &[])?;
        let team_filter = match &scope.team {
            Some(name) => Some(
                teams
                    .iter()
                    .find(|t| t[1].text() == *name)
                    .map(|t| t[0].text())
                    .ok_or_else(|| ServerError::NotFound(format!("đội “{name}”")))?,
            ),
            None => None,
        };
        let states = conn.query(
            "SELECT entity, state, team_id FROM entities
             WHERE entity IN ('citizen', 'session', 'attendance') AND deleted = 0",
            &[],
        )?;
        let states: Vec<(String, String)> = states
            .into_iter()
            .filter(|r| team_filter.as_ref().is_none_or(|t| r[2].text() == *t))
            .map(|r| (r[0].text(), r[1].text()))
            .collect();
        let targets = conn
            .query(
                "SELECT commune_code, adult_population, basic_pct, confirmed_pct
                 FROM commune_targets ORDER BY commune_code",
                &[],
            )?
            .into_iter()
            .map(|r| CommuneTarget {
                commune_code: r[0].text(),
                adult_population: r[1].int() as u64,
                basic_pct: r[2].int() as u32,
                confirmed_pct: r[3].int() as u32,
            })
            .collect::<Vec<_>>();
        Ok((states, teams, targets))
    })?;
    let team_names = teams
        .iter()
        .filter_map(|t| Some((t[0].text().parse().ok()?, t[1].text())))
        .collect();
    let mut input = input_from_states(
        states.iter().map(|(e, s)| (e.as_str(), s.as_str())),
        team_names,
        targets,
    );
    if let Some(province) = &scope.province {
        let units = sotay_core::refdata::admin_units();
        let in_province = |code: &str| {
            units
                .commune(code)
                .is_some_and(|(p, _)| p.code == *province)
        };
        input.citizens.retain(|_, c| in_province(&c.commune_code));
        input.targets.retain(|t| in_province(&t.commune_code));
    }
    Ok(build(&input, options))
}
