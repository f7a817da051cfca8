-- Records set aside because they break the rules: this laptop's own records the server refused,
-- and pulled records this laptop could not apply. Kept for the volunteer and the admin to see.
CREATE TABLE quarantine (
    id        INTEGER PRIMARY KEY,
    origin    TEXT NOT NULL CHECK (origin IN ('server', 'pulled')),
    record_id TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    reason    TEXT NOT NULL,
    reason_en TEXT NOT NULL,
    noted_at  TEXT NOT NULL,
    UNIQUE (origin, record_id)
);
