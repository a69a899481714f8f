-- Corrections the ministry keys from the paper original of a flagged form, sealed to its own
-- key like any other answers. The device's events stay as they were: the history is kept.
CREATE TABLE ministry_corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id TEXT NOT NULL REFERENCES households(id),
    sealed BLOB NOT NULL,
    reason TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX ministry_corrections_household ON ministry_corrections(household_id, id);
