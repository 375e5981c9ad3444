-- Real-time encodes a profile may run at once (a broadcast going live before its video is
-- prepared at the quality asked): each is a full ffmpeg encode, the costliest thing a server
-- does for a user. NULL is unlimited; an ADMIN is never limited. `twitcher plan set` changes it.
ALTER TABLE plans ADD COLUMN max_live_encodes BIGINT CHECK (max_live_encodes IS NULL OR max_live_encodes >= 0);
UPDATE plans SET max_live_encodes = 1 WHERE name = 'FREE';
UPDATE plans SET max_live_encodes = 5 WHERE name = 'PRO';
-- Set on a broadcast's rows when its source is a real-time encode (claimed under the write lock
-- against the plan's limit, so two starts at once cannot both pass it).
ALTER TABLE streams ADD COLUMN live_encode BOOLEAN NOT NULL DEFAULT FALSE;
