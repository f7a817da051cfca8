import { describe, expect, it } from "vitest";
import { dateVi, percent, todayIso } from "./format";

describe("format", () => {
  it("writes dates the Vietnamese way", () => {
    expect(dateVi("2026-11-20")).toBe("20/11/2026");
    expect(dateVi("bad")).toBe("bad");
  });

  it("computes progress without dividing by zero", () => {
    expect(percent(0, 0)).toBe(100);
    expect(percent(1, 3)).toBe(33);
    expect(percent(5, 3)).toBe(100);
  });

  it("gives today's local date", () => {
    expect(todayIso(new Date(2026, 10, 5))).toBe("2026-11-05");
  });
});
