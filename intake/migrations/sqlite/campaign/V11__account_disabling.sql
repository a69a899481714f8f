-- An account can be disabled (kept, cannot log in) as well as deleted.
ALTER TABLE accounts ADD COLUMN disabled_at TEXT;
