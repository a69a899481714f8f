-- A supervisor's decision on a rejected event: taken into the household's record as it stands
-- (the enumerator it was moved to), or set aside with a reason. The event's own status turns
-- 'accepted' when taken in; code and reason stay as the history of why it was refused first.
ALTER TABLE events ADD COLUMN resolution TEXT;          -- NULL | accepted | dismissed
ALTER TABLE events ADD COLUMN resolution_note TEXT;
ALTER TABLE events ADD COLUMN resolved_by TEXT;
ALTER TABLE events ADD COLUMN resolved_at TEXT;
CREATE INDEX events_rejected_by_enumerator ON events(enumerator_id) WHERE code IS NOT NULL;
-- Another enumerator's work accepted into a household's record: shown to the enumerator who
-- holds it now.
ALTER TABLE households ADD COLUMN carried_from TEXT REFERENCES enumerators(id);
ALTER TABLE households ADD COLUMN carried_events INTEGER NOT NULL DEFAULT 0;
