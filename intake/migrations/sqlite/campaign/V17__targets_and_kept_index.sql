-- Targets the campaign's owner sets per area (Hà Nội's "above 85 % in 2023, 90–95 % by
-- 2025"): the least index, in percent, the area should reach in this campaign's year.
CREATE TABLE targets (
    level TEXT NOT NULL CHECK (level IN ('province', 'district', 'commune', 'village')),
    area_id TEXT NOT NULL,
    percent REAL NOT NULL CHECK (percent > 0 AND percent <= 100),
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL,
    PRIMARY KEY (level, area_id)
);
-- The index as the owner last computed it with the key's passphrase: figures by area only
-- (shares, counts, intervals — never an answer), so that years can be compared without opening
-- every year's sheets again.
CREATE TABLE kept_index (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    figures TEXT NOT NULL,
    computed_by TEXT NOT NULL,
    computed_at TEXT NOT NULL
);
