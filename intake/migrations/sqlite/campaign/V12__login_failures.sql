-- Wrong passwords, kept so that the limits hold across restarts (and across intake processes
-- sharing a database). Pruned past the window at every write; at most the global budget of
-- rows exists per window.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,                 -- Unix seconds
    login TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX login_failures_at ON login_failures(at);
CREATE INDEX login_failures_login ON login_failures(login, at);
CREATE INDEX login_failures_address ON login_failures(address, at);
