-- Another enumerator's counted steps on a household now ours, as the centre lists them
-- (GET /v1/households/<id>/earlier): what its history shows before our own events.
CREATE TABLE earlier_steps (
    household TEXT NOT NULL,
    n INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT,
    at TEXT NOT NULL,
    by_name TEXT NOT NULL,
    PRIMARY KEY (household, n)
);
