// Display formats for Vietnamese users.

/** `2026-11-20` → `20/11/2026`. */
export function dateVi(iso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : iso;
}

/** An RFC 3339 timestamp as local `dd/mm/yyyy hh:mm`. */
export function dateTimeVi(rfc3339: string | null | undefined): string {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getDate())}/${p(d.getMonth() + 1)}/${d.getFullYear()} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Progress as a whole percentage, 0 when there is nothing to do. */
export function percent(done: number, total: number): number {
  if (total <= 0) return 100;
  return Math.min(100, Math.round((done * 100) / total));
}

/**
 * A date typed the Vietnamese way — `20/11/2026`, also `20-11-2026`, `20.11.2026` or `5/3/2026` —
 * as `YYYY-MM-DD`; null when it is not a real date. The browser's own date picker follows the
 * operating system's locale (an English Windows shows and reads month/day), so every date in the
 * app is typed as text and read here.
 */
export function parseDateVi(text: string): string | null {
  const m = /^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*$/.exec(text);
  if (!m) return null;
  const [day, month, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) {
    return null;
  }
  const p = (n: number) => String(n).padStart(2, "0");
  return `${year}-${p(month)}-${p(day)}`;
}

/** Today as `YYYY-MM-DD` in local time. */
export function todayIso(now: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}`;
}

/** `value` as JSON in ASCII only (every other character as a `\uXXXX` escape): what an HTTP
 * header can carry, read back as the same JSON. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}
