-- Growing delays instead of hard locks (issue 20): whether a wrong password named an account
-- (a global budget holds only for names that are no account), and the known-browser cookie it
-- came with, if any (a browser that logged in to an account before passes that account's own
-- throttle, within a budget of its own).
ALTER TABLE login_failures ADD COLUMN known INTEGER NOT NULL DEFAULT 1;
ALTER TABLE login_failures ADD COLUMN browser TEXT;
CREATE INDEX login_failures_browser ON login_failures(browser, at);
-- Browsers an account logged in from: the cookie's SHA-256, never the cookie itself. One
-- browser may be known to several accounts (a shared office computer).
CREATE TABLE known_browsers (
    token_hash TEXT NOT NULL,
    login TEXT NOT NULL REFERENCES accounts(login) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,          -- Unix seconds
    PRIMARY KEY (token_hash, login)
);
CREATE INDEX known_browsers_login ON known_browsers(login, created_at);
-- Refusals a flood would repeat (device refusals, wrong enrollment codes, refused forms): one
-- row per action, address and login within the window, counting how many times.
ALTER TABLE audit_log ADD COLUMN repeated INTEGER NOT NULL DEFAULT 1;
CREATE INDEX audit_log_repeated ON audit_log(action, address, login, id);
-- Refused enrollment codes, kept so that the limits hold across restarts and processes: per
-- address, per code presented (its SHA-256), and in all.
CREATE TABLE enrollment_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,                 -- Unix seconds
    address TEXT NOT NULL,
    code_hash TEXT NOT NULL
);
CREATE INDEX enrollment_failures_at ON enrollment_failures(at);
CREATE INDEX enrollment_failures_address ON enrollment_failures(address, at);
CREATE INDEX enrollment_failures_code ON enrollment_failures(code_hash, at);
