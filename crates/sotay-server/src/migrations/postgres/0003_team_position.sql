-- Sổ Tay server, PostgreSQL, schema 3. Landed: never edit; add 0004_… instead.
-- Each team's records get a gap-free position, assigned while the push holds the team's row lock,
-- so positions commit in order and a pull that has passed a position never misses a record that
-- commits later (BIGSERIAL values are assigned at insert and may commit out of order).
ALTER TABLE teams ADD COLUMN next_position BIGINT NOT NULL DEFAULT 0;
ALTER TABLE records ADD COLUMN team_position BIGINT;
UPDATE records SET team_position = p.pos
FROM (SELECT server_seq,
             ROW_NUMBER() OVER (PARTITION BY team_id ORDER BY server_seq) AS pos
      FROM records) AS p
WHERE records.server_seq = p.server_seq;
UPDATE teams SET next_position =
    COALESCE((SELECT MAX(team_position) FROM records WHERE records.team_id = teams.id), 0);
ALTER TABLE records ALTER COLUMN team_position SET NOT NULL;
CREATE UNIQUE INDEX records_team_position ON records (team_id, team_position);
