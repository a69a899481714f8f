-- What a campaign published for the public, and when it was withdrawn. The newest row not
-- withdrawn is what the public page shows; the figures are kept as published (JSON), so the
-- page needs neither the ministry's key nor an account.
CREATE TABLE publications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    figures TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at TEXT NOT NULL,
    withdrawn_by TEXT,
    withdrawn_at TEXT
);
