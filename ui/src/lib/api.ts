// Calls into the desktop shell. The page never sends SQL or paths to read: only commands with
// typed arguments, answered with data or `{kind, message}`.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export interface CommandError {
  kind: string;
  message: string;
  fields?: { field: string; reason: string }[];
  report?: ImportReport;
}

export interface RowError {
  row: number;
  column: string;
  reason: string;
}

export interface ImportReport {
  rows: number;
  added: number;
  committed: boolean;
  already_registered: { row: number; full_name: string }[];
  invalid: RowError[];
  flagged: { row: number; full_name: string }[];
}

export interface Citizen {
  id: string;
  full_name: string;
  gender: "male" | "female" | "other";
  birth_year: number;
  birth_date: string | null;
  village: string;
  phone: string | null;
  cccd: string | null;
}

export interface Skill {
  code: string;
  group: string;
  kind: "skill" | "service";
  name_vi: string;
  short_vi: string;
  name_en: string;
}

export interface Team {
  name: string;
  province_name: string;
  commune_name: string;
}

export interface Overview {
  team: Team | null;
  citizens: number;
  sessions: number;
  people_reached: number;
  achieved: number;
  outbox: { pending: number; last_seq: number };
  sync: {
    server: string | null;
    enrolled: boolean;
    pending: number;
    last_success: string | null;
    last_error: string | null;
  };
}

export interface SessionSummary {
  id: string;
  date: string;
  time: string | null;
  place: string;
  skills: string[];
  attendees: number;
  achieved: number;
}

export interface SyncProgress {
  sent: number;
  total: number;
  bytes_sent: number;
}

export interface SyncSummary {
  pushed: number;
  pulled: number;
  duplicates: number;
  pending: number;
}

export const api = {
  overview: () => invoke<Overview>("app_state"),
  adminUnits: () =>
    invoke<{ code: string; name: string; communes: { code: string; name: string }[] }[]>(
      "admin_units",
    ),
  initTeam: (form: Record<string, string>) => invoke<Team>("init_team", { form }),
  enroll: (server: string, code: string, volunteer: string) =>
    invoke<Team>("enroll", { server, code, volunteer }),
  searchCitizens: (query: string) => invoke<Citizen[]>("search_citizens", { query }),
  listCitizens: () => invoke<Citizen[]>("list_citizens"),
  addCitizen: (form: Record<string, unknown>) =>
    invoke<{ citizen: Citizen; likely_duplicates: { full_name: string }[] }>("add_citizen", {
      form,
    }),
  updateCitizen: (id: string, form: Record<string, unknown>) =>
    invoke<Citizen>("update_citizen", { id, form }),
  importCitizens: (name: string, bytes: number[], commit: boolean) =>
    invoke<ImportReport>("import_citizens", { name, bytes, commit }),
  skills: () => invoke<{ version: string; skills: Skill[] }>("skills"),
  addSession: (form: Record<string, unknown>) =>
    invoke<{ session: { id: string } }>("add_session", { form }),
  sessions: () => invoke<SessionSummary[]>("sessions"),
  syncNow: () => invoke<SyncSummary>("sync_now"),
  printSheet: (id: string, form: Record<string, unknown>) =>
    invoke<string>("print_sheet", { id, form }),
  exportReport: (from: string, to: string) => invoke<string>("export_report", { from, to }),
  onSyncProgress: (f: (p: SyncProgress) => void): Promise<UnlistenFn> =>
    listen<SyncProgress>("sync-progress", (e) => f(e.payload)),
  onSyncFinished: (f: () => void): Promise<UnlistenFn> => listen("sync-finished", () => f()),
};

/** The message of whatever a command threw, in the user's language (the core's Vietnamese). */
export function errorMessage(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as CommandError).message);
  return String(e);
}
