-- People at the centre: supervisors (scoped to districts), the ministry, admins.
CREATE TABLE accounts (
    login TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('supervisor', 'ministry', 'admin')),
    password_hash TEXT,                  -- argon2id PHC string; NULL until a password is set
    created_at TEXT NOT NULL
);
CREATE TABLE account_districts (
    login TEXT NOT NULL REFERENCES accounts(login),
    district_id TEXT NOT NULL REFERENCES districts(id),
    PRIMARY KEY (login, district_id)
);
-- The campaign's supervisors become supervisor accounts (without a password yet).
INSERT INTO accounts (login, name, role, password_hash, created_at)
    SELECT login, name, 'supervisor', NULL, datetime('now') FROM supervisors;
INSERT INTO account_districts SELECT login, district_id FROM supervisor_districts;

-- A session cookie's SHA-256; the cookie value itself is never stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    login TEXT NOT NULL REFERENCES accounts(login),
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL          -- Unix seconds
);
-- Every login (and failed one) and every ministry action.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    login TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    address TEXT NOT NULL
);
