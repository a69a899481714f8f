-- Every form version the campaign has used, as served to devices: canonical JSON and its
-- SHA-256. The campaign row names the current one; sheets sealed under an earlier version are
-- opened with that version.
CREATE TABLE forms (
    reference TEXT PRIMARY KEY,          -- id@version
    sha256 TEXT NOT NULL UNIQUE,
    definition BLOB NOT NULL,
    added_at TEXT NOT NULL
);
