-- Issue 31: an account added by hand needs only its server and key, as in OBS. Twitch's channel
-- id becomes optional (set when the account is connected, or looked up by its login). NULLs are
-- distinct in UNIQUE (user_id, channel_id): any number of accounts without one.
ALTER TABLE twitch_accounts ALTER COLUMN channel_id DROP NOT NULL;
