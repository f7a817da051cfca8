-- Sổ Tay local store, schema 9. Landed: never edit; add 0010_… instead.
-- The server acknowledges every record up to a sequence, so what it holds is one number.
-- Stamping each row instead rewrote every record of a batch, payload and all, when its answer
-- came: in a first sync of 40,000 records that was a tenth of the laptop's work.
CREATE TABLE outbox_acked (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    -- Every outbox record up to this sequence is held by the server.
    upto_seq INTEGER NOT NULL CHECK (upto_seq >= 0)
) STRICT;

-- Up to the first record not yet acknowledged: should an older file hold an acknowledged record
-- after an unacknowledged one, it is sent again and the server counts it as a duplicate.
INSERT INTO outbox_acked (only_row, upto_seq)
SELECT 1, COALESCE((SELECT MIN(seq) - 1 FROM outbox WHERE acked_at IS NULL),
                   (SELECT MAX(seq) FROM outbox),
                   0);

DROP INDEX outbox_pending;
DROP INDEX outbox_pending_entity;
ALTER TABLE outbox DROP COLUMN acked_at;

-- The app shows what is waiting to sync on every screen change: the records after the
-- acknowledged sequence, counted by entity from this index alone, without reading a payload.
CREATE INDEX outbox_seq_entity ON outbox (seq, entity);
