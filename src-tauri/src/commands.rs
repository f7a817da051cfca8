//! The commands the web view may call (each granted in `capabilities/main.json`). They unpack
//! arguments, call the plain functions of `state.rs`, and return `{kind, message}` on error. None
//! of them takes SQL or a file path from the page: files come in as bytes and go out to the
//! app's own output folder.

use crate::error::CommandResult;
use crate::state::{AppState, CitizenForm, Overview, SessionForm, SheetForm, TeamForm};
use serde::Serialize;
use sotay_core::refdata::SkillCatalogue;
use sotay_core::sync::SyncSummary;
use sotay_core::{AddedCitizen, ImportReport, SessionDetail, SessionSummary, TeamInfo};
use sotay_protocol::{CitizenV1, SessionId};
use tauri::{AppHandle, Emitter, State};

#[tauri::command(async)]
pub fn app_state(state: State<'_, AppState>) -> CommandResult<Overview> {
    state.overview()
}

#[derive(Serialize)]
pub struct Place {
    code: String,
    name: String,
}

#[derive(Serialize)]
pub struct ProvinceOption {
    code: String,
    name: String,
    communes: Vec<Place>,
}

/// Provinces and their communes, for the first-run form's choices.
#[tauri::command(async)]
pub fn admin_units() -> Vec<ProvinceOption> {
    sotay_core::refdata::admin_units()
        .provinces
        .iter()
        .map(|p| ProvinceOption {
            code: p.code.clone(),
            name: p.name.clone(),
            communes: p
                .communes
                .iter()
                .map(|c| Place {
                    code: c.code.clone(),
                    name: c.name.clone(),
                })
                .collect(),
        })
        .collect()
}

#[tauri::command(async)]
pub fn init_team(state: State<'_, AppState>, form: TeamForm) -> CommandResult<TeamInfo> {
    state.init_team(form)
}

#[tauri::command(async)]
pub fn enroll(
    state: State<'_, AppState>,
    server: String,
    code: String,
    volunteer: String,
) -> CommandResult<TeamInfo> {
    state.enroll(&server, &code, &volunteer)
}

#[tauri::command(async)]
pub fn search_citizens(state: State<'_, AppState>, query: String) -> CommandResult<Vec<CitizenV1>> {
    state.search_citizens(&query)
}

#[tauri::command(async)]
pub fn list_citizens(state: State<'_, AppState>) -> CommandResult<Vec<CitizenV1>> {
    state.list_citizens()
}

#[tauri::command(async)]
pub fn add_citizen(state: State<'_, AppState>, form: CitizenForm) -> CommandResult<AddedCitizen> {
    state.add_citizen(form)
}

#[tauri::command(async)]
pub fn update_citizen(
    state: State<'_, AppState>,
    id: sotay_protocol::CitizenId,
    form: CitizenForm,
) -> CommandResult<CitizenV1> {
    state.update_citizen(id, form)
}

#[tauri::command(async)]
pub fn import_citizens(
    state: State<'_, AppState>,
    name: String,
    bytes: Vec<u8>,
    commit: bool,
) -> CommandResult<ImportReport> {
    state.import_citizens(&name, bytes, commit)
}

#[tauri::command(async)]
pub fn skills(state: State<'_, AppState>) -> CommandResult<SkillCatalogue> {
    state.skills()
}

#[tauri::command(async)]
pub fn add_session(state: State<'_, AppState>, form: SessionForm) -> CommandResult<SessionDetail> {
    state.add_session(form)
}

#[tauri::command(async)]
pub fn sessions(state: State<'_, AppState>) -> CommandResult<Vec<SessionSummary>> {
    state.sessions()
}

#[tauri::command(async)]
pub fn session_detail(state: State<'_, AppState>, id: SessionId) -> CommandResult<SessionDetail> {
    state.session_detail(id)
}

/// Syncs now, reporting "records X of Y" as `sync-progress` events.
#[tauri::command(async)]
pub fn sync_now(app: AppHandle, state: State<'_, AppState>) -> CommandResult<SyncSummary> {
    state.sync_now(&mut |p| {
        let _ = app.emit("sync-progress", p);
    })
}

#[tauri::command(async)]
pub fn print_sheet(
    state: State<'_, AppState>,
    id: SessionId,
    form: SheetForm,
) -> CommandResult<String> {
    Ok(state.print_sheet(id, form)?.display().to_string())
}

#[tauri::command(async)]
pub fn export_report(
    state: State<'_, AppState>,
    from: Option<String>,
    to: Option<String>,
) -> CommandResult<String> {
    Ok(state.export_report(from, to)?.display().to_string())
}
