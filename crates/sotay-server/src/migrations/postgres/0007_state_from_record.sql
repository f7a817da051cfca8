-- Sổ Tay server, PostgreSQL, schema 7. Landed: never edit; add 0008_… instead.
-- An entity made by one full upsert (nearly every entity of a first sync) holds no copy of its
-- state: `source_record` names that record, whose payload and clock are the state. Any later
-- change stores the merged state and clears `source_record`. Exactly one of the two is set.
ALTER TABLE entities
    ALTER COLUMN state DROP NOT NULL,
    ADD COLUMN source_record uuid,
    ADD CONSTRAINT entities_state_or_record CHECK ((state IS NULL) <> (source_record IS NULL));
-- The record log is stored and sent back as it came, never searched inside: `json` keeps the
-- text after checking it, where `jsonb` would take it apart and build it again on every pull.
ALTER TABLE records
    ALTER COLUMN fields TYPE json USING fields::json,
    ALTER COLUMN payload TYPE json USING payload::json;
-- Every entity with its state, wherever it is kept: for admins and support looking inside.
CREATE VIEW entity_states AS
SELECT e.entity, e.entity_id, e.team_id,
       COALESCE(e.state, jsonb_build_object('fields', r.payload::jsonb, 'clock', r.hlc,
                                            'clocks', '{}'::jsonb)) AS state,
       e.deleted, e.n_outcomes, e.n_achieved
FROM entities e LEFT JOIN records r ON r.record_id = e.source_record;
