// Every string the user sees comes from a locale file: Vietnamese by default, English on request.
import vi from "../i18n/vi.json";
import en from "../i18n/en.json";

export type Lang = "vi" | "en";
export type Messages = Record<string, string>;

const catalogs: Record<Lang, Messages> = { vi, en };

/** Looks a key up and fills `{name}` placeholders; a missing key shows itself, never blank. */
export function translate(
  lang: Lang,
  key: string,
  params: Record<string, string | number> = {},
): string {
  const template = catalogs[lang][key] ?? catalogs.vi[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name: string) =>
    name in params ? String(params[name]) : `{${name}}`,
  );
}

/** Keys present in one locale but not the other. */
export function missingKeys(): { vi: string[]; en: string[] } {
  const v = Object.keys(catalogs.vi);
  const e = Object.keys(catalogs.en);
  return { vi: e.filter((k) => !v.includes(k)), en: v.filter((k) => !e.includes(k)) };
}
