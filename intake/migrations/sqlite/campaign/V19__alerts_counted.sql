-- One alert per device and cause (issue 20, item 6): a flood of the same refusal (a revoked
-- tablet resending, a fork of one batch number offered again and again) is one row that counts
-- and says when it last happened, not one row each.
ALTER TABLE alerts ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN last_at TEXT;
