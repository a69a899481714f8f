-- Fewer index entries written per event (issue 21: a national ingest wrote ~10 KB per form,
-- most of it index pages rewritten at each commit). `events_status` served no query: the
-- accepted events are most of the table and the rejected ones have their own partial index.
-- `events_accepted_kind` indexed every accepted event by kind; the only query it served reads
-- the sealed sheets, so the index now holds those alone (one or two rows a form, not five).
DROP INDEX events_status;
DROP INDEX events_accepted_kind;
CREATE INDEX events_sealed ON events(household_id)
    WHERE status = 'accepted' AND kind IN ('form_transcribed', 'transcription_verified', 'correction');
