-- Keys Twitcher makes for itself, sealed by the vault like every other secret: the signing key
-- of the HTTP API's session tokens (`twitcher serve`).
CREATE TABLE server_keys (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    secret_cipher BLOB NOT NULL,
    secret_nonce  BLOB NOT NULL,
    secret_tag    BLOB NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
