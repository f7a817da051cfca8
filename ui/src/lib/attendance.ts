// The attendance being marked in a new session: who is present and which skills each person
// achieved. Kept apart from the screen so that it is tested without a window.

export interface Person {
  id: string;
  full_name: string;
  birth_year: number;
  village: string;
}

export interface Attendee {
  person: Person;
  achieved: string[];
}

export class AttendanceDraft {
  attendees: Attendee[] = [];

  has(id: string): boolean {
    return this.attendees.some((a) => a.person.id === id);
  }

  /** Adds a person once; returns false if already present. Newest first, as volunteers add. */
  add(person: Person): boolean {
    if (this.has(person.id)) return false;
    this.attendees = [{ person, achieved: [] }, ...this.attendees];
    return true;
  }

  remove(id: string): void {
    this.attendees = this.attendees.filter((a) => a.person.id !== id);
  }

  toggle(id: string, skill: string): void {
    this.attendees = this.attendees.map((a) => {
      if (a.person.id !== id) return a;
      const achieved = a.achieved.includes(skill)
        ? a.achieved.filter((s) => s !== skill)
        : [...a.achieved, skill];
      return { ...a, achieved };
    });
  }

  /** Drops achievements of skills no longer taught in the session. */
  keepSkills(skills: string[]): void {
    this.attendees = this.attendees.map((a) => ({
      ...a,
      achieved: a.achieved.filter((s) => skills.includes(s)),
    }));
  }

  achievedCount(): number {
    return this.attendees.reduce((n, a) => n + a.achieved.length, 0);
  }

  toForm(): { citizen_id: string; achieved: string[] }[] {
    return this.attendees.map((a) => ({ citizen_id: a.person.id, achieved: a.achieved }));
  }
}
