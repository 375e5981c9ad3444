-- A refresh token can be spent once: the process that refreshes an account's tokens claims it
-- first (until this Unix time, 30 s); another process that needs a fresh token waits for the
-- new pair instead of spending the same refresh token (which Twitch would refuse, and which would
-- look like a revoked grant). A claim of a process that died simply runs out.
ALTER TABLE twitch_accounts ADD COLUMN refresh_claimed_until INTEGER;
