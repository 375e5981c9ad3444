//! Playlists (DESIGN.md §10): a named, ordered list of a profile's library videos that a broadcast
//! plays in turn — once or looped, in order or shuffled, with an optional insert (a bumper, an
//! ident) every N items. Each item may carry the title, category and tags the channels get when
//! it starts.
//!
//! Items are named by their id (stable while others move); positions are 1-based on every
//! surface (`playlist move 7 31 1` moves item 31 of playlist 7 to the top).
//! The order a broadcast plays is [`PlayOrder`]: shuffled rounds play each item once per round
//! and never the same item twice in a row, also across rounds.

use rand::seq::SliceRandom;
use rand::RngCore;


use crate::db::playlists::PlaylistRow;
use crate::db::DbError;
use crate::library;
use crate::profiles::Profile;
pub use crate::model::{ItemMeta, Playlist, PlaylistItem, PlaylistOptions};
use crate::Twitcher;

/// The most items a playlist holds: a day of 3-minute clips, with room to spare.
pub const MAX_ITEMS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum PlaylistError {
    #[error("no playlist {id} in this profile")]
    NotFound { id: i64 },
    #[error("{0}")]
    InvalidName(crate::text::TextError),
    #[error("this profile already has a playlist named “{name}”: pick another name")]
    Duplicate { name: String },
    #[error("the {plan} plan keeps {limit} playlists: remove one first, or ask an ADMIN for another plan")]
    PlanLimit { plan: crate::model::Plan, limit: u32 },
    #[error("no video {id} in this profile's library")]
    NoVideo { id: i64 },
    #[error("the playlist has no item {id} (see `twitcher playlist show`)")]
    NoItem { id: i64 },
    #[error("{0}")]
    Invalid(String),
    #[error("playlist {id} is playing in a broadcast: stop it first")]
    InUse { id: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
}


async fn assemble(app: &Twitcher, row: PlaylistRow) -> Result<Playlist, PlaylistError> {
    let items = app.db.playlist_items(row.id).await?;
    Ok(assemble_with(row, items))
}

fn assemble_with(row: PlaylistRow, items: Vec<crate::model::PlaylistItem>) -> Playlist {
    let duration_sec = items.iter().map(|i| i.duration_sec).sum::<Option<f64>>();
    Playlist {
        id: row.id,
        name: row.name,
        options: PlaylistOptions {
            looped: row.looped,
            shuffle: row.shuffle,
            insert_every: row.insert_every.map(|n| n as u32),
            insert_video_id: row.insert_video_id,
            slate_video_id: row.slate_video_id,
        },
        items,
        duration_sec,
        created_at: row.created_at,
    }
}

fn check_name(name: &str) -> Result<&str, PlaylistError> {
    crate::text::line("playlist name", name, 100).map_err(PlaylistError::InvalidName)
}

fn check_meta(meta: &ItemMeta) -> Result<ItemMeta, PlaylistError> {
    let clean = |s: &Option<String>| s.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let meta = ItemMeta { title: clean(&meta.title), category: clean(&meta.category), tags: meta.tags.clone() };
    // Twitch's own limits (Modify Channel Information), as for a stream.
    let invalid = |e: crate::text::TextError| PlaylistError::Invalid(format!("an item's {e}"));
    if let Some(title) = &meta.title {
        crate::text::optional_line("title", title, crate::text::TITLE_MAX).map_err(invalid)?;
    }
    if let Some(category) = &meta.category {
        crate::text::optional_line("category", category, crate::text::CATEGORY_MAX).map_err(invalid)?;
    }
    if let Some(tags) = &meta.tags {
        crate::text::tags(tags).map_err(invalid)?;
    }
    Ok(meta)
}

pub async fn create(app: &Twitcher, actor: &Profile, name: &str) -> Result<Playlist, PlaylistError> {
    let name = check_name(name)?;
    let max = crate::model::PlanLimits::for_role(actor.limits.max_playlists, actor.role);
    let id = match app.db.insert_playlist(actor.id, name, max).await? {
        Ok(id) => id,
        Err(crate::db::Refused::Duplicate) => return Err(PlaylistError::Duplicate { name: name.to_string() }),
        Err(crate::db::Refused::OverLimit) => return Err(PlaylistError::PlanLimit { plan: actor.plan, limit: max.unwrap_or(0) }),
    };
    tracing::info!(playlist_id = id, "playlist created");
    get(app, actor, id).await
}

pub async fn get(app: &Twitcher, actor: &Profile, id: i64) -> Result<Playlist, PlaylistError> {
    let row = app.db.playlist(actor.id, id).await?.ok_or(PlaylistError::NotFound { id })?;
    assemble(app, row).await
}

/// A page of the profile's playlists by id (the API's list): two queries whatever its size.
pub async fn list_page(app: &Twitcher, actor: &Profile, page: crate::model::PageRequest) -> Result<Vec<Playlist>, PlaylistError> {
    let rows = app.db.playlists_page(actor.id, page.cursor.unwrap_or(0), page.limit).await?;
    let (Some(first), Some(last)) = (rows.first().map(|r| r.id), rows.last().map(|r| r.id)) else { return Ok(Vec::new()) };
    let mut items = app.db.playlist_items_between(actor.id, first, last).await?.into_iter().peekable();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut mine = Vec::new();
        while let Some((_, item)) = items.next_if(|(playlist_id, _)| *playlist_id == row.id) {
            mine.push(item);
        }
        out.push(assemble_with(row, mine));
    }
    Ok(out)
}

pub async fn list(app: &Twitcher, actor: &Profile) -> Result<Vec<Playlist>, PlaylistError> {
    let mut out = Vec::new();
    for row in app.db.playlists(actor.id).await? {
        out.push(assemble(app, row).await?);
    }
    Ok(out)
}

/// Adds a library video at `position` (1-based; `None` or past the end appends).
pub async fn add(app: &Twitcher, actor: &Profile, id: i64, video_id: i64, position: Option<u32>, meta: &ItemMeta) -> Result<Playlist, PlaylistError> {
    let playlist = get(app, actor, id).await?;
    library::get(app, actor, video_id).await.map_err(|_| PlaylistError::NoVideo { id: video_id })?;
    if playlist.items.len() >= MAX_ITEMS {
        return Err(PlaylistError::Invalid(format!("a playlist holds at most {MAX_ITEMS} items")));
    }
    if position == Some(0) {
        return Err(PlaylistError::Invalid("positions start at 1".into()));
    }
    let meta = check_meta(meta)?;
    app.db.insert_playlist_item(id, position.map(|p| p - 1), video_id, &meta).await?;
    get(app, actor, id).await
}

/// Where the item `item_id` is (0-based), if it is in the playlist.
fn index_of(playlist: &Playlist, item_id: i64) -> Result<u32, PlaylistError> {
    playlist.items.iter().position(|i| i.id == item_id).map(|i| i as u32).ok_or(PlaylistError::NoItem { id: item_id })
}

/// Moves the item `item_id` to `position` (1-based; past the end means last).
pub async fn move_item(app: &Twitcher, actor: &Profile, id: i64, item_id: i64, position: u32) -> Result<Playlist, PlaylistError> {
    let playlist = get(app, actor, id).await?;
    let from = index_of(&playlist, item_id)?;
    if position == 0 {
        return Err(PlaylistError::Invalid("positions start at 1".into()));
    }
    app.db.move_playlist_item(id, from, position - 1).await?;
    get(app, actor, id).await
}

pub async fn remove_item(app: &Twitcher, actor: &Profile, id: i64, item_id: i64) -> Result<Playlist, PlaylistError> {
    let playlist = get(app, actor, id).await?;
    let index = index_of(&playlist, item_id)?;
    app.db.remove_playlist_item(id, index).await?;
    get(app, actor, id).await
}

pub async fn set_options(app: &Twitcher, actor: &Profile, id: i64, options: &PlaylistOptions) -> Result<Playlist, PlaylistError> {
    get(app, actor, id).await?;
    match (options.insert_every, options.insert_video_id) {
        (Some(0), _) => return Err(PlaylistError::Invalid("“every N items” needs N of 1 or more".into())),
        (Some(_), None) | (None, Some(_)) => {
            return Err(PlaylistError::Invalid("an insert needs both a video and how often (every N items)".into()))
        }
        (_, Some(video_id)) => {
            library::get(app, actor, video_id).await.map_err(|_| PlaylistError::NoVideo { id: video_id })?;
        }
        (None, None) => {}
    }
    if let Some(video_id) = options.slate_video_id {
        library::get(app, actor, video_id).await.map_err(|_| PlaylistError::NoVideo { id: video_id })?;
    }
    app.db.set_playlist_options(actor.id, id, options).await?;
    get(app, actor, id).await
}

pub async fn delete(app: &Twitcher, actor: &Profile, id: i64) -> Result<(), PlaylistError> {
    get(app, actor, id).await?;
    if app.db.playlist_in_use(id).await? {
        return Err(PlaylistError::InUse { id });
    }
    app.db.delete_playlist(actor.id, id).await?;
    tracing::info!(playlist_id = id, "playlist deleted");
    Ok(())
}

/// One entry of what a broadcast plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entry {
    /// The playlist's item at this index (0-based).
    Item(usize),
    /// The insert (`insert_video_id`).
    Insert,
}

/// The order a playlist plays: in order, or a fresh shuffle each round in which no item follows
/// itself across the boundary of two rounds; an insert after every N items (counted across
/// rounds); rounds forever when looped.
pub struct PlayOrder<R> {
    len: usize,
    options: PlaylistOptions,
    rng: R,
    round: Vec<usize>,
    next: usize,
    played: u64,
    insert_due: bool,
    last: Option<usize>,
    rounds: u64,
}

impl<R: RngCore> PlayOrder<R> {
    pub fn new(len: usize, options: PlaylistOptions, rng: R) -> Self {
        Self { len, options, rng, round: Vec::new(), next: 0, played: 0, insert_due: false, last: None, rounds: 0 }
    }

    fn new_round(&mut self) {
        self.round = (0..self.len).collect();
        if self.options.shuffle {
            self.round.shuffle(&mut self.rng);
            // The first of this round must not be the last of the previous one.
            if self.len > 1 && self.round.first() == self.last.as_ref() {
                let swap = 1 + (self.rng.next_u32() as usize % (self.len - 1));
                self.round.swap(0, swap);
            }
        }
        self.next = 0;
        self.rounds += 1;
    }
}

impl<R: RngCore> Iterator for PlayOrder<R> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if self.len == 0 {
            return None;
        }
        if self.insert_due {
            self.insert_due = false;
            return Some(Entry::Insert);
        }
        if self.next >= self.round.len() {
            if self.rounds > 0 && !self.options.looped {
                return None;
            }
            self.new_round();
        }
        let index = self.round[self.next];
        self.next += 1;
        self.played += 1;
        self.last = Some(index);
        if let (Some(every), Some(_)) = (self.options.insert_every, self.options.insert_video_id) {
            self.insert_due = every > 0 && self.played % every as u64 == 0;
        }
        Some(Entry::Item(index))
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    fn order(len: usize, options: PlaylistOptions, seed: u64) -> PlayOrder<StdRng> {
        PlayOrder::new(len, options, StdRng::seed_from_u64(seed))
    }

    #[test]
    fn in_order_plays_each_item_once_and_stops_unless_looped() {
        let once: Vec<_> = order(3, PlaylistOptions::default(), 1).collect();
        assert_eq!(once, vec![Entry::Item(0), Entry::Item(1), Entry::Item(2)]);
        let looped: Vec<_> = order(3, PlaylistOptions { looped: true, ..Default::default() }, 1).take(7).collect();
        assert_eq!(looped, vec![Entry::Item(0), Entry::Item(1), Entry::Item(2), Entry::Item(0), Entry::Item(1), Entry::Item(2), Entry::Item(0)]);
        assert_eq!(order(0, PlaylistOptions { looped: true, ..Default::default() }, 1).next(), None);
    }

    #[test]
    fn shuffle_plays_each_item_once_per_round_and_never_twice_in_a_row_over_twenty_rounds() {
        for len in [2usize, 3, 5, 8] {
            for seed in 0..50 {
                let options = PlaylistOptions { looped: true, shuffle: true, ..Default::default() };
                let played: Vec<usize> = order(len, options, seed)
                    .take(len * 20)
                    .map(|e| match e {
                        Entry::Item(i) => i,
                        Entry::Insert => panic!("no insert asked"),
                    })
                    .collect();
                for round in played.chunks(len) {
                    let mut sorted = round.to_vec();
                    sorted.sort_unstable();
                    assert_eq!(sorted, (0..len).collect::<Vec<_>>(), "each item once per round (len {len}, seed {seed})");
                }
                assert!(played.windows(2).all(|w| w[0] != w[1]), "the same item twice in a row (len {len}, seed {seed}): {played:?}");
            }
        }
        // Shuffled, not merely rotated: some seed puts another item first.
        let firsts: std::collections::HashSet<_> =
            (0..20).map(|seed| order(5, PlaylistOptions { shuffle: true, ..Default::default() }, seed).next()).collect();
        assert!(firsts.len() > 1);
    }

    #[test]
    fn an_insert_follows_every_nth_item_across_rounds() {
        let options = PlaylistOptions { looped: true, insert_every: Some(2), insert_video_id: Some(9), ..Default::default() };
        let played: Vec<_> = order(3, options, 1).take(9).collect();
        use Entry::*;
        assert_eq!(played, vec![Item(0), Item(1), Insert, Item(2), Item(0), Insert, Item(1), Item(2), Insert]);
    }
}
