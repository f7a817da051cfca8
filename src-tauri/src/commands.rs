//! The commands the web view may call (each granted in `capabilities/main.json`). Each unpacks
//! its arguments, calls one use case of the application layer and returns its result or
//! `{kind, message}`. None of them takes SQL or a file path from the page: files come in as
//! bytes and go out to the app's own output folder.

use crate::error::{CommandError, CommandResult};
use sotay_application::{
    App, AppError, Drive, ErrorPayload, LocalSettings, Overview, PrintedSheet, ReportFormat,
    ReportRequest, WrittenFile, WrittenReport,
};
use sotay_core::refdata::{Province, SkillCatalogue};
use sotay_core::report::Report;
use sotay_core::sheet::SheetOptions;
use sotay_core::{
    AddedCitizen, CitizenHistory, CitizenInput, CitizenPage, CitizenPatch, ConflictEntry,
    DuplicateGroup, ImportConsent, ImportOptions, ImportReport, NewTeam, SessionDetail,
    SessionInput, SessionSummary, TeamInfo,
};
use sotay_protocol::{CitizenId, CitizenV1, SessionId};
use sotay_sync::{SyncConfig, SyncProgress, SyncSummary};
use tauri::ipc::Channel;
use tauri::State;

/// How many matches a search shows at a time; the page asks for the next ones.
const SEARCH_PAGE: usize = 50;

/// Every command, for the real app and for tests on Tauri's mock runtime alike.
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![
        crate::gate::app_state,
        crate::gate::unlock,
        crate::gate::restore_backup,
        change_passphrase,
        admin_units,
        set_target,
        init_team,
        enroll,
        reenroll,
        search_citizens,
        add_citizen,
        update_citizen,
        forget_citizen,
        citizen_history,
        mark_achieved,
        import_citizens,
        skills,
        add_session,
        sessions,
        session_detail,
        edit_session,
        duplicates,
        merge_citizens,
        sync_now,
        conflicts,
        use_lost_value,
        print_sheet,
        report,
        export_report,
        open_saved,
        local_settings,
        set_output_folder,
        move_data,
        backup,
        drives,
        backup_to_drive,
    ]
}

/// Re-encrypts the database under a new passphrase, once the current one is typed again.
#[tauri::command(async)]
fn change_passphrase(app: State<'_, App>, current: String, new: String) -> CommandResult<()> {
    Ok(app.change_passphrase(&current, &new)?)
}

/// The adult population and targets of the team's commune, as an official gives them.
#[tauri::command(async)]
fn set_target(
    app: State<'_, App>,
    adult_population: u64,
    basic_pct: u32,
    confirmed_pct: u32,
) -> CommandResult<Overview> {
    Ok(app.set_team_target(adult_population, basic_pct, confirmed_pct)?)
}

/// Provinces and their communes, for the first-run form's choices.
#[tauri::command(async)]
fn admin_units(app: State<'_, App>) -> Vec<Province> {
    app.admin_units()
}

#[tauri::command(async)]
fn init_team(app: State<'_, App>, team: NewTeam) -> CommandResult<TeamInfo> {
    Ok(app.init_team(team)?)
}

#[tauri::command]
async fn enroll(
    app: State<'_, App>,
    server: String,
    code: String,
    volunteer: String,
    fingerprint: Option<String>,
) -> CommandResult<TeamInfo> {
    Ok(app
        .enroll(&server, &code, Some(&volunteer), fingerprint.as_deref())
        .await?)
}

/// Enrols again with a new code (the admin revoked this laptop, or the server moved): same
/// team, every record sent and pulled again at the next sync.
#[tauri::command]
async fn reenroll(
    app: State<'_, App>,
    server: String,
    code: String,
    fingerprint: Option<String>,
) -> CommandResult<TeamInfo> {
    Ok(app.reenroll(&server, &code, fingerprint.as_deref()).await?)
}

/// Best matches first, with the total; an empty query pages through the register.
#[tauri::command(async)]
fn search_citizens(
    app: State<'_, App>,
    query: String,
    offset: Option<usize>,
) -> CommandResult<CitizenPage> {
    Ok(app.search_page(&query, offset.unwrap_or(0), SEARCH_PAGE)?)
}

#[tauri::command(async)]
fn add_citizen(app: State<'_, App>, citizen: CitizenInput) -> CommandResult<AddedCitizen> {
    Ok(app.add_citizen(citizen)?)
}

/// Changes only the fields the page sends.
#[tauri::command(async)]
fn update_citizen(
    app: State<'_, App>,
    id: CitizenId,
    patch: CitizenPatch,
) -> CommandResult<CitizenV1> {
    Ok(app.update_citizen(id, patch)?)
}

/// The person with every session they attended, skills taught and outcomes.
#[tauri::command(async)]
fn citizen_history(app: State<'_, App>, id: CitizenId) -> CommandResult<CitizenHistory> {
    Ok(app.citizen_history(id)?)
}

/// Marks a skill achieved after its session, confirmed today by `confirmed_by`.
#[tauri::command(async)]
fn mark_achieved(
    app: State<'_, App>,
    citizen: CitizenId,
    session: SessionId,
    skill: String,
    confirmed_by: String,
) -> CommandResult<CitizenHistory> {
    Ok(app.mark_achieved(citizen, session, &skill, &confirmed_by, None)?)
}

/// Erases the person's personal data at their request (the page asks to confirm first).
#[tauri::command(async)]
fn forget_citizen(app: State<'_, App>, id: CitizenId) -> CommandResult<CitizenV1> {
    Ok(app.forget_citizen(id)?)
}

/// The header carrying `import_citizens`' arguments other than the file.
pub const IMPORT_ARGUMENTS_HEADER: &str = "sotay-import";

/// `import_citizens`' arguments other than the file, as JSON in [`IMPORT_ARGUMENTS_HEADER`]
/// (escaped to ASCII, as a header must be). `add_anyway`: the rows the volunteer marked as new
/// people among the possible duplicates; `consent`: who collected the consent of everyone on a
/// list without a consent column, and when.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportArguments {
    name: String,
    commit: bool,
    add_anyway: Option<Vec<usize>>,
    consent: Option<ImportConsent>,
}

/// With `commit` false, a preview: every row checked, nothing stored. The file is the request's
/// raw body: sent as JSON it was an array of numbers four times its size, which the page built,
/// WebKit carried and the app parsed twice per import (preview, commit).
#[tauri::command(async)]
fn import_citizens(
    app: State<'_, App>,
    request: tauri::ipc::Request<'_>,
) -> CommandResult<ImportReport> {
    let (bytes, arguments): (_, ImportArguments) =
        file_and_arguments(&request, IMPORT_ARGUMENTS_HEADER)?;
    let options = ImportOptions {
        skip_invalid: true,
        dry_run: !arguments.commit,
        add_anyway: arguments.add_anyway.unwrap_or_default(),
        consent: arguments.consent,
    };
    Ok(app.import_citizens_bytes(&arguments.name, bytes.into_owned(), options)?)
}

/// A command that takes a file: the file as the request's raw body ([`file_bytes`]), the other
/// arguments as JSON in `header` (the page escapes them to ASCII, as a header must be: `asciiJson`).
pub(crate) fn file_and_arguments<'a, T: serde::de::DeserializeOwned>(
    request: &'a tauri::ipc::Request<'_>,
    header: &str,
) -> CommandResult<(std::borrow::Cow<'a, [u8]>, T)> {
    let malformed = || {
        CommandError(ErrorPayload::new(
            "bad_request",
            "Yêu cầu gửi tệp không đúng dạng.",
            "The request carrying the file is malformed.",
        ))
    };
    let bytes = file_bytes(request.body()).ok_or_else(malformed)?;
    let arguments = request
        .headers()
        .get(header)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str(v).ok())
        .ok_or_else(malformed)?;
    Ok((bytes, arguments))
}

/// The file a request carries. Tauri sends it as the raw body; where a webview refuses the IPC
/// protocol, Tauri falls back to `postMessage`, which carries the same bytes as a JSON array of
/// numbers: slower, but the volunteer's import or restore still works.
fn file_bytes(body: &tauri::ipc::InvokeBody) -> Option<std::borrow::Cow<'_, [u8]>> {
    match body {
        tauri::ipc::InvokeBody::Raw(bytes) => Some(std::borrow::Cow::Borrowed(bytes)),
        tauri::ipc::InvokeBody::Json(serde_json::Value::Array(numbers)) => numbers
            .iter()
            .map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect::<Option<Vec<u8>>>()
            .map(std::borrow::Cow::Owned),
        tauri::ipc::InvokeBody::Json(_) => None,
    }
}

#[tauri::command(async)]
fn skills(app: State<'_, App>) -> CommandResult<SkillCatalogue> {
    Ok(app.skills()?)
}

#[tauri::command(async)]
fn add_session(app: State<'_, App>, session: SessionInput) -> CommandResult<SessionDetail> {
    Ok(app.record_session(session)?)
}

#[tauri::command(async)]
fn sessions(app: State<'_, App>) -> CommandResult<Vec<SessionSummary>> {
    Ok(app.sessions()?)
}

#[tauri::command(async)]
fn session_detail(app: State<'_, App>, id: SessionId) -> CommandResult<SessionDetail> {
    Ok(app.session(id)?)
}

/// Groups of records that may be one person, strongest reason first.
#[tauri::command(async)]
fn duplicates(app: State<'_, App>) -> CommandResult<Vec<DuplicateGroup>> {
    Ok(app.duplicates()?)
}

/// Merges `other` into `keep`: one person with both histories; syncs like any edit.
#[tauri::command(async)]
fn merge_citizens(
    app: State<'_, App>,
    keep: CitizenId,
    other: CitizenId,
) -> CommandResult<CitizenV1> {
    Ok(app.merge_citizens(keep, other)?)
}

/// Corrects a past session; only what changed is recorded and synced.
#[tauri::command(async)]
fn edit_session(
    app: State<'_, App>,
    id: SessionId,
    session: SessionInput,
) -> CommandResult<SessionDetail> {
    Ok(app.edit_session(id, session)?)
}

/// Values that lost a merge, newest first.
#[tauri::command(async)]
fn conflicts(app: State<'_, App>) -> CommandResult<Vec<ConflictEntry>> {
    Ok(app.conflicts()?)
}

/// Puts a lost value back, as a new edit that syncs.
#[tauri::command(async)]
fn use_lost_value(app: State<'_, App>, id: i64) -> CommandResult<()> {
    Ok(app.use_lost_value(id)?)
}

/// Syncs now, streaming "records X of Y" to the page through `on_progress`.
#[tauri::command]
async fn sync_now(
    app: State<'_, App>,
    on_progress: Channel<SyncProgress>,
) -> CommandResult<SyncSummary> {
    let mut progress = |p: SyncProgress| {
        let _ = on_progress.send(p);
    };
    Ok(app.sync(&SyncConfig::default(), &mut progress).await?)
}

#[tauri::command(async)]
fn print_sheet(
    app: State<'_, App>,
    id: SessionId,
    options: SheetOptions,
) -> CommandResult<PrintedSheet> {
    Ok(app.print_sheet(id, &options, None)?)
}

/// The progress report over the period (`YYYY-MM-DD`, either end open), for the Reports screen.
#[tauri::command(async)]
fn report(app: State<'_, App>, from: Option<String>, to: Option<String>) -> CommandResult<Report> {
    let request = ReportRequest {
        from,
        to,
        ..Default::default()
    };
    Ok(app.report(&request)?)
}

#[tauri::command(async)]
fn export_report(
    app: State<'_, App>,
    from: Option<String>,
    to: Option<String>,
) -> CommandResult<WrittenReport> {
    let request = ReportRequest {
        from,
        to,
        by: Vec::new(),
        format: ReportFormat::Xlsx,
    };
    Ok(app.write_report(&request, None)?)
}

/// Opens a file Sổ Tay saved (a printed sheet, a report, a backup) with the desktop's program
/// for it or, with `folder`, the folder that holds it. Any path outside the output folder is
/// refused.
#[tauri::command(async)]
fn open_saved(app: State<'_, App>, path: String, folder: bool) -> CommandResult<()> {
    let path = app.written_path(&path)?;
    let target = match path.parent() {
        Some(parent) if folder && !path.is_dir() => parent.to_path_buf(),
        _ => path,
    };
    tauri_plugin_opener::open_path(&target, None::<&str>).map_err(|e| {
        AppError::Refused {
            kind: "open",
            message: format!("không mở được “{}”: {e}", target.display()),
            message_en: format!("could not open “{}”: {e}", target.display()),
        }
        .into()
    })
}

/// The database file and the folder for saved files, for the Settings screen.
#[tauri::command(async)]
fn local_settings(app: State<'_, App>) -> CommandResult<LocalSettings> {
    Ok(app.local_settings()?)
}

/// Moves the data file into another folder; the app goes on with it there, and finds it there
/// at the next start.
#[tauri::command(async)]
fn move_data(app: State<'_, App>, folder: String) -> CommandResult<LocalSettings> {
    app.move_data(&folder)?;
    Ok(app.local_settings()?)
}

/// Chooses that folder (empty: back to the default); it must accept a file.
#[tauri::command(async)]
fn set_output_folder(app: State<'_, App>, folder: String) -> CommandResult<String> {
    Ok(app.set_output_folder(&folder)?.display().to_string())
}

/// The USB sticks and drives plugged in now.
#[tauri::command(async)]
fn drives(app: State<'_, App>) -> Vec<Drive> {
    app.drives()
}

/// A copy of all data straight onto a drive `drives` listed (any other path is refused).
#[tauri::command(async)]
fn backup_to_drive(app: State<'_, App>, drive: String) -> CommandResult<WrittenFile> {
    Ok(app.backup_to_drive(&drive)?)
}

/// A copy of all data into the output folder (for a USB stick).
#[tauri::command(async)]
fn backup(app: State<'_, App>) -> CommandResult<WrittenFile> {
    Ok(app.backup(None)?)
}
