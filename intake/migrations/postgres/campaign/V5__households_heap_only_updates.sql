-- A household's status changes with nearly every batch that names it. With `status` in an index,
-- each change wrote a new entry into every one of the table's six indexes; with no indexed
-- column changed and room on its page, PostgreSQL writes the new row beside the old and no index
-- entry at all (a heap-only update): at 8 senders the households' updates took 880 ms of
-- statement time per national ingest, and 160 ms after this (docs/benchmarks.md, session 21).
-- Progress still finds a village's households by the index; it counts their statuses from the
-- rows, which a national count read whole anyway. `households_village` was a prefix of two other
-- indexes. Half of each page is left free (`fillfactor` 50), so that a household's next version
-- fits beside it until the page is pruned: at 80 only four updates in ten found room. (Pages
-- filled before this migration stay full: a household updated there moves to a page with room.)
DROP INDEX households_progress;
DROP INDEX households_village;
CREATE INDEX households_progress ON households(village_id, enumerator_id);
ALTER TABLE households SET (fillfactor = 50);
