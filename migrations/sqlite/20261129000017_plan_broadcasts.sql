-- How many broadcasts a profile of each plan may run at once (NULL: no limit). An ADMIN is not
-- limited: it is the installation's owner.
ALTER TABLE plans ADD COLUMN max_broadcasts INTEGER CHECK (max_broadcasts IS NULL OR max_broadcasts >= 0);
UPDATE plans SET max_broadcasts = 1 WHERE name = 'FREE';
UPDATE plans SET max_broadcasts = 5 WHERE name = 'PRO';
