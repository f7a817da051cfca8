-- Sổ Tay local store, schema 3: commune targets for reports. Landed: never edit.
CREATE TABLE commune_target (
    commune_code     TEXT PRIMARY KEY,
    adult_population INTEGER NOT NULL CHECK (adult_population > 0),
    basic_pct        INTEGER NOT NULL CHECK (basic_pct BETWEEN 0 AND 100),
    confirmed_pct    INTEGER NOT NULL CHECK (confirmed_pct BETWEEN 0 AND 100),
    updated_at       TEXT NOT NULL
) STRICT;
