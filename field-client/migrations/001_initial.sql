-- The enrollment: exactly one row once enrolled.
CREATE TABLE device (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    device_id TEXT NOT NULL,
    enumerator TEXT NOT NULL,
    campaign TEXT NOT NULL,
    intake_url TEXT NOT NULL,
    intake_public_key TEXT NOT NULL,
    clock_offset INTEGER NOT NULL DEFAULT 0,  -- intake clock minus ours, learnt from clock_skew
    next_seq INTEGER NOT NULL,                -- the seq the next packed batch gets
    last_hash TEXT NOT NULL                   -- hash of the last packed batch
);
CREATE TABLE assignment (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    signed TEXT NOT NULL,                     -- the signed document as received
    fetched_at TEXT NOT NULL
);
CREATE TABLE villages (id TEXT PRIMARY KEY, name TEXT NOT NULL, commune TEXT NOT NULL, district TEXT NOT NULL);
CREATE TABLE households (
    id TEXT PRIMARY KEY,
    village TEXT NOT NULL,
    serial TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    reserve_rank INTEGER,
    status TEXT NOT NULL,
    assigned INTEGER NOT NULL DEFAULT 1       -- 0: reassigned away (its events still go out)
);
-- Every event, in the order made. Written in the same transaction as the state it records.
CREATE TABLE events (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    household TEXT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,                       -- canonical JSON of the event
    batch_seq INTEGER,                        -- NULL until packed
    outcome TEXT,                             -- accepted | rejected, from the receipt
    reject_code TEXT,
    reject_reason TEXT
);
-- Packed batches: the frame is stored before the first send and resent byte for byte.
CREATE TABLE batches (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    frame BLOB NOT NULL,
    event_count INTEGER NOT NULL,
    acked_at TEXT,
    receipt TEXT
);
-- Answers being keyed, per pass (1 = first keying, 2 = blind verification keying).
CREATE TABLE keyed_answers (
    household TEXT NOT NULL,
    pass INTEGER NOT NULL,
    question TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (household, pass, question)
);
CREATE TABLE keying_sessions (
    household TEXT NOT NULL,
    pass INTEGER NOT NULL,
    seconds INTEGER NOT NULL DEFAULT 0,       -- keying time so far
    resumed_at INTEGER,                       -- unix time the current stretch began
    finished INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (household, pass)
);
CREATE TABLE parcels (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, handed_over_at TEXT);
CREATE TABLE parcel_forms (parcel TEXT NOT NULL REFERENCES parcels(id), household TEXT NOT NULL, serial TEXT NOT NULL, PRIMARY KEY (parcel, household));
