//! What a province IT admin does on the server's database: enrolment codes, revocation,
//! statistics, and importing USB bundles.

use crate::apply::{random_secret, rfc3339, DeviceRow};
use crate::error::{ServerError, ServerResult};
use crate::store::{Database, Storage};
use serde::Serialize;
use sotay_protocol::sync::PushResponse;
use sotay_protocol::wire::token_hash;
use sotay_protocol::{DeviceId, Organisation, TeamId, TeamV1};

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

/// Creates the team if needed and a one-time enrolment code for it, valid 14 days.
pub async fn create_enrolment_code(
    db: &Database,
    team_name: &str,
    spec: Option<TeamSpec>,
) -> ServerResult<EnrolmentCode> {
    let code = random_secret(10);
    let expires_at = chrono::Utc::now() + chrono::Duration::days(14);
    let new_team = match spec {
        Some(spec) => {
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
            Some(TeamV1 {
                id: TeamId::new(),
                name: sotay_core::text::normalize(&spec.name),
                organisation: spec.organisation,
                province_code: spec.province_code,
                commune_code: spec.commune_code,
            })
        }
        None => None,
    };
    let (team_id, team_name) = db
        .add_enrolment_code(
            team_name.trim().to_owned(),
            new_team,
            token_hash(&code),
            expires_at,
        )
        .await?
        .ok_or_else(|| {
            ServerError::BadRequest(format!(
                "chưa có đội “{team_name}”: cần --org, --province và --commune để tạo"
            ))
        })?;
    Ok(EnrolmentCode {
        code,
        team_id,
        team_name,
        expires_at: rfc3339(expires_at),
    })
}

/// Trades a code for a device token. Returns the token (shown once) and the device's row.
pub(crate) async fn enroll(
    db: &Database,
    code: &str,
    device: DeviceId,
) -> ServerResult<(String, DeviceRow)> {
    let token = random_secret(40);
    let row = db
        .enroll(
            token_hash(&code.trim().to_uppercase()),
            device,
            token_hash(&token),
        )
        .await?;
    Ok((token, row))
}

/// Revokes a device: its token stops working at once; its records stay.
pub async fn revoke(db: &Database, device: DeviceId) -> ServerResult<()> {
    if !db.revoke(device).await? {
        return Err(ServerError::NotFound(format!(
            "thiết bị {device} (còn hiệu lực)"
        )));
    }
    Ok(())
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
pub async fn stats(db: &Database) -> ServerResult<Vec<TeamStats>> {
    db.stats().await
}

/// Applies a USB bundle with the same checks as a push: signature, device still enrolled,
/// sequence, team scope. All of it or nothing.
pub async fn import_bundle(db: &Database, bytes: &[u8]) -> ServerResult<PushResponse> {
    // The header line names the device; its token hash is the key that checks the rest.
    let header = bytes
        .iter()
        .take(200)
        .position(|&b| b == b'\n')
        .and_then(|n| std::str::from_utf8(&bytes[..n]).ok());
    let claimed: Option<DeviceId> = header
        .and_then(|h| h.split(' ').nth(1))
        .and_then(|d| d.parse().ok());
    let known = match claimed {
        Some(device) => db.device_key(device).await?,
        None => None,
    };
    if known.as_ref().is_some_and(|k| k.revoked) {
        return Err(ServerError::Revoked);
    }
    let key = known.as_ref().map(|k| k.token_hash.clone());
    let content = sotay_protocol::bundle::open(bytes, |_| key)
        .map_err(|e| ServerError::Forbidden(format!("gói dữ liệu không hợp lệ: {e}")))?;
    let device = known.ok_or(ServerError::Unauthorized)?.device;
    let records = content
        .records
        .into_iter()
        .map(sotay_protocol::OutboxRecord::into_outgoing)
        .collect::<Vec<_>>();
    db.push(device, records.into()).await
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
pub async fn quarantine(db: &Database) -> ServerResult<Vec<QuarantineEntry>> {
    db.quarantine().await
}

/// Sets (or replaces) a commune's adult population and targets on the server.
pub async fn set_target(
    db: &Database,
    target: &sotay_core::report::CommuneTarget,
) -> ServerResult<()> {
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
    db.set_target(target.clone()).await
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
pub async fn report(
    db: &Database,
    scope: &ReportScope,
    options: &sotay_core::report::ReportOptions,
) -> ServerResult<sotay_core::report::Report> {
    use sotay_core::report::{build, input_from_states};
    let data = db.report_data().await?;
    let team_filter = match &scope.team {
        Some(name) => Some(
            data.teams
                .iter()
                .find(|t| t.1 == *name)
                .map(|t| t.0)
                .ok_or_else(|| ServerError::NotFound(format!("đội “{name}”")))?,
        ),
        None => None,
    };
    let mut input = input_from_states(
        data.states
            .iter()
            .filter(|(_, _, team)| team_filter.is_none_or(|t| *team == t))
            .map(|(e, s, _)| (e.as_str(), s.as_str())),
        data.teams.into_iter().collect(),
        data.targets,
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
