-- The centre's pages at national scale: progress counts straight from an index, and the
-- households with sealed answers found without reading every event.
CREATE INDEX households_progress ON households(village_id, enumerator_id, status);
CREATE INDEX events_accepted_kind ON events(kind, household_id) WHERE status = 'accepted';
