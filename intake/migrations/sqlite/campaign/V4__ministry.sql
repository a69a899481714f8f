-- The ministry's secret key, encrypted under a passphrase that is never stored.
CREATE TABLE ministry_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed TEXT NOT NULL,                -- JSON: argon2id parameters, salt, nonce, ciphertext
    stored_at TEXT NOT NULL
);
-- Paper forms as they arrive at the ministry, one row per serial keyed or scanned.
CREATE TABLE paper_arrivals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch TEXT NOT NULL,                 -- one arrival session (a parcel opened)
    serial TEXT NOT NULL,
    by_whom TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX paper_arrivals_serial ON paper_arrivals(serial);
-- Back-check draws: the seed and parameters, so any draw can be redone and checked.
CREATE TABLE backcheck_draws (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seed TEXT NOT NULL,
    share_percent INTEGER NOT NULL,
    min_per_enumerator INTEGER NOT NULL,
    households TEXT NOT NULL,            -- JSON list, in draw order
    by_whom TEXT NOT NULL,
    at TEXT NOT NULL
);
