-- Leases: the process instance that runs a stream — a random id per process, so it also holds
-- between machines, where pids mean nothing — renewed every 2 s in heartbeat_at. A lease whose
-- heartbeat is 10 s old belongs to nobody: recovery may take the stream over; until then no
-- other process touches it. owner_pid stays as a hint for people reading the table.
ALTER TABLE streams ADD COLUMN owner_instance TEXT;
CREATE INDEX streams_owner_instance ON streams (owner_instance) WHERE owner_instance IS NOT NULL;
