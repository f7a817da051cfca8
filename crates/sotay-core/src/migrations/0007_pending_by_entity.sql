-- Sổ Tay local store, schema 7. Landed: never edit; add 0008_… instead.
-- The app shows what is waiting to sync on every screen change: counted from this index alone,
-- pending records are counted without reading their payloads (a weeks-long backlog is
-- thousands of encrypted pages).
-- (acked_at, NULL in every entry, makes the index cover the query that names it.)
CREATE INDEX outbox_pending_entity ON outbox (entity, acked_at) WHERE acked_at IS NULL;
