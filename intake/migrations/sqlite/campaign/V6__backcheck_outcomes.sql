-- What the back-check visit found, per household (the latest record counts).
CREATE TABLE backcheck_outcomes (
    household_id TEXT PRIMARY KEY REFERENCES households(id),
    outcome TEXT NOT NULL CHECK (outcome IN ('confirmed', 'not_visited', 'answers_differ')),
    note TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    at TEXT NOT NULL
);
