-- S3-compatible storage for this data dir: one row. The secret key is sealed by the vault like
-- every other secret (its three columns). Environment variables (S3_*) override it.
CREATE TABLE s3_config (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    endpoint          TEXT,
    bucket            TEXT NOT NULL,
    region            TEXT NOT NULL DEFAULT 'us-east-1',
    access_key        TEXT NOT NULL,
    secret_key_cipher BLOB,
    secret_key_nonce  BLOB,
    secret_key_tag    BLOB,
    path_style        INTEGER NOT NULL DEFAULT 1 CHECK (path_style IN (0, 1)),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
