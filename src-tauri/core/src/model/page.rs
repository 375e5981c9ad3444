//! A page of a list, by a cursor: what a client of `serve` asks for instead of everything.

/// One page: the rows past `cursor` (the last id of the page before, as the previous answer's
/// next link gave it), at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub cursor: Option<i64>,
    pub limit: u32,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 500;

    /// A page of `limit` (default [`Self::DEFAULT_LIMIT`], at most [`Self::MAX_LIMIT`]).
    pub fn new(cursor: Option<i64>, limit: Option<u32>) -> Self {
        Self { cursor, limit: limit.unwrap_or(Self::DEFAULT_LIMIT).clamp(1, Self::MAX_LIMIT) }
    }

    /// The cursor of the page after one that held `ids` (in list order), when that page was full.
    pub fn next(&self, last_id: Option<i64>, count: usize) -> Option<i64> {
        (count as u64 >= u64::from(self.limit)).then_some(last_id).flatten()
    }
}
