-- Issue 30: a profile's API sessions can be ended. Every token carries its profile's session
-- key; a new key (sign-out everywhere, a new UUID) ends every token issued before, and a
-- profile that ever got another's row id never accepts that one's tokens.
ALTER TABLE users ADD COLUMN session_key TEXT NOT NULL DEFAULT '';
UPDATE users SET session_key = lower(hex(randomblob(16)));

-- Issue 30: a plan caps what a profile keeps besides storage: playlists, recurring schedules, and
-- one-off broadcasts scheduled ahead (NULL: unlimited; an ADMIN is not limited).
ALTER TABLE plans ADD COLUMN max_playlists INTEGER CHECK (max_playlists IS NULL OR max_playlists >= 0);
ALTER TABLE plans ADD COLUMN max_schedules INTEGER CHECK (max_schedules IS NULL OR max_schedules >= 0);
ALTER TABLE plans ADD COLUMN max_scheduled INTEGER CHECK (max_scheduled IS NULL OR max_scheduled >= 0);
UPDATE plans SET max_playlists = 20, max_schedules = 10, max_scheduled = 20 WHERE name = 'FREE';
UPDATE plans SET max_playlists = 200, max_schedules = 100, max_scheduled = 200 WHERE name = 'PRO';

-- Issue 30: a profile id is never handed out twice. `users` has no AUTOINCREMENT (a table cannot
-- gain it), so SQLite would give a deleted highest id to the next profile; the ids of deleted
-- profiles are kept here and new profiles are numbered past them (db/users.rs).
CREATE TABLE retired_user_ids (id INTEGER PRIMARY KEY);
CREATE TRIGGER users_retire_id AFTER DELETE ON users BEGIN
    INSERT OR IGNORE INTO retired_user_ids (id) VALUES (old.id);
END;
