-- The whole data model of DESIGN.md §3, created at once so later work adds columns, not tables.
-- Times are UTC RFC 3339 text; booleans are 0/1; money-like sizes are bytes.

-- Plans carry their limits as data: NULL means unlimited.
CREATE TABLE plans (
    name              TEXT PRIMARY KEY CHECK (name IN ('FREE', 'PRO', 'ENTERPRISE')),
    rank              INTEGER NOT NULL UNIQUE,
    max_accounts      INTEGER CHECK (max_accounts IS NULL OR max_accounts >= 0),
    max_storage_bytes INTEGER CHECK (max_storage_bytes IS NULL OR max_storage_bytes >= 0)
);
INSERT INTO plans (name, rank, max_accounts, max_storage_bytes) VALUES
    ('FREE',       0, 3,    10737418240),   -- 3 accounts, 10 GB
    ('PRO',        1, 10,   107374182400),  -- 10 accounts, 100 GB
    ('ENTERPRISE', 2, NULL, NULL);          -- unlimited

-- A profile's UUID is its bearer credential, so it is never stored: only its SHA-256 (a v4 UUID
-- has 122 random bits, so an unsalted fast hash cannot be reversed) and its last four characters,
-- which let a person tell profiles apart in a list.
CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    uuid_hash  TEXT NOT NULL UNIQUE CHECK (length(uuid_hash) = 64),
    uuid_hint  TEXT NOT NULL CHECK (length(uuid_hint) = 4),
    name       TEXT NOT NULL,
    email      TEXT,
    role       TEXT NOT NULL DEFAULT 'USER' CHECK (role IN ('USER', 'ADMIN')),
    plan       TEXT NOT NULL DEFAULT 'FREE' REFERENCES plans (name),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Secrets are sealed by the vault (AES-256-GCM): ciphertext, nonce and tag in their own columns.
CREATE TABLE twitch_accounts (
    id                   INTEGER PRIMARY KEY,
    user_id              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display_name         TEXT NOT NULL,
    login                TEXT,
    channel_id           TEXT NOT NULL,
    stream_key_cipher    BLOB,
    stream_key_nonce     BLOB,
    stream_key_tag       BLOB,
    ingest_server        TEXT,
    access_token_cipher  BLOB,
    access_token_nonce   BLOB,
    access_token_tag     BLOB,
    refresh_token_cipher BLOB,
    refresh_token_nonce  BLOB,
    refresh_token_tag    BLOB,
    token_expires_at     TEXT,
    scopes               TEXT,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (user_id, channel_id)
);

CREATE TABLE videos (
    id           INTEGER PRIMARY KEY,
    uploader_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    storage      TEXT NOT NULL DEFAULT 'local' CHECK (storage IN ('local', 's3')),
    s3_key       TEXT UNIQUE,
    local_path   TEXT,
    content_hash TEXT,
    size_bytes   INTEGER NOT NULL DEFAULT 0,
    duration_sec REAL,
    width        INTEGER,
    height       INTEGER,
    fps          REAL,
    codec_video  TEXT,
    codec_audio  TEXT,
    bitrate      INTEGER,
    container    TEXT,
    thumbnail    TEXT,
    status       TEXT NOT NULL DEFAULT 'importing' CHECK (status IN ('importing', 'ready', 'failed')),
    error        TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX videos_uploader ON videos (uploader_id, created_at);
CREATE UNIQUE INDEX videos_content ON videos (uploader_id, content_hash) WHERE content_hash IS NOT NULL;

-- A Twitch-ready copy of a video for one quality profile (fps, bitrates, resolution), made once.
CREATE TABLE prepared_media (
    id           INTEGER PRIMARY KEY,
    video_id     INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    profile_hash TEXT NOT NULL,
    path         TEXT,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'ready', 'failed')),
    progress     REAL NOT NULL DEFAULT 0,
    error        TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (video_id, profile_hash)
);

-- One row per destination: a broadcast (broadcast_id) of one video to N accounts is N rows.
-- The account and video may be removed later; the history stays.
CREATE TABLE streams (
    id                INTEGER PRIMARY KEY,
    creator_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    twitch_account_id INTEGER REFERENCES twitch_accounts (id) ON DELETE SET NULL,
    video_id          INTEGER REFERENCES videos (id) ON DELETE SET NULL,
    broadcast_id      TEXT NOT NULL,
    title             TEXT NOT NULL DEFAULT '',
    category          TEXT,
    tags              TEXT NOT NULL DEFAULT '[]',
    fps               INTEGER NOT NULL DEFAULT 30,
    video_bitrate_k   INTEGER NOT NULL DEFAULT 2500,
    audio_bitrate_k   INTEGER NOT NULL DEFAULT 160,
    resolution        TEXT NOT NULL DEFAULT '1920x1080',
    loop              INTEGER NOT NULL DEFAULT 0 CHECK (loop IN (0, 1)),
    status            TEXT NOT NULL DEFAULT 'queued' CHECK (status IN
        ('scheduled', 'queued', 'starting', 'live', 'reconnecting', 'stopping', 'ended', 'failed', 'cancelled')),
    scheduled_at      TEXT,
    started_at        TEXT,
    ended_at          TEXT,
    error             TEXT,
    reconnects        INTEGER NOT NULL DEFAULT 0,
    bytes_sent        INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX streams_creator ON streams (creator_id, created_at);
CREATE INDEX streams_broadcast ON streams (broadcast_id);
CREATE INDEX streams_status ON streams (status);

-- The log a user reads about one stream; messages are redacted before they are written.
CREATE TABLE stream_events (
    id        INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    level     TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
    message   TEXT NOT NULL
);
CREATE INDEX stream_events_stream ON stream_events (stream_id, at);

-- Durable background work (probe, thumbnail, prepare, upload).
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress     REAL NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    error        TEXT,
    run_after    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at   TEXT,
    finished_at  TEXT
);
CREATE INDEX jobs_ready ON jobs (status, run_after);

-- Small per-data-dir state: the active profile, the login throttle, app settings.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
