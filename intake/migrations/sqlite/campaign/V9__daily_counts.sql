-- Accepted household events per device day, enumerator, village and kind (a visit outcome by
-- its outcome): kept at ingest for the progress chart and the period report, so neither reads
-- every event.
CREATE TABLE daily_counts (
    day TEXT NOT NULL,
    enumerator_id TEXT NOT NULL,
    village_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, enumerator_id, village_id, kind)
);
INSERT INTO daily_counts
    SELECT substr(e.occurred_at, 1, 10), e.enumerator_id, h.village_id,
           CASE WHEN e.kind = 'visit_outcome' THEN json_extract(e.body, '$.body.outcome') ELSE e.kind END, COUNT(*)
    FROM events e JOIN households h ON h.id = e.household_id
    WHERE e.status = 'accepted' GROUP BY 1, 2, 3, 4;
CREATE INDEX daily_counts_village ON daily_counts(village_id);
