-- A recurring schedule the scheduler cannot use (a stored value out of range, a damaged
-- request): skipped from then on, with the reason shown. Deleting it is the way out.
ALTER TABLE schedules ADD COLUMN error TEXT;

-- Each process's supervised background tasks, as it last reported them (every few seconds), so
-- `twitcher doctor` sees those of the window and of `serve` on the same data dir.
CREATE TABLE task_health (
    instance_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    -- ok | failing | restarting | late
    state        TEXT NOT NULL,
    period_sec   REAL NOT NULL,
    last_turn_age_sec REAL,
    restarts     INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    reported_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (instance_id, name)
);

-- Whose job it is, so the worker serves profiles in turn (the one served least recently first):
-- one profile's queue of preparations never starves another's import.
ALTER TABLE jobs ADD COLUMN profile_id INTEGER;
UPDATE jobs SET profile_id = json_extract(payload, '$.profile_id') WHERE json_valid(payload);
CREATE INDEX jobs_profile_started ON jobs (profile_id, started_at);

-- Prepared copies are a bounded cache: their size, and when a broadcast last used each (the
-- least recently used go first past the budget; see broadcast/prepare.rs).
ALTER TABLE prepared_media ADD COLUMN size_bytes INTEGER;
ALTER TABLE prepared_media ADD COLUMN last_used_at TEXT;
