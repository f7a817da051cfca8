-- Sổ Tay local store, schema 8. Landed: never edit; add 0009_… instead.
-- A report reads every attendance with its outcomes. Read from `outcome` that was two rows per
-- attendance keyed by two text UUIDs, half of the pages a report decrypted; each attendance now
-- carries its outcomes, kept by the one projection that writes both (changes.rs), so a report
-- reads one table. The format, per outcome: `t` (taught) or `a` (achieved), the skill code's
-- length in bytes, `:`, the code, so any code reads back whole (report/tables.rs).
ALTER TABLE attendance ADD COLUMN outcomes TEXT NOT NULL DEFAULT '';
UPDATE attendance SET outcomes = coalesce(
    (SELECT group_concat(CASE o.outcome WHEN 'taught' THEN 't' ELSE 'a' END
                         || length(CAST(o.skill_code AS BLOB)) || ':' || o.skill_code, '')
     FROM outcome o
     WHERE o.session_id = attendance.session_id AND o.citizen_id = attendance.citizen_id),
    '');
