-- Sổ Tay server, PostgreSQL, schema 1. Landed: never edit; add 0002_… instead.
CREATE TABLE teams (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    organisation  TEXT NOT NULL,
    province_code TEXT NOT NULL,
    commune_code  TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE enrolment_codes (
    code_hash  TEXT PRIMARY KEY,
    team_id    TEXT NOT NULL REFERENCES teams (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_by    TEXT
);
CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL REFERENCES teams (id),
    token_hash  TEXT NOT NULL UNIQUE,
    enrolled_at TEXT NOT NULL,
    revoked_at  TEXT
);
-- Every record once: (device_id, seq) is the idempotency key.
CREATE TABLE records (
    server_seq      BIGSERIAL PRIMARY KEY,
    device_id       TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    team_id         TEXT NOT NULL,
    record_id       TEXT NOT NULL UNIQUE,
    hlc             TEXT NOT NULL,
    entity          TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    op              TEXT NOT NULL,
    fields          TEXT NOT NULL,
    payload_version BIGINT NOT NULL,
    payload         TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    UNIQUE (device_id, seq)
);
CREATE INDEX records_team ON records (team_id, server_seq);
-- Current merged state of every entity (sotay_protocol::merge::EntityState as JSON).
CREATE TABLE entities (
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    team_id    TEXT NOT NULL,
    state      TEXT NOT NULL,
    deleted    BIGINT NOT NULL,
    n_outcomes BIGINT NOT NULL,
    n_achieved BIGINT NOT NULL,
    PRIMARY KEY (entity, entity_id)
);
CREATE INDEX entities_team ON entities (team_id, entity);
CREATE TABLE conflicts (
    id          BIGSERIAL PRIMARY KEY,
    team_id     TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    field       TEXT NOT NULL,
    lost_value  TEXT NOT NULL,
    lost_hlc    TEXT NOT NULL,
    winner_hlc  TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
