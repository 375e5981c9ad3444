-- Which process runs a stream, and when it last said so: at launch, streams whose process is gone
-- (or silent for a minute) were interrupted by a crash and are closed, not left "live" forever.
ALTER TABLE streams ADD COLUMN owner_pid INTEGER;
ALTER TABLE streams ADD COLUMN heartbeat_at TEXT;
