-- Sổ Tay server, PostgreSQL, schema 6. Landed: never edit; add 0007_… instead.
-- Pulls read by team position (records_team_position); the index by team and server-wide
-- sequence only served laptops from before positions, and cost every insert an index entry.
-- Such a laptop's pull now walks the primary key after its cursor.
DROP INDEX records_team;
