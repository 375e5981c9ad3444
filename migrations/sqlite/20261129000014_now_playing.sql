-- What a playlist broadcast plays now and next, on each of its rows, so every process (the CLI's
-- `stream list`, another node's API) sees it, not only the one running it. NULL for a one-video
-- broadcast and once a broadcast has ended.
ALTER TABLE streams ADD COLUMN now_playing TEXT;
ALTER TABLE streams ADD COLUMN up_next TEXT;
