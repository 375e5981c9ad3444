-- Playlists (DESIGN.md §10): a named, ordered list of a profile's library videos that a broadcast
-- plays in turn, looped or shuffled, with an optional insert (a bumper, an ident) every N items.
CREATE TABLE playlists (
    id              INTEGER PRIMARY KEY,
    owner_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    loop            INTEGER NOT NULL DEFAULT 0 CHECK (loop IN (0, 1)),
    shuffle         INTEGER NOT NULL DEFAULT 0 CHECK (shuffle IN (0, 1)),
    insert_every    INTEGER CHECK (insert_every IS NULL OR insert_every > 0),
    insert_video_id INTEGER REFERENCES videos (id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (owner_id, name)
);

-- An item is its video plus what the channels get when it starts (NULL: the broadcast's own).
-- A video removed from the library leaves its playlists.
CREATE TABLE playlist_items (
    id          INTEGER PRIMARY KEY,
    playlist_id INTEGER NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    video_id    INTEGER NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    title       TEXT,
    category    TEXT,
    tags        TEXT
);
CREATE INDEX playlist_items_order ON playlist_items (playlist_id, position);

-- The playlist a broadcast plays (its rows' video_id is the first item's).
ALTER TABLE streams ADD COLUMN playlist_id INTEGER REFERENCES playlists (id) ON DELETE SET NULL;
