-- Sổ Tay local store, schema 1. Landed: never edit; add 0002_… instead.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE team (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    organisation  TEXT NOT NULL,
    province_code TEXT NOT NULL,
    commune_code  TEXT NOT NULL,
    updated_hlc   TEXT NOT NULL
) STRICT;

CREATE TABLE volunteer (
    id          TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL REFERENCES team (id) ON UPDATE CASCADE,
    name        TEXT NOT NULL,
    updated_hlc TEXT NOT NULL
) STRICT;

CREATE TABLE citizen (
    -- Integer key for the full-text index; the UUID is the identity everywhere else.
    num           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    team_id       TEXT NOT NULL REFERENCES team (id) ON UPDATE CASCADE,
    full_name     TEXT NOT NULL,
    family_name   TEXT NOT NULL,
    middle_name   TEXT NOT NULL,
    given_name    TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    gender        TEXT NOT NULL CHECK (gender IN ('male', 'female', 'other')),
    birth_year    INTEGER NOT NULL,
    birth_date    TEXT,
    village       TEXT NOT NULL,
    village_key   TEXT NOT NULL,
    commune_code  TEXT NOT NULL,
    phone         TEXT,
    cccd          TEXT,
    groups        TEXT NOT NULL DEFAULT '[]',
    -- No citizen without recorded consent (Law 91/2025/QH15).
    consent_given INTEGER NOT NULL CHECK (consent_given = 1),
    consent_date  TEXT NOT NULL,
    consent_by    TEXT NOT NULL,
    note          TEXT,
    deleted       INTEGER NOT NULL DEFAULT 0,
    updated_hlc   TEXT NOT NULL
) STRICT;

CREATE INDEX citizen_cccd ON citizen (cccd) WHERE cccd IS NOT NULL;
CREATE INDEX citizen_phone ON citizen (phone) WHERE phone IS NOT NULL;
CREATE INDEX citizen_identity ON citizen (name_key, birth_year, village_key);

-- Word-prefix search over the folded name; kept in step with `citizen` by the triggers below.
CREATE VIRTUAL TABLE citizen_search USING fts5 (
    name_key,
    content = 'citizen',
    content_rowid = 'num',
    prefix = '1 2 3'
);

CREATE TRIGGER citizen_search_ai AFTER INSERT ON citizen BEGIN
    INSERT INTO citizen_search (rowid, name_key) VALUES (new.num, new.name_key);
END;
CREATE TRIGGER citizen_search_ad AFTER DELETE ON citizen BEGIN
    INSERT INTO citizen_search (citizen_search, rowid, name_key)
        VALUES ('delete', old.num, old.name_key);
END;
CREATE TRIGGER citizen_search_au AFTER UPDATE OF name_key ON citizen BEGIN
    INSERT INTO citizen_search (citizen_search, rowid, name_key)
        VALUES ('delete', old.num, old.name_key);
    INSERT INTO citizen_search (rowid, name_key) VALUES (new.num, new.name_key);
END;

CREATE TABLE session (
    id           TEXT PRIMARY KEY,
    team_id      TEXT NOT NULL REFERENCES team (id) ON UPDATE CASCADE,
    date         TEXT NOT NULL,
    time         TEXT,
    place        TEXT NOT NULL,
    village      TEXT,
    commune_code TEXT NOT NULL,
    volunteers   TEXT NOT NULL DEFAULT '[]',
    note         TEXT,
    deleted      INTEGER NOT NULL DEFAULT 0,
    updated_hlc  TEXT NOT NULL
) STRICT;

CREATE INDEX session_date ON session (date);

CREATE TABLE session_skill (
    session_id TEXT NOT NULL REFERENCES session (id) ON DELETE CASCADE,
    skill_code TEXT NOT NULL,
    PRIMARY KEY (session_id, skill_code)
) STRICT;

CREATE TABLE attendance (
    session_id  TEXT NOT NULL REFERENCES session (id) ON DELETE CASCADE,
    citizen_id  TEXT NOT NULL REFERENCES citizen (id),
    present     INTEGER NOT NULL,
    updated_hlc TEXT NOT NULL,
    PRIMARY KEY (session_id, citizen_id)
) STRICT;

CREATE INDEX attendance_citizen ON attendance (citizen_id);

CREATE TABLE outcome (
    session_id TEXT NOT NULL,
    citizen_id TEXT NOT NULL,
    skill_code TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('taught', 'achieved')),
    PRIMARY KEY (session_id, citizen_id, skill_code),
    FOREIGN KEY (session_id, citizen_id) REFERENCES attendance (session_id, citizen_id)
        ON DELETE CASCADE
) STRICT;

-- Every change, appended in the same transaction as the change itself. `seq` is this device's
-- gap-free sequence: rows are never deleted, only marked acknowledged.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY,
    record_id       TEXT NOT NULL UNIQUE,
    device_id       TEXT NOT NULL,
    hlc             TEXT NOT NULL,
    entity          TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    op              TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    payload_version INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    acked_at        TEXT
) STRICT;

CREATE INDEX outbox_pending ON outbox (seq) WHERE acked_at IS NULL;
