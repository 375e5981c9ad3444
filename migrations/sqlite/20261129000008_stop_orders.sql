-- A stop is an order written on the row, not a message to one process: the window, `serve` and
-- any `twitcher` process may write it, and the process that runs the stream carries it out within
-- a second (its supervisor reads its broadcast's orders on every tick).
ALTER TABLE streams ADD COLUMN stop_requested_at TEXT;
CREATE INDEX streams_stop_orders ON streams (broadcast_id) WHERE stop_requested_at IS NOT NULL;
