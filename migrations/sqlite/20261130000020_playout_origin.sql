-- When media time 0 of a broadcast was (or would have been) on air, by the database's clock:
-- the same for every row of the broadcast, set when its source first starts. A node that takes
-- a destination over (its node died, or handed it over) continues the broadcast at the position
-- this gives, so every node plays the same moment and the timestamps keep increasing.
ALTER TABLE streams ADD COLUMN playout_origin TEXT;
-- The newest RTMP timestamp the node publishing a destination has sent (written each second
-- with its counters): the node taking it over starts after it, so no timestamp goes back.
ALTER TABLE streams ADD COLUMN sent_ms BIGINT;
