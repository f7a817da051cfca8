-- Sổ Tay local store, schema 5. Landed: never edit; add 0006_… instead.
-- An outcome reached after its session (VNeID activated at home the next day) says who
-- confirmed it and on which day (attendance payload version 2).
ALTER TABLE outcome ADD COLUMN confirmed_by TEXT;
ALTER TABLE outcome ADD COLUMN confirmed_on TEXT;
