-- The daily counts are kept by the day an event belongs to in the campaign's time zone, from
-- its absolute time — or the day the centre received it when the tablet's time cannot be
-- right (docs/statistics.md, "The day an event belongs to") — no longer by the date the tablet
-- wrote. `by_receipt`: how many of `n` were dated by receipt. SQLite cannot convert to a named
-- time zone, so the intake counts every kept event again when it opens the store and finds no
-- rule here, or an older one (`DAY_RULE` in intake/src/store/campaign.rs).
ALTER TABLE daily_counts ADD COLUMN by_receipt INTEGER NOT NULL DEFAULT 0;
CREATE TABLE daily_counts_rule (rule INTEGER NOT NULL);
