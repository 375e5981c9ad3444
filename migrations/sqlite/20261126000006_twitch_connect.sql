-- Connect with Twitch: what the account shows (avatar), why its tokens stopped working (the user
-- must connect again), when Twitch last validated them, and the last stats fetched (a cache, so
-- lists and the CLI do not spend the rate limit on every look).
ALTER TABLE twitch_accounts ADD COLUMN avatar_url TEXT;
ALTER TABLE twitch_accounts ADD COLUMN auth_problem TEXT;
ALTER TABLE twitch_accounts ADD COLUMN validated_at TEXT;
ALTER TABLE twitch_accounts ADD COLUMN stats_json TEXT;
ALTER TABLE twitch_accounts ADD COLUMN stats_fetched_unix INTEGER;
-- Title, category and tags are applied to each connected destination at go-live; a refusal does
-- not stop the stream and is shown on its row.
ALTER TABLE streams ADD COLUMN channel_notice TEXT;
