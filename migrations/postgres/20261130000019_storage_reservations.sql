-- A running import holds its file's bytes against its profile's storage quota from the moment
-- it checks the quota (reserved_bytes, for reserved_for) until its video row counts them, so
-- imports and uploads running side by side — on any node — cannot pass the quota together.
-- Only queued and running jobs' reservations count: a failed or cancelled job's lapses with it.
ALTER TABLE jobs ADD COLUMN reserved_bytes BIGINT CHECK (reserved_bytes IS NULL OR reserved_bytes >= 0);
ALTER TABLE jobs ADD COLUMN reserved_for BIGINT;
CREATE INDEX jobs_reservations ON jobs (reserved_for) WHERE reserved_bytes IS NOT NULL;
