import { describe, expect, it } from "vitest";
import { asciiJson, dateVi, parseDateVi, percent, todayIso } from "./format";

describe("format", () => {
  it("writes JSON a header can carry, diacritics and all", () => {
    const value = { name: "Danh sách thôn Đồng Tâm 😀.xlsx", consent: { collected_by: "Cán bộ xã" } };
    const text = asciiJson(value);
    expect(/^[\x20-\x7e]*$/.test(text)).toBe(true);
    expect(JSON.parse(text)).toEqual(value);
  });

  it("writes dates the Vietnamese way", () => {
    expect(dateVi("2026-11-20")).toBe("20/11/2026");
    expect(dateVi("bad")).toBe("bad");
  });

  it("computes progress without dividing by zero", () => {
    expect(percent(0, 0)).toBe(100);
    expect(percent(1, 3)).toBe(33);
    expect(percent(5, 3)).toBe(100);
  });

  it("reads dates typed day first, whatever the system locale", () => {
    expect(parseDateVi("20/11/2026")).toBe("2026-11-20");
    expect(parseDateVi(" 5/3/2026 ")).toBe("2026-03-05");
    expect(parseDateVi("05-03-2026")).toBe("2026-03-05");
    expect(parseDateVi("05.03.2026")).toBe("2026-03-05");
    expect(parseDateVi("29/02/2028")).toBe("2028-02-29");
    for (const bad of ["31/02/2026", "29/02/2027", "11/28/2026", "2026-11-20", "20/11/26", "", "hôm nay"]) {
      expect(parseDateVi(bad), bad).toBeNull();
    }
    expect(parseDateVi(dateVi("2026-12-11"))).toBe("2026-12-11");
  });

  it("gives today's local date", () => {
    expect(todayIso(new Date(2026, 10, 5))).toBe("2026-11-05");
  });
});
