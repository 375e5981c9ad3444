-- A playlist's own slate: a library video played in place of an item that cannot play (NULL: the
-- built-in card with the channel's title and "back soon").
ALTER TABLE playlists ADD COLUMN slate_video_id INTEGER REFERENCES videos (id) ON DELETE SET NULL;
