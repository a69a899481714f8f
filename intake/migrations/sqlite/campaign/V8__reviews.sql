-- The ministry's review of each form: every decision kept, the latest counts.
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id TEXT NOT NULL REFERENCES households(id),
    decision TEXT NOT NULL CHECK (decision IN ('approved', 'flagged')),
    reason TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX reviews_household ON reviews(household_id, id);
