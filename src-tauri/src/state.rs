//! What the desktop app does, as plain functions over [`AppState`] so that they are tested
//! without a window. Each one unpacks its arguments, calls `sotay-core`, and maps the result; the
//! Tauri commands in `commands.rs` only forward to these.

use crate::error::{CommandError, CommandResult};
use serde::{Deserialize, Serialize};
use sotay_core::sheet::SheetOptions;
use sotay_core::sync::{SyncConfig, SyncProgress, SyncStatus, SyncSummary};
use sotay_core::{
    AddedCitizen, AttendeeInput, CitizenInput, ImportOptions, ImportReport, NewTeam, OutboxStatus,
    SessionDetail, SessionInput, SessionSummary, Store, TeamInfo,
};
use sotay_protocol::{CitizenId, CitizenV1, Organisation, SessionId};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub struct AppState {
    store: Mutex<Store>,
    /// Where printed sheets and reports are written.
    out_dir: PathBuf,
}

/// The home screen's numbers.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub team: Option<TeamInfo>,
    pub citizens: usize,
    pub sessions: usize,
    pub people_reached: u64,
    pub achieved: u64,
    pub outbox: OutboxStatus,
    pub sync: SyncStatus,
}

#[derive(Debug, Deserialize)]
pub struct TeamForm {
    pub name: String,
    pub organisation: Organisation,
    pub province_code: String,
    pub commune_code: String,
    pub volunteer: String,
}

#[derive(Debug, Deserialize)]
pub struct CitizenForm {
    pub full_name: String,
    pub gender: String,
    pub birth: String,
    pub village: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub cccd: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    pub consent: bool,
}

#[derive(Debug, Deserialize)]
pub struct AttendeeForm {
    pub citizen_id: CitizenId,
    #[serde(default)]
    pub achieved: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct SessionForm {
    pub date: String,
    #[serde(default)]
    pub time: Option<String>,
    pub place: String,
    #[serde(default)]
    pub village: Option<String>,
    pub skills: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
    pub attendees: Vec<AttendeeForm>,
}

#[derive(Debug, Deserialize, Default)]
pub struct SheetForm {
    #[serde(default)]
    pub blank_rows: usize,
    #[serde(default)]
    pub landscape: bool,
    #[serde(default)]
    pub invite: bool,
    #[serde(default)]
    pub show_phone: bool,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

impl From<CitizenForm> for CitizenInput {
    fn from(form: CitizenForm) -> Self {
        CitizenInput {
            full_name: form.full_name,
            gender: form.gender,
            birth: form.birth,
            village: form.village,
            phone: non_empty(form.phone),
            cccd: non_empty(form.cccd),
            note: non_empty(form.note),
            consent: form.consent,
            ..Default::default()
        }
    }
}

impl AppState {
    pub fn open(db: &Path, out_dir: PathBuf) -> CommandResult<Self> {
        Ok(Self {
            store: Mutex::new(Store::open(db)?),
            out_dir,
        })
    }

    fn store(&self) -> CommandResult<MutexGuard<'_, Store>> {
        self.store
            .lock()
            .map_err(|_| CommandError::new("internal", "kho dữ liệu đang bị khóa"))
    }

    pub fn overview(&self) -> CommandResult<Overview> {
        let store = self.store()?;
        let team = store.team().ok();
        let report = store.report(&Default::default())?;
        Ok(Overview {
            citizens: store.list_citizens(Default::default())?.len(),
            sessions: store.sessions()?.len(),
            people_reached: report.totals.people,
            achieved: report.totals.achieved,
            outbox: store.outbox_status()?,
            sync: store.sync_status()?,
            team,
        })
    }

    pub fn init_team(&self, form: TeamForm) -> CommandResult<TeamInfo> {
        Ok(self.store()?.init_team(NewTeam {
            name: form.name,
            organisation: form.organisation,
            province_code: form.province_code,
            commune_code: form.commune_code,
            volunteer: form.volunteer,
        })?)
    }

    pub fn enroll(&self, server: &str, code: &str, volunteer: &str) -> CommandResult<TeamInfo> {
        Ok(self.store()?.enroll(server.trim(), code, Some(volunteer))?)
    }

    pub fn search_citizens(&self, query: &str) -> CommandResult<Vec<CitizenV1>> {
        Ok(self.store()?.search_citizens(query, 30)?)
    }

    pub fn list_citizens(&self) -> CommandResult<Vec<CitizenV1>> {
        Ok(self.store()?.list_citizens(Default::default())?)
    }

    pub fn add_citizen(&self, form: CitizenForm) -> CommandResult<AddedCitizen> {
        Ok(self.store()?.add_citizen(form.into())?)
    }

    pub fn update_citizen(&self, id: CitizenId, form: CitizenForm) -> CommandResult<CitizenV1> {
        Ok(self.store()?.update_citizen(id, form.into())?)
    }

    /// With `commit` false, a preview: every row checked, nothing stored.
    pub fn import_citizens(
        &self,
        name: &str,
        bytes: Vec<u8>,
        commit: bool,
    ) -> CommandResult<ImportReport> {
        Ok(self.store()?.import_citizens_from(
            name,
            bytes,
            ImportOptions {
                skip_invalid: true,
                dry_run: !commit,
            },
        )?)
    }

    pub fn add_session(&self, form: SessionForm) -> CommandResult<SessionDetail> {
        Ok(self.store()?.add_session(SessionInput {
            date: form.date,
            time: non_empty(form.time),
            place: form.place,
            village: non_empty(form.village),
            skills: form.skills,
            volunteers: Vec::new(),
            note: non_empty(form.note),
            attendees: form
                .attendees
                .into_iter()
                .map(|a| AttendeeInput {
                    citizen_id: a.citizen_id,
                    achieved: a.achieved,
                })
                .collect(),
        })?)
    }

    pub fn sessions(&self) -> CommandResult<Vec<SessionSummary>> {
        Ok(self.store()?.sessions()?)
    }

    pub fn session_detail(&self, id: SessionId) -> CommandResult<SessionDetail> {
        Ok(self.store()?.session(id)?)
    }

    pub fn skills(&self) -> CommandResult<sotay_core::refdata::SkillCatalogue> {
        Ok(self.store()?.catalogue()?.into_owned())
    }

    pub fn sync_now(&self, progress: &mut dyn FnMut(SyncProgress)) -> CommandResult<SyncSummary> {
        Ok(self.store()?.sync(&SyncConfig::default(), progress)?)
    }

    /// Writes the sheet's PDF into the output folder and returns its path.
    pub fn print_sheet(&self, id: SessionId, form: SheetForm) -> CommandResult<PathBuf> {
        let data = self.store()?.sheet(
            id,
            &SheetOptions {
                blank_rows: form.blank_rows,
                invite: form.invite,
                show_phone: form.show_phone,
                landscape: form.landscape,
            },
        )?;
        let pdf = sotay_sheets::render_pdf(&data)?;
        let path = self.out_path(&format!("diem-danh-{id}.pdf"))?;
        std::fs::write(&path, pdf).map_err(|e| CommandError::new("file", e.to_string()))?;
        Ok(path)
    }

    pub fn export_report(
        &self,
        from: Option<String>,
        to: Option<String>,
    ) -> CommandResult<PathBuf> {
        let report = self.store()?.report(&sotay_core::report::ReportOptions {
            from: non_empty(from),
            to: non_empty(to),
            by: Vec::new(),
        })?;
        let path = self.out_path("bao-cao-binh-dan-hoc-vu-so.xlsx")?;
        sotay_core::report::write_xlsx(&report, &path)?;
        Ok(path)
    }

    fn out_path(&self, name: &str) -> CommandResult<PathBuf> {
        std::fs::create_dir_all(&self.out_dir)
            .map_err(|e| CommandError::new("file", e.to_string()))?;
        Ok(self.out_dir.join(name))
    }

    /// Whether there is something to send and the server answers on its port: the background
    /// sync's cue to try.
    pub fn should_sync_in_background(&self) -> bool {
        let Ok(store) = self.store() else {
            return false;
        };
        let (Ok(status), Ok(outbox)) = (store.sync_status(), store.outbox_status()) else {
            return false;
        };
        let Some(server) = status.server.filter(|_| status.enrolled) else {
            return false;
        };
        drop(store);
        outbox.pending > 0 && reachable(&server)
    }
}

/// A TCP connection to the server's host and port within two seconds.
fn reachable(server: &str) -> bool {
    use std::net::ToSocketAddrs;
    let without_scheme = server
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let host_port = without_scheme.split('/').next().unwrap_or_default();
    let with_port = if host_port.contains(':') {
        host_port.to_owned()
    } else if server.starts_with("https://") {
        format!("{host_port}:443")
    } else {
        format!("{host_port}:80")
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::open(&dir.path().join("app.sqlite"), dir.path().join("out")).unwrap();
        (state, dir)
    }

    fn team(state: &AppState) {
        state
            .init_team(TeamForm {
                name: "Đội TNTN Hàm Rồng".into(),
                organisation: Organisation::YouthUnion,
                province_code: "38".into(),
                commune_code: "14758".into(),
                volunteer: "Lê Thị Hoa".into(),
            })
            .unwrap();
    }

    #[test]
    fn a_form_error_carries_each_field_for_the_ui() {
        let (state, _dir) = state();
        team(&state);
        let err = state
            .add_citizen(CitizenForm {
                full_name: "".into(),
                gender: "nữ".into(),
                birth: "31/02/1960".into(),
                village: "Thôn Đông".into(),
                phone: Some("0212".into()),
                cccd: None,
                note: None,
                consent: true,
            })
            .unwrap_err();
        assert_eq!(err.kind, "invalid");
        let fields: Vec<_> = err.fields.iter().map(|f| f.field).collect();
        assert_eq!(fields.len(), 3, "{fields:?}");
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["kind"], "invalid");
        assert_eq!(json["fields"][0]["field"], "full_name");
    }

    #[test]
    fn import_previews_then_commits_and_sessions_print() {
        let (state, dir) = state();
        team(&state);
        let csv = "Họ và tên,Giới tính,Năm sinh,Thôn/Xóm,Số điện thoại\n\
                   Lê Văn An,Nam,1950,Thôn Đông,0912345678\n\
                   Trần Thị Bình,Nữ,1960,Thôn Tây,0212\n";
        let preview = state
            .import_citizens("ds.csv", csv.as_bytes().to_vec(), false)
            .unwrap();
        assert_eq!((preview.added, preview.invalid.len()), (1, 1));
        assert!(
            state.list_citizens().unwrap().is_empty(),
            "a preview stores nothing"
        );
        let done = state
            .import_citizens("ds.csv", csv.as_bytes().to_vec(), true)
            .unwrap();
        assert!(done.committed);
        let an = state.search_citizens("an").unwrap()[0].id;
        let edited = state
            .update_citizen(
                an,
                CitizenForm {
                    full_name: "Lê Văn Ân".into(),
                    gender: "nam".into(),
                    birth: "1950".into(),
                    village: "Thôn Đông".into(),
                    phone: Some("0912345678".into()),
                    cccd: None,
                    note: None,
                    consent: true,
                },
            )
            .unwrap();
        assert_eq!(edited.full_name, "Lê Văn Ân");
        let detail = state
            .add_session(SessionForm {
                date: "2026-11-20".into(),
                time: Some("".into()),
                place: "Nhà văn hóa".into(),
                village: None,
                skills: vec!["VNEID1".into()],
                note: None,
                attendees: vec![AttendeeForm {
                    citizen_id: an,
                    achieved: vec!["VNEID1".into()],
                }],
            })
            .unwrap();
        let overview = state.overview().unwrap();
        assert_eq!(
            (overview.citizens, overview.sessions, overview.achieved),
            (1, 1, 1)
        );
        let pdf = state
            .print_sheet(detail.session.id, SheetForm::default())
            .unwrap();
        assert!(pdf.starts_with(dir.path()));
        assert!(std::fs::read(pdf).unwrap().starts_with(b"%PDF"));
        let xlsx = state.export_report(None, None).unwrap();
        assert!(std::fs::read(xlsx).unwrap().starts_with(b"PK"));
    }

    #[test]
    fn an_unreachable_server_is_not_tried_in_the_background() {
        assert!(!reachable("http://127.0.0.1:9"));
        let (state, _dir) = state();
        assert!(!state.should_sync_in_background(), "not enrolled");
    }
}
