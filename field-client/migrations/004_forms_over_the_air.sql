-- Every form version the centre has sent, checked against the hash its signed assignment
-- names; and the version each keying was started with (a started form stays on it).
CREATE TABLE forms (
    reference TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    definition BLOB NOT NULL
);
ALTER TABLE keying_sessions ADD COLUMN form TEXT;
