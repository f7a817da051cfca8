-- Sổ Tay local store, schema 2: what sync needs. Landed: never edit; add 0003_… instead.

-- The fields a change sets (JSON array); empty for a creation or full upsert.
ALTER TABLE outbox ADD COLUMN fields TEXT NOT NULL DEFAULT '[]';

-- Per entity, the merged JSON state and each field's clock (sotay_protocol::merge::EntityState).
-- Local changes and pulled changes merge here first; the typed tables are a projection of it.
CREATE TABLE entity_state (
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    state     TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id)
) STRICT;

-- Values that lost a merge, or that another device's change replaced.
CREATE TABLE conflict (
    id          INTEGER PRIMARY KEY,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    field       TEXT NOT NULL,
    lost_value  TEXT NOT NULL,
    lost_hlc    TEXT NOT NULL,
    winner_hlc  TEXT NOT NULL,
    recorded_at TEXT NOT NULL
) STRICT;
