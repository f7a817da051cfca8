-- Sổ Tay local store, schema 6. Landed: never edit; add 0007_… instead.
-- Search walks the register kept in memory in class-list order (views.rs `SearchIndex`): the
-- full-text index of folded names is read by nothing, cost every citizen write three trigger
-- statements, and kept a forgotten person's folded name until it was optimised.
DROP TRIGGER citizen_search_ai;
DROP TRIGGER citizen_search_ad;
DROP TRIGGER citizen_search_au;
DROP TABLE citizen_search;
