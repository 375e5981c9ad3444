-- A recurring schedule published to a channel's Twitch schedule: the weekly segments Twitch made
-- for it (a JSON array of ids, removed with the schedule), or why it could not (a hand-added
-- account, a grant without channel:manage:schedule).
CREATE TABLE schedule_on_twitch (
    schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL REFERENCES twitch_accounts (id) ON DELETE CASCADE,
    segment_ids TEXT NOT NULL DEFAULT '[]',
    notice      TEXT,
    PRIMARY KEY (schedule_id, account_id)
);
