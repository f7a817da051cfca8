// Generated from the Rust types by sotay-application (src/bindings.rs); do not edit.
// Regenerate: SOTAY_UPDATE_BINDINGS=1 cargo test -p sotay-application --test bindings

export type CitizenId = string;

export type SessionId = string;

export type TeamId = string;

export type VolunteerId = string;

export type DeviceId = string;

export type Gender = "male" | "female" | "other";

export type Group = "elderly" | "woman" | "ethnic_minority" | "disability" | "youth";

export type Organisation = "youth_union" | "womens_union" | "university" | "other";

export type Outcome = "taught" | "achieved";

export type ConsentV1 = { given: boolean, 
/**
 * `YYYY-MM-DD`.
 */
date: string, 
/**
 * Who recorded it: a volunteer's name, or "collected on paper by the commune" for imports.
 */
recorded_by: string, };

export type CitizenV1 = { id: CitizenId, team_id: TeamId, full_name: string, gender: Gender, birth_year: number, 
/**
 * `YYYY-MM-DD` when the full date is known.
 */
birth_date: string | null, village: string, commune_code: string, phone: string | null, cccd: string | null, groups: Array<Group>, consent: ConsentV1, note: string | null, 
/**
 * Set on the deleted one of two records merged as one person: the one kept. Reports
 * count an attendance that arrives later for the merged record as the kept one's.
 */
merged_into?: CitizenId, };

export type SessionV1 = { id: SessionId, team_id: TeamId, 
/**
 * `YYYY-MM-DD`.
 */
date: string, 
/**
 * `HH:MM`, local time.
 */
time: string | null, place: string, village: string | null, commune_code: string, volunteers: Array<VolunteerId>, skills: Array<string>, note: string | null, };

export type SkillOutcomeV2 = { skill: string, outcome: Outcome, confirmed_by?: string | null, 
/**
 * `YYYY-MM-DD`.
 */
confirmed_on?: string | null, };

export type TeamV1 = { id: TeamId, name: string, organisation: Organisation, province_code: string, commune_code: string, };

export type VolunteerV1 = { id: VolunteerId, team_id: TeamId, name: string, };

export type CitizenInput = { full_name: string, gender: string, 
/**
 * `1957` or `dd/mm/yyyy`.
 */
birth: string, village: string, phone?: string, cccd?: string, groups: Array<Group>, note?: string, 
/**
 * Defaults to the team's commune.
 */
commune_code?: string, 
/**
 * The citizen (or the commune, for imported lists) agreed to be recorded.
 */
consent: boolean, };

export type CitizenPatch = { full_name?: string, gender?: string, 
/**
 * `1957` or `dd/mm/yyyy`.
 */
birth?: string, village?: string, phone?: string, cccd?: string, groups?: Array<Group>, note?: string, commune_code?: string, };

export type CitizenPage = { total: number, offset: number, citizens: Array<CitizenV1>, };

export type AddedCitizen = { citizen: CitizenV1, 
/**
 * Existing citizens that may be the same person; the new one is stored all the same, for a
 * volunteer to review.
 */
likely_duplicates: Array<DuplicateMatch>, };

export type DuplicateMatch = { reason: DuplicateReason, citizen_id: CitizenId, full_name: string, birth_year: number, 
/**
 * `YYYY-MM-DD` when known: what tells two people of one name and year apart.
 */
birth_date: string | null, village: string, };

export type DuplicateReason = "same_cccd" | "same_name_phone" | "same_name_birth_village" | "same_phone";

export type DuplicateGroup = { reason: DuplicateReason, citizens: Array<CitizenV1>, };

export type ImportReport = { rows: number, 
/**
 * Rows that are (or would be) stored as new citizens.
 */
added: number, committed: boolean, 
/**
 * Rows of people already in the register, or earlier in the same file: the same CCCD, or
 * the same name and phone. Not stored again.
 */
already_registered: Array<MatchedRow>, 
/**
 * Rows that may be someone registered (the same name, birth year and village, nothing that
 * tells them apart): left out unless the volunteer adds them (`add_anyway`), and listed
 * either way so that nobody is dropped unseen.
 */
possible_duplicates: Array<MatchedRow>, 
/**
 * Rows stored as new people who share a phone with someone registered (a family's phone).
 */
shared_phone: Array<MatchedRow>, invalid: Array<RowError>, };

export type ImportConsent = { collected_by: string, 
/**
 * `dd/mm/yyyy` or `YYYY-MM-DD`.
 */
date: string, };

export type RowError = { row: number, column: string, reason: string, 
/**
 * The same, for the English interface.
 */
reason_en: string, };

export type MatchedRow = { row: number, full_name: string, birth_year: number, birth_date: string | null, village: string, matches: Array<DuplicateMatch>, 
/**
 * Stored as a new person (for a possible duplicate: the volunteer said so).
 */
added: boolean, };

export type SessionInput = { 
/**
 * `YYYY-MM-DD`.
 */
date: string, 
/**
 * `HH:MM`.
 */
time?: string, place: string, village?: string, skills: Array<string>, 
/**
 * Leading volunteers; empty means the volunteer using this laptop.
 */
volunteers: Array<VolunteerId>, note?: string, attendees: Array<AttendeeInput>, };

export type AttendeeInput = { citizen_id: CitizenId, 
/**
 * Skill codes this person achieved; every other skill of the session counts as taught.
 */
achieved: Array<string>, };

export type SessionDetail = { session: SessionV1, volunteer_names: Array<string>, skills: Array<SkillRef>, 
/**
 * In class-list order.
 */
attendees: Array<Attendee>, };

export type Attendee = { citizen: CitizenV1, present: boolean, outcomes: Array<SkillOutcomeV2>, };

export type SkillRef = { code: string, name_vi: string, name_en: string, };

export type SessionSummary = { id: SessionId, date: string, time: string | null, place: string, skills: Array<string>, attendees: number, achieved: number, };

export type SheetOptions = { 
/**
 * Numbered empty rows after the list, for walk-ins.
 */
blank_rows: number, 
/**
 * The pre-session variant: invited citizens, blank result column.
 */
invite: boolean, 
/**
 * Print full phone numbers (default: only the last 3 digits).
 */
show_phone: boolean, landscape: boolean, };

export type CitizenHistory = { citizen: CitizenV1, sessions: Array<AttendedSession>, };

export type AttendedSession = { session_id: SessionId, date: string, time: string | null, place: string, present: boolean, outcomes: Array<OutcomeDetail>, };

export type OutcomeDetail = { skill: SkillRef, outcome: Outcome, confirmed_by: string | null, 
/**
 * `YYYY-MM-DD`.
 */
confirmed_on: string | null, };

export type NewTeam = { name: string, organisation: Organisation, province_code: string, commune_code: string, 
/**
 * The volunteer using this laptop.
 */
volunteer: string, };

export type TeamInfo = { province_name: string, commune_name: string, volunteers: Array<VolunteerV1>, 
/**
 * The volunteer using this laptop.
 */
current_volunteer: VolunteerId | null, id: TeamId, name: string, organisation: Organisation, province_code: string, commune_code: string, };

export type OutboxStatus = { device_id: DeviceId, 
/**
 * Highest sequence number written (0 when nothing was ever recorded).
 */
last_seq: number, pending: number, acknowledged: number, pending_by_entity: Array<EntityCount>, };

export type EntityCount = { entity: string, pending: number, };

export type SkillCatalogue = { version: string, framework: string, groups: Array<SkillGroup>, skills: Array<Skill>, };

export type SkillGroup = { code: string, name_vi: string, name_en: string, };

export type Skill = { code: string, group: string, kind: SkillKind, name_vi: string, 
/**
 * A few words for tight spaces such as the result column of an attendance sheet.
 */
short_vi: string, name_en: string, };

export type SkillKind = "skill" | "service";

export type Province = { code: string, name: string, short_name: string, communes: Array<Commune>, };

export type Commune = { code: string, name: string, };

export type SyncStatus = { 
/**
 * This laptop's ID on the server: what the admin revokes when it is lost.
 */
device_id: DeviceId, server: string | null, 
/**
 * The server certificate's fingerprint pinned at enrolment, to compare with the one the
 * administrator has.
 */
certificate: string | null, enrolled: boolean, pending: number, last_success: string | null, last_attempt: string | null, last_error: string | null, 
/**
 * Records set aside: this laptop's that the server refused, and pulled ones that could not
 * be applied.
 */
quarantined: number, 
/**
 * What the last sync had to tell the volunteer, if anything (Vietnamese, English).
 */
notice: string | null, notice_en: string | null, 
/**
 * Set while this laptop's clock is (or was, for records it stamped) wrong.
 */
clock_warning: string | null, clock_warning_en: string | null, };

export type ConflictEntry = { 
/**
 * What `use_lost_value` takes.
 */
id: number, entity: string, entity_id: string, 
/**
 * Who or what it is about: the citizen's name, or the session's date and place.
 */
subject: string, field: string, lost_value: JsonValue, 
/**
 * The value that won, as it stands now.
 */
current_value: JsonValue, 
/**
 * When the lost value was entered (RFC 3339, from its clock), and whether on this laptop.
 */
lost_at: string, lost_here: boolean, winner_at: string, lost_hlc: string, winner_hlc: string, recorded_at: string, };

export type BundleSummary = { records: number, first_seq: number, last_seq: number, bytes: number, };

export type SyncProgress = { 
/**
 * Records acknowledged so far in this sync.
 */
sent: number, 
/**
 * Records that were pending when the sync started.
 */
total: number, bytes_sent: number, };

export type SyncSummary = { pushed: number, 
/**
 * Records the server already had (sent before an interrupted acknowledgement).
 */
duplicates: number, pulled: number, requests: number, retries: number, bytes_sent: number, bytes_received: number, 
/**
 * Still pending after this sync (0 on success, unless records were added meanwhile).
 */
pending: number, 
/**
 * Records set aside in this sync: this laptop's that the server refused, and pulled ones
 * that could not be applied (see `sotay sync status`).
 */
quarantined: number, 
/**
 * What the volunteer should be told about this sync (a recovery from an old copy), in
 * Vietnamese and English.
 */
notice: string | null, notice_en: string | null, };

export type FieldError = { field: Field, reason: string, 
/**
 * The same, for the English interface.
 */
reason_en: string, };

export type Field = "full_name" | "gender" | "birth_year" | "village" | "phone" | "cccd" | "consent" | "date" | "time" | "place" | "skills" | "attendee" | "team" | "organisation" | "province" | "commune" | "volunteer";

export type Report = { from: string | null, to: string | null, sessions: number, 
/**
 * People reached (distinct), attendances and outcomes over the whole period.
 */
totals: Counts, 
/**
 * Distinct people with at least one achieved outcome.
 */
people_confirmed: number, breakdowns: Array<BreakdownTable>, targets: Array<CommuneProgress>, };

export type Counts = { 
/**
 * Distinct people.
 */
people: number, attendances: number, 
/**
 * Skill outcomes "taught" (shown how).
 */
taught: number, 
/**
 * Skill outcomes "achieved" (done on their own, e.g. VNeID activated).
 */
achieved: number, };

export type BreakdownRow = { group: string, 
/**
 * Distinct people.
 */
people: number, attendances: number, 
/**
 * Skill outcomes "taught" (shown how).
 */
taught: number, 
/**
 * Skill outcomes "achieved" (done on their own, e.g. VNeID activated).
 */
achieved: number, };

export type BreakdownTable = { breakdown: Breakdown, title: string, rows: Array<BreakdownRow>, };

export type Breakdown = "skill" | "gender" | "age" | "village" | "commune" | "province" | "team" | "month";

export type CommuneProgress = { commune_code: string, commune_name: string, adult_population: number, reached: number, reached_pct: number, basic_target_pct: number, basic_met: boolean, confirmed: number, confirmed_pct: number, confirmed_target_pct: number, confirmed_met: boolean, };

export type Overview = { team: TeamInfo | null, citizens: number, sessions: number, 
/**
 * "Số người được tiếp cận", as in the report.
 */
people_reached: number, 
/**
 * "Số người có kết quả đạt", as in the report.
 */
people_confirmed: number, outbox: OutboxStatus, sync: SyncStatus, 
/**
 * Progress against the team's commune targets, once an official has set them.
 */
target: CommuneProgress | null, 
/**
 * People reached and skills achieved month by month, over all records.
 */
by_month: Array<BreakdownRow>, };

export type Drive = { 
/**
 * What the volunteer sees: the stick's label, or its drive letter.
 */
name: string, path: string, };

export type ErrorPayload = { kind: string, message: string, 
/**
 * The same, for the English interface.
 */
message_en: string, 
/**
 * Per-field problems of a form, for showing beside each field.
 */
fields?: Array<FieldError>, 
/**
 * A refused import's report (every bad row), for the preview.
 */
report?: ImportReport, };

export type WrittenFile = { path: string, bytes: number, };

export type LocalSettings = { 
/**
 * The encrypted database file.
 */
database: string, 
/**
 * Whether the app may move it (not when it was named at start with `--db`).
 */
database_movable: boolean, 
/**
 * Where printed sheets, reports and backups go.
 */
output_folder: string, };

export type WrittenReport = { path: string, sessions: number, people: number, people_confirmed: number, attendances: number, };

export type PrintedSheet = { path: string, rows: number, blank_rows: number, };

export type ReportFormat = "xlsx" | "csv" | "json";

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;
