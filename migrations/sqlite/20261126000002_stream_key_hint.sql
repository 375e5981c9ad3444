-- The last four characters of a stream key, so lists can show `live_****1234` without opening
-- the vault. Four characters of a ~40-character key reveal nothing useful.
ALTER TABLE twitch_accounts ADD COLUMN stream_key_hint TEXT;
