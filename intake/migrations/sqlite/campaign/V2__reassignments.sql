-- Who moved which household from whom to whom, and why: a supervisor's decision is kept.
CREATE TABLE reassignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id TEXT NOT NULL REFERENCES households(id),
    from_enumerator TEXT NOT NULL,
    to_enumerator TEXT NOT NULL REFERENCES enumerators(id),
    by_whom TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX reassignments_household ON reassignments(household_id);
