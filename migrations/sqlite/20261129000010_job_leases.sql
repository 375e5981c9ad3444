-- Jobs are leased like streams: the process instance running one, renewed every 2 s; start-up
-- recovery re-queues only jobs whose lease is 10 s old, never a live process's.
ALTER TABLE jobs ADD COLUMN owner_instance TEXT;
ALTER TABLE jobs ADD COLUMN heartbeat_at TEXT;
-- At most one open job per key (a preparation of one video at one quality): a second request
-- joins the first.
ALTER TABLE jobs ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX jobs_open_dedupe ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL AND status IN ('queued', 'running');
