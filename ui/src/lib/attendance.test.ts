import { describe, expect, it } from "vitest";
import { AttendanceDraft } from "./attendance";

const person = (id: string) => ({ id, full_name: `Người ${id}`, birth_year: 1960, village: "Đông" });

describe("AttendanceDraft", () => {
  it("adds each person once, newest first", () => {
    const d = new AttendanceDraft();
    expect(d.add(person("a"))).toBe(true);
    expect(d.add(person("b"))).toBe(true);
    expect(d.add(person("a"))).toBe(false);
    expect(d.attendees.map((a) => a.person.id)).toEqual(["b", "a"]);
  });

  it("toggles achievements per skill and counts them", () => {
    const d = new AttendanceDraft();
    d.add(person("a"));
    d.toggle("a", "VNEID1");
    d.toggle("a", "4.1");
    d.toggle("a", "4.1");
    expect(d.attendees[0].achieved).toEqual(["VNEID1"]);
    expect(d.achievedCount()).toBe(1);
  });

  it("forgets achievements of skills dropped from the session", () => {
    const d = new AttendanceDraft();
    d.add(person("a"));
    d.toggle("a", "VNEID1");
    d.toggle("a", "0.1");
    d.keepSkills(["0.1"]);
    expect(d.toForm()).toEqual([{ citizen_id: "a", achieved: ["0.1"] }]);
  });

  it("removes a person", () => {
    const d = new AttendanceDraft();
    d.add(person("a"));
    d.add(person("b"));
    d.remove("a");
    expect(d.toForm().map((a) => a.citizen_id)).toEqual(["b"]);
  });

  it("handles 40 attendees", () => {
    const d = new AttendanceDraft();
    for (let i = 0; i < 40; i++) d.add(person(String(i)));
    expect(d.attendees).toHaveLength(40);
  });
});
