-- Sổ Tay server, PostgreSQL, schema 5. Landed: never edit; add 0006_… instead.
-- Native types: uuid for every ID, jsonb for record contents, merged state and lost values,
-- timestamptz for times, boolean for flags. The clocks (hlc) stay text: their text sorts as they do.
-- jsonb refuses the JSON escape \u0000 that TEXT held: such characters are dropped first.
UPDATE records SET payload = replace(payload, '\u0000', ''), fields = replace(fields, '\u0000', '')
WHERE strpos(payload, '\u0000') > 0 OR strpos(fields, '\u0000') > 0;
UPDATE entities SET state = replace(state, '\u0000', '') WHERE strpos(state, '\u0000') > 0;
UPDATE conflicts SET lost_value = replace(lost_value, '\u0000', '')
WHERE strpos(lost_value, '\u0000') > 0;
ALTER TABLE enrolment_codes DROP CONSTRAINT enrolment_codes_team_id_fkey;
ALTER TABLE devices DROP CONSTRAINT devices_team_id_fkey;
ALTER TABLE teams
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz;
ALTER TABLE enrolment_codes
    ALTER COLUMN team_id TYPE uuid USING team_id::uuid,
    ALTER COLUMN created_at TYPE timestamptz USING created_at::timestamptz,
    ALTER COLUMN expires_at TYPE timestamptz USING expires_at::timestamptz,
    ALTER COLUMN used_by TYPE uuid USING used_by::uuid,
    ADD FOREIGN KEY (team_id) REFERENCES teams (id);
ALTER TABLE devices
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN team_id TYPE uuid USING team_id::uuid,
    ALTER COLUMN enrolled_at TYPE timestamptz USING enrolled_at::timestamptz,
    ALTER COLUMN revoked_at TYPE timestamptz USING revoked_at::timestamptz,
    ADD FOREIGN KEY (team_id) REFERENCES teams (id);
ALTER TABLE records
    ALTER COLUMN device_id TYPE uuid USING device_id::uuid,
    ALTER COLUMN team_id TYPE uuid USING team_id::uuid,
    ALTER COLUMN record_id TYPE uuid USING record_id::uuid,
    ALTER COLUMN fields TYPE jsonb USING fields::jsonb,
    ALTER COLUMN payload TYPE jsonb USING payload::jsonb,
    ALTER COLUMN received_at TYPE timestamptz USING received_at::timestamptz,
    ALTER COLUMN received_at SET DEFAULT now();
ALTER TABLE entities
    ALTER COLUMN team_id TYPE uuid USING team_id::uuid,
    ALTER COLUMN state TYPE jsonb USING state::jsonb,
    ALTER COLUMN deleted TYPE boolean USING deleted <> 0;
ALTER TABLE conflicts
    ALTER COLUMN team_id TYPE uuid USING team_id::uuid,
    ALTER COLUMN lost_value TYPE jsonb USING lost_value::jsonb,
    ALTER COLUMN recorded_at TYPE timestamptz USING recorded_at::timestamptz,
    ALTER COLUMN recorded_at SET DEFAULT now();
ALTER TABLE quarantine
    ALTER COLUMN team_id TYPE uuid USING team_id::uuid,
    ALTER COLUMN device_id TYPE uuid USING device_id::uuid,
    ALTER COLUMN record_id TYPE uuid USING record_id::uuid,
    ALTER COLUMN received_at TYPE timestamptz USING received_at::timestamptz,
    ALTER COLUMN received_at SET DEFAULT now();
ALTER TABLE commune_targets
    ALTER COLUMN updated_at TYPE timestamptz USING updated_at::timestamptz;
