-- Sổ Tay server, SQLite, schema 2: commune targets for reports. Landed: never edit.
CREATE TABLE commune_targets (
    commune_code     TEXT PRIMARY KEY,
    adult_population BIGINT NOT NULL,
    basic_pct        BIGINT NOT NULL,
    confirmed_pct    BIGINT NOT NULL,
    updated_at       TEXT NOT NULL
);
