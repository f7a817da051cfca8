// Calls into the desktop shell. The page never sends SQL or paths to read: only commands with
// typed arguments, answered with data or `{kind, message}`. Every type that crosses the boundary
// is generated from the Rust types (bindings.ts), so the page cannot drift from the core.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AddedCitizen,
  CitizenHistory,
  CitizenInput,
  CitizenPage,
  CitizenPatch,
  CitizenV1,
  ConflictEntry,
  Drive,
  DuplicateGroup,
  ErrorPayload,
  ImportConsent,
  ImportReport,
  LocalSettings,
  NewTeam,
  Overview,
  PrintedSheet,
  Province,
  Report,
  SessionDetail,
  SessionInput,
  SessionSummary,
  SheetOptions,
  SkillCatalogue,
  SyncProgress,
  SyncSummary,
  TeamInfo,
  WrittenFile,
  WrittenReport,
} from "./bindings";
import { asciiJson } from "./format";

export type * from "./bindings";
export type Citizen = CitizenV1;
export type CommandError = ErrorPayload;

export const api = {
  /** The overview once the store is open; before, it throws why not (`choose_passphrase`,
   * `encrypt_existing` or `locked`). */
  overview: () => invoke<Overview>("app_state"),
  /** Opens the store with the passphrase typed (or chosen, for a new or unencrypted one). */
  unlock: (passphrase: string) => invoke<Overview>("unlock", { passphrase }),
  changePassphrase: (current: string, next: string) =>
    invoke<void>("change_passphrase", { current, new: next }),
  adminUnits: () => invoke<Province[]>("admin_units"),
  /** The adult population and targets (percent) of the team's commune; returns the overview. */
  setTarget: (adultPopulation: number, basicPct: number, confirmedPct: number) =>
    invoke<Overview>("set_target", { adultPopulation, basicPct, confirmedPct }),
  initTeam: (team: NewTeam) => invoke<TeamInfo>("init_team", { team }),
  enroll: (server: string, code: string, volunteer: string, fingerprint: string) =>
    invoke<TeamInfo>("enroll", { server, code, volunteer, fingerprint: fingerprint.trim() || null }),
  /** Enrols again with a new code: same team, everything sent and pulled again. */
  reenroll: (server: string, code: string, fingerprint: string) =>
    invoke<TeamInfo>("reenroll", { server, code, fingerprint: fingerprint.trim() || null }),
  /** Opens a saved file (or, with `folder`, its folder) with the desktop's program. */
  openSaved: (path: string, folder: boolean) => invoke<void>("open_saved", { path, folder }),
  localSettings: () => invoke<LocalSettings>("local_settings"),
  /** Moves the data file into another folder; the app goes on with it there. */
  moveData: (folder: string) => invoke<LocalSettings>("move_data", { folder }),
  setOutputFolder: (folder: string) => invoke<string>("set_output_folder", { folder }),
  /** Best matches first, a page at a time, with how many match in all. */
  searchCitizens: (query: string, offset: number) =>
    invoke<CitizenPage>("search_citizens", { query, offset }),
  addCitizen: (citizen: CitizenInput) => invoke<AddedCitizen>("add_citizen", { citizen }),
  /** Changes only the fields in `patch`; every other field (groups, note…) stays as it is. */
  updateCitizen: (id: string, patch: CitizenPatch) =>
    invoke<CitizenV1>("update_citizen", { id, patch }),
  /** The person with every session they attended, skills taught and outcomes. */
  citizenHistory: (id: string) => invoke<CitizenHistory>("citizen_history", { id }),
  /** Marks a skill achieved after its session, confirmed today by `confirmedBy`. */
  markAchieved: (citizen: string, session: string, skill: string, confirmedBy: string) =>
    invoke<CitizenHistory>("mark_achieved", { citizen, session, skill, confirmedBy }),
  /** Erases the person's name, birth date, phone, CCCD and note at their request. */
  forgetCitizen: (id: string) => invoke<CitizenV1>("forget_citizen", { id }),
  /** Groups of records that may be one person, strongest reason first. */
  duplicates: () => invoke<DuplicateGroup[]>("duplicates"),
  /** Merges `other` into `keep`: one person with both histories; syncs. */
  mergeCitizens: (keep: string, other: string) =>
    invoke<CitizenV1>("merge_citizens", { keep, other }),
  /** A preview (commit false) or the import; `addAnyway`: possible duplicates that are new people.
   * The file goes as the request's raw body, the rest as JSON in a header (see commands.rs). */
  importCitizens: (
    name: string,
    bytes: Uint8Array,
    commit: boolean,
    addAnyway: number[],
    consent: ImportConsent | null,
  ) =>
    invoke<ImportReport>("import_citizens", bytes, {
      headers: { "sotay-import": asciiJson({ name, commit, addAnyway, consent }) },
    }),
  skills: () => invoke<SkillCatalogue>("skills"),
  addSession: (session: SessionInput) => invoke<SessionDetail>("add_session", { session }),
  sessions: () => invoke<SessionSummary[]>("sessions"),
  sessionDetail: (id: string) => invoke<SessionDetail>("session_detail", { id }),
  /** Corrects a past session; only what changed is recorded and synced. */
  editSession: (id: string, session: SessionInput) =>
    invoke<SessionDetail>("edit_session", { id, session }),
  /** Syncs now; `onProgress` hears "X of Y" after each batch. */
  syncNow: (onProgress: (p: SyncProgress) => void) => {
    const channel = new Channel<SyncProgress>();
    channel.onmessage = onProgress;
    return invoke<SyncSummary>("sync_now", { onProgress: channel });
  },
  /** Values that lost a merge, newest first. */
  conflicts: () => invoke<ConflictEntry[]>("conflicts"),
  /** Puts a lost value back, as a new edit that syncs. */
  useLostValue: (id: number) => invoke<void>("use_lost_value", { id }),
  printSheet: (id: string, options: Partial<SheetOptions>) =>
    invoke<PrintedSheet>("print_sheet", { id, options }),
  /** The progress report over the period (ISO dates; null for an open end). */
  report: (from: string | null, to: string | null) => invoke<Report>("report", { from, to }),
  exportReport: (from: string, to: string) =>
    invoke<WrittenReport>("export_report", { from, to }),
  backup: () => invoke<WrittenFile>("backup"),
  /** USB sticks and drives plugged in now. */
  drives: () => invoke<Drive[]>("drives"),
  /** A backup straight onto a drive `drives` listed. */
  backupToDrive: (drive: string) => invoke<WrittenFile>("backup_to_drive", { drive }),
  /** Only before the store is open: puts a backup (made under `passphrase`) in place of the
   * database; returns where the old file was moved (it is never changed). */
  /** The backup goes as the raw body (as JSON numbers it was four times its size), its
   * passphrase beside it in a header, inside the app's own IPC. */
  restoreBackup: (bytes: Uint8Array, passphrase: string) =>
    invoke<string>("restore_backup", bytes, {
      headers: { "sotay-restore": asciiJson({ passphrase }) },
    }),
  /** Progress of the background sync (a sync started here reports through its own channel). */
  onSyncProgress: (f: (p: SyncProgress) => void): Promise<UnlistenFn> =>
    listen<SyncProgress>("sync-progress", (e) => f(e.payload)),
  onSyncFinished: (f: () => void): Promise<UnlistenFn> => listen("sync-finished", () => f()),
};

type Translate = (key: string, params?: Record<string, string | number>) => string;

/** The kinds `app_state` answers with while the store is not open yet. */
export const LOCK_KINDS = ["choose_passphrase", "encrypt_existing", "locked"];
/** Unlock failures the lock screen shows itself; any other means the database did not open. */
export const UNLOCK_RETRY_KINDS = ["wrong_passphrase", "too_many_attempts", "weak_passphrase"];

/** Whether the interface is in English (the screens only hold `t`). */
const english = (t: Translate) => t("lang.code") === "en";

/** The message of whatever a command threw, in the interface's language. */
export function errorMessage(e: unknown, t: Translate): string {
  if (e && typeof e === "object" && "message" in e) {
    const err = e as CommandError;
    return String(english(t) && err.message_en ? err.message_en : err.message);
  }
  return String(e);
}

/** A field's or a row's reason, in the interface's language. */
export function reasonText(r: { reason: string; reason_en: string }, t: Translate): string {
  return english(t) && r.reason_en ? r.reason_en : r.reason;
}
