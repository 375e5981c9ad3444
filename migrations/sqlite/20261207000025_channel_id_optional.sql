-- Issue 31: an account added by hand needs only its server and key, as in OBS. Twitch's channel
-- id becomes optional (set when the account is connected, or looked up by its login). SQLite
-- cannot drop a NOT NULL in place: the table is made again, the documented way. Migrations run
-- with foreign keys off (db/mod.rs), so dropping the old table cascades to nothing, and the
-- streams and Twitch-schedule rows that point at an account keep pointing at it (checked with
-- foreign_key_check after the run).
CREATE TABLE twitch_accounts_new (
    id                    INTEGER PRIMARY KEY,
    user_id               INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display_name          TEXT NOT NULL,
    login                 TEXT,
    channel_id            TEXT,
    stream_key_cipher     BLOB,
    stream_key_nonce      BLOB,
    stream_key_tag        BLOB,
    ingest_server         TEXT,
    access_token_cipher   BLOB,
    access_token_nonce    BLOB,
    access_token_tag      BLOB,
    refresh_token_cipher  BLOB,
    refresh_token_nonce   BLOB,
    refresh_token_tag     BLOB,
    token_expires_at      TEXT,
    scopes                TEXT,
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    stream_key_hint       TEXT,
    avatar_url            TEXT,
    auth_problem          TEXT,
    validated_at          TEXT,
    stats_json            TEXT,
    stats_fetched_unix    INTEGER,
    refresh_claimed_until INTEGER,
    -- NULLs are distinct: any number of accounts without a channel id; one row per channel id.
    UNIQUE (user_id, channel_id)
);
INSERT INTO twitch_accounts_new (id, user_id, display_name, login, channel_id, stream_key_cipher, stream_key_nonce,
    stream_key_tag, ingest_server, access_token_cipher, access_token_nonce, access_token_tag, refresh_token_cipher,
    refresh_token_nonce, refresh_token_tag, token_expires_at, scopes, created_at, updated_at, stream_key_hint, avatar_url,
    auth_problem, validated_at, stats_json, stats_fetched_unix, refresh_claimed_until)
SELECT id, user_id, display_name, login, channel_id, stream_key_cipher, stream_key_nonce,
    stream_key_tag, ingest_server, access_token_cipher, access_token_nonce, access_token_tag, refresh_token_cipher,
    refresh_token_nonce, refresh_token_tag, token_expires_at, scopes, created_at, updated_at, stream_key_hint, avatar_url,
    auth_problem, validated_at, stats_json, stats_fetched_unix, refresh_claimed_until
FROM twitch_accounts;
DROP TABLE twitch_accounts;
ALTER TABLE twitch_accounts_new RENAME TO twitch_accounts;
