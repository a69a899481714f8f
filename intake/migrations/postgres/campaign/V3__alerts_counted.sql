-- One alert per device and cause (issue 20, item 6): a flood of the same refusal is one row
-- that counts and says when it last happened. As on SQLite (V19).
ALTER TABLE alerts ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN last_at TEXT;
