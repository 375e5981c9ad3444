-- The video a job produced (an import) or works on (an upload), so callers can find it.
ALTER TABLE jobs ADD COLUMN video_id INTEGER REFERENCES videos (id) ON DELETE SET NULL;
