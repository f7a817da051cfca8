import { describe, expect, it } from "vitest";
import { missingKeys, translate } from "./i18n";

describe("translate", () => {
  it("is Vietnamese by default with diacritics intact", () => {
    expect(translate("vi", "sync.now")).toBe("Đồng bộ ngay");
    expect(translate("vi", "first.title")).toBe("Chào mừng đến với Sổ Tay");
  });

  it("fills placeholders and leaves unknown ones visible", () => {
    expect(translate("vi", "sync.progress", { sent: 3, total: 10 })).toBe(
      "Đã gửi 3/10 bản ghi",
    );
    expect(translate("en", "sync.progress", { sent: 3 })).toBe("Sent 3 of {total} records");
  });

  it("falls back to Vietnamese, then to the key itself", () => {
    expect(translate("en", "no.such.key")).toBe("no.such.key");
  });

  it("has every key in both languages", () => {
    expect(missingKeys()).toEqual({ vi: [], en: [] });
  });
});
