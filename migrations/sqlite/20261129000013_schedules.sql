-- Recurring schedules (DESIGN.md §10): a local time in an IANA zone on chosen weekdays (none:
-- daily), starting a broadcast (the StartRequest, as JSON) that ends after a duration or at a
-- local time. `next_at` is the next occurrence in UTC; a process materialises it as a scheduled
-- broadcast by advancing `next_at` with a compare-and-set, so exactly one process does.
CREATE TABLE schedules (
    id           INTEGER PRIMARY KEY,
    owner_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    request      TEXT NOT NULL,
    at_local     TEXT NOT NULL,
    time_zone    TEXT NOT NULL,
    days         TEXT NOT NULL DEFAULT '',
    duration_sec INTEGER CHECK (duration_sec IS NULL OR duration_sec > 0),
    until_local  TEXT,
    next_at      TEXT NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX schedules_owner ON schedules (owner_id);

-- The occurrence a broadcast was started for, and when it is to end (a stop order is written
-- then, by whichever process runs the scheduler).
ALTER TABLE streams ADD COLUMN schedule_id INTEGER REFERENCES schedules (id) ON DELETE SET NULL;
ALTER TABLE streams ADD COLUMN ends_at TEXT;
CREATE INDEX streams_ends_at ON streams (ends_at) WHERE ends_at IS NOT NULL;
