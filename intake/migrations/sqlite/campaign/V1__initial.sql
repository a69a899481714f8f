-- One database holds one campaign.
CREATE TABLE campaign (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    form TEXT NOT NULL,
    replacement_allowed INTEGER NOT NULL,
    verification_required INTEGER NOT NULL,
    timeline TEXT NOT NULL,              -- JSON
    ministry_public_key TEXT NOT NULL,   -- base64 X25519
    source TEXT NOT NULL,                -- the imported file, verbatim
    imported_at TEXT NOT NULL
);
CREATE TABLE provinces (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE districts (id TEXT PRIMARY KEY, province_id TEXT NOT NULL REFERENCES provinces(id), name TEXT NOT NULL);
CREATE TABLE communes (id TEXT PRIMARY KEY, district_id TEXT NOT NULL REFERENCES districts(id), name TEXT NOT NULL);
CREATE TABLE villages (id TEXT PRIMARY KEY, commune_id TEXT NOT NULL REFERENCES communes(id), name TEXT NOT NULL);
CREATE TABLE enumerators (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE supervisors (login TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE supervisor_districts (
    login TEXT NOT NULL REFERENCES supervisors(login),
    district_id TEXT NOT NULL REFERENCES districts(id),
    PRIMARY KEY (login, district_id)
);
CREATE TABLE households (
    id TEXT PRIMARY KEY,
    village_id TEXT NOT NULL REFERENCES villages(id),
    serial TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    reserve_rank INTEGER,                -- NULL for sampled households
    enumerator_id TEXT NOT NULL REFERENCES enumerators(id),
    status TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX households_enumerator ON households(enumerator_id);
CREATE INDEX households_village ON households(village_id);

CREATE TABLE enrollment_codes (
    code_hash TEXT PRIMARY KEY,          -- SHA-256 of the code: the code itself is never stored
    enumerator_id TEXT NOT NULL REFERENCES enumerators(id),
    issued_by TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL,         -- Unix seconds
    used_at TEXT,
    device_id TEXT
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    enumerator_id TEXT NOT NULL REFERENCES enumerators(id),
    public_key TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    enrolled_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_reason TEXT
);
-- One chain per enumerator: a replacement device continues it.
CREATE TABLE chains (
    enumerator_id TEXT PRIMARY KEY REFERENCES enumerators(id),
    last_seq INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    last_device_id TEXT NOT NULL,
    last_received_at TEXT NOT NULL
);
CREATE TABLE batches (
    enumerator_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    device_id TEXT NOT NULL,
    frame BLOB NOT NULL,                 -- the bytes as received: the signed original
    event_count INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    receipt TEXT NOT NULL,               -- the signed receipt (JSON), returned again on retry
    PRIMARY KEY (enumerator_id, seq)
);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    enumerator_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    household_id TEXT,
    serial TEXT,
    kind TEXT NOT NULL,
    occurred_at TEXT NOT NULL,           -- device clock, with offset
    occurred_unix INTEGER NOT NULL,
    received_at TEXT NOT NULL,           -- intake clock
    body TEXT NOT NULL,                  -- canonical JSON of the event (sealed answers stay sealed)
    status TEXT NOT NULL,                -- accepted | rejected
    code TEXT,
    reason TEXT
);
CREATE INDEX events_household ON events(household_id);
CREATE INDEX events_status ON events(status);
CREATE TABLE parcel_serials (
    parcel TEXT NOT NULL,
    serial TEXT NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    enumerator_id TEXT NOT NULL,
    PRIMARY KEY (parcel, serial)
);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,                  -- equivocation | chain_broken | revoked_device_sent | ...
    enumerator_id TEXT,
    device_id TEXT,
    seq INTEGER,
    detail TEXT NOT NULL,
    at TEXT NOT NULL
);
