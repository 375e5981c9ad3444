-- Issue 31: a recurring schedule can be paused (it starts nothing until resumed; resuming starts
-- from its next time, never the ones missed meanwhile) and edited in place.
ALTER TABLE schedules ADD COLUMN paused_at TEXT;
