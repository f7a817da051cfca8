-- Sổ Tay server, SQLite, schema 5. Landed: never edit; add 0006_… instead.
-- Pulls read by team position (records_team_position); the index by team and server-wide
-- sequence only served laptops from before positions, and cost every insert a fifth B-tree.
-- Such a laptop's pull now walks the records after its cursor by rowid.
DROP INDEX records_team;
