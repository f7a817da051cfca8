// Self-test data for replicate.mjs only: `node gen-sample.mjs <n> > /tmp/docs.jsonl`.
// The real docs come from the Rust bench; these just have the same mix (20,000 citizens :
// 800 sessions : 20,000 attendances) and roughly the same size (~300 bytes), shaped loosely
// after sotay-protocol's CitizenV1/SessionV1/AttendanceV1 so the byte counts are comparable.
import { randomUUID } from 'node:crypto';

const n = Number(process.argv[2]);
if (!Number.isInteger(n) || n < 1) {
  console.error('usage: node gen-sample.mjs <n> > docs.jsonl');
  process.exit(2);
}

// Deterministic PRNG so two runs of the self-test replicate the same bytes (UUIDs aside).
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const digits = (k) => Array.from({ length: k }, () => Math.floor(rnd() * 10)).join('');

const ho = ['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Huỳnh', 'Phan', 'Vũ', 'Võ', 'Đặng', 'Bùi', 'Đỗ'];
const dem = ['Văn', 'Thị', 'Hữu', 'Đức', 'Minh', 'Ngọc', 'Thanh', 'Quang', 'Thu', 'Xuân'];
const ten = ['An', 'Bình', 'Chi', 'Dũng', 'Hà', 'Hải', 'Hoa', 'Hùng', 'Lan', 'Linh', 'Mai', 'Nam', 'Phương', 'Sơn', 'Tâm', 'Thảo', 'Trang', 'Tuấn', 'Yến'];
const villages = ['Thôn Đông', 'Thôn Tây', 'Bản Na Hối', 'Thôn Phú Mỹ', 'Xóm Chùa', 'Bản Pá Khoang'];
const skills = ['vneid', 'banking', 'scam-awareness', 'telehealth', 'zalo'];
const team = randomUUID();

const total = { citizen: Math.round((n * 20000) / 40800), session: Math.max(1, Math.round((n * 800) / 40800)) };
total.attendance = Math.max(0, n - total.citizen - total.session);
const citizens = Array.from({ length: total.citizen }, randomUUID);
const sessions = Array.from({ length: total.session }, randomUUID);

// Buffer output: 40k console.log calls on a pipe are noticeably slower.
const out = [];
for (const id of citizens) {
  const year = 1940 + Math.floor(rnd() * 70);
  out.push({
    _id: `citizen:${id}`, type: 'citizen', team_id: team,
    full_name: `${pick(ho)} ${pick(dem)} ${pick(ten)}`, gender: pick(['female', 'male']),
    birth_year: year, birth_date: rnd() < 0.6 ? `${year}-0${1 + Math.floor(rnd() * 9)}-1${Math.floor(rnd() * 9)}` : null,
    village: pick(villages), commune_code: `0${digits(4)}`,
    phone: rnd() < 0.7 ? `09${digits(8)}` : null, cccd: rnd() < 0.5 ? `0${digits(11)}` : null,
    groups: rnd() < 0.3 ? ['elderly'] : [],
    consent: { given: true, date: '2024-05-12', recorded_by: `${pick(ho)} ${pick(ten)}` },
    note: null,
  });
}
for (const id of sessions) {
  out.push({
    _id: `session:${id}`, type: 'session', team_id: team,
    date: `2024-0${1 + Math.floor(rnd() * 9)}-2${Math.floor(rnd() * 8)}`, time: '08:30',
    place: `Nhà văn hoá ${pick(villages)}`, village: pick(villages), commune_code: `0${digits(4)}`,
    volunteers: [randomUUID(), randomUUID()], skills: [pick(skills), pick(skills)], note: null,
  });
}
for (let i = 0; i < total.attendance; i++) {
  out.push({
    _id: `attendance:${randomUUID()}`, type: 'attendance', team_id: team,
    session_id: pick(sessions), citizen_id: pick(citizens), present: rnd() < 0.9,
    outcomes: [{ skill: pick(skills), outcome: pick(['learned', 'needs_follow_up', 'done']) }],
  });
}
process.stdout.write(out.map((d) => JSON.stringify(d)).join('\n') + '\n');
