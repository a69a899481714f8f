-- The centre: what every campaign it holds shares. Each campaign keeps its own store
-- (campaign migrations); this database lists them and keeps the people.
CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- Where the campaign's store is: a file in the data directory (SQLite) or a schema
    -- (PostgreSQL).
    storage TEXT NOT NULL UNIQUE,
    -- Campaigns of one family (SIPAS 2024, 2025 …) are compared year by year.
    family TEXT NOT NULL,
    year INTEGER NOT NULL,
    added_at TEXT NOT NULL
);
-- People at the centre: supervisors, campaign owners (the ministry, a province's Sở Nội vụ),
-- admins. An account sees the campaigns it is granted (admins: all of them).
CREATE TABLE accounts (
    login TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('supervisor', 'ministry', 'admin')),
    password_hash TEXT,                  -- argon2id PHC string; NULL until a password is set
    created_at TEXT NOT NULL,
    disabled_at TEXT
);
CREATE TABLE account_campaigns (
    login TEXT NOT NULL REFERENCES accounts(login) ON DELETE CASCADE,
    campaign TEXT NOT NULL REFERENCES campaigns(id),
    PRIMARY KEY (login, campaign)
);
-- A supervisor's districts, in each campaign (district ids are the campaign's own).
CREATE TABLE account_districts (
    login TEXT NOT NULL,
    campaign TEXT NOT NULL,
    district_id TEXT NOT NULL,
    PRIMARY KEY (login, campaign, district_id),
    FOREIGN KEY (login, campaign) REFERENCES account_campaigns(login, campaign) ON DELETE CASCADE
);
-- A session cookie's SHA-256; the cookie value itself is never stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    login TEXT NOT NULL REFERENCES accounts(login) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL          -- Unix seconds
);
-- Every login (and failed one), every page read and every owner's or admin's action; with the
-- campaign it concerns (NULL for the centre's own pages).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    login TEXT NOT NULL,
    campaign TEXT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX audit_log_campaign ON audit_log(campaign, id);
-- Wrong passwords, kept so that the limits hold across restarts and across intake processes.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,                 -- Unix seconds
    login TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX login_failures_at ON login_failures(at);
CREATE INDEX login_failures_login ON login_failures(login, at);
CREATE INDEX login_failures_address ON login_failures(address, at);
