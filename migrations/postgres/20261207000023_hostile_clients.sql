-- Issue 30: a profile's API sessions can be ended. Every token carries its profile's session
-- key; a new key (sign-out everywhere, a new UUID) ends every token issued before, and a
-- profile that ever got another's row id never accepts that one's tokens.
ALTER TABLE users ADD COLUMN session_key TEXT NOT NULL DEFAULT '';
UPDATE users SET session_key = md5(random()::text || clock_timestamp()::text || id::text);

-- Issue 30: a plan caps what a profile keeps besides storage: playlists, recurring schedules, and
-- one-off broadcasts scheduled ahead (NULL: unlimited; an ADMIN is not limited).
ALTER TABLE plans ADD COLUMN max_playlists INTEGER CHECK (max_playlists IS NULL OR max_playlists >= 0);
ALTER TABLE plans ADD COLUMN max_schedules INTEGER CHECK (max_schedules IS NULL OR max_schedules >= 0);
ALTER TABLE plans ADD COLUMN max_scheduled INTEGER CHECK (max_scheduled IS NULL OR max_scheduled >= 0);
UPDATE plans SET max_playlists = 20, max_schedules = 10, max_scheduled = 20 WHERE name = 'FREE';
UPDATE plans SET max_playlists = 200, max_schedules = 100, max_scheduled = 200 WHERE name = 'PRO';

-- (SQLite keeps the ids of deleted profiles so none is handed out twice; PostgreSQL's identity
-- sequence never goes back, so nothing is needed here.)
