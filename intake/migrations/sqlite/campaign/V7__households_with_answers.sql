-- Whether the intake holds accepted sealed answers for the household: kept at ingest, so that
-- reconciliation at national scale reads one table instead of every event.
ALTER TABLE households ADD COLUMN has_answers INTEGER NOT NULL DEFAULT 0;
UPDATE households SET has_answers = 1 WHERE id IN (
    SELECT household_id FROM events WHERE status = 'accepted' AND (
        kind IN ('transcription_verified', 'correction')
        OR (kind = 'form_transcribed' AND instr(body, '"sealed_answers"') > 0)));
CREATE INDEX households_reconciliation ON households(village_id, serial);
