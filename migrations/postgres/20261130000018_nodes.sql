-- The processes that run `twitcher serve` on this database (the nodes of a fleet). A node's id
-- is its process instance id, the one its stream and job leases carry; it renews heartbeat_at
-- every 2 s and deletes its row when it shuts down. A node silent for 10 s has lost its leases.
CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,
    address      TEXT NOT NULL,
    upload_mbps  DOUBLE PRECISION CHECK (upload_mbps IS NULL OR upload_mbps > 0),
    started_at   TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    heartbeat_at TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
);
