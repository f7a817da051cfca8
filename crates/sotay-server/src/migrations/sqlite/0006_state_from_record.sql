-- Sổ Tay server, SQLite, schema 6. Landed: never edit; add 0007_… instead.
-- An entity made by one full upsert (nearly every entity of a first sync) holds no copy of its
-- state: `source_record` names that record, whose payload and clock are the state. Any later
-- change stores the merged state and clears `source_record`. Exactly one of the two is set.
CREATE TABLE entities_6 (
    entity        TEXT NOT NULL,
    entity_id     TEXT NOT NULL,
    team_id       TEXT NOT NULL,
    state         TEXT,
    source_record TEXT,
    deleted       INTEGER NOT NULL,
    n_outcomes    INTEGER NOT NULL,
    n_achieved    INTEGER NOT NULL,
    PRIMARY KEY (entity, entity_id),
    CHECK ((state IS NULL) <> (source_record IS NULL))
);
INSERT INTO entities_6 (entity, entity_id, team_id, state, source_record, deleted, n_outcomes,
                        n_achieved)
SELECT entity, entity_id, team_id, state, NULL, deleted, n_outcomes, n_achieved FROM entities;
DROP TABLE entities;
ALTER TABLE entities_6 RENAME TO entities;
CREATE INDEX entities_team ON entities (team_id, entity);
-- Every entity with its state, wherever it is kept: for admins and support looking inside.
CREATE VIEW entity_states AS
SELECT e.entity, e.entity_id, e.team_id,
       COALESCE(e.state, json_object('fields', json(r.payload), 'clock', r.hlc,
                                     'clocks', json_object())) AS state,
       e.deleted, e.n_outcomes, e.n_achieved
FROM entities e LEFT JOIN records r ON r.record_id = e.source_record;
