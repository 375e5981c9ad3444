//! One source, N bounded queues. A destination whose queue is full misses tags until the next
//! keyframe (a clean place for its decoder to resume) instead of stalling the source and every
//! other destination.

use tokio::sync::mpsc;

use super::flv::{Tag, TagKind};

/// Tags a destination may fall behind by: about 4 s of 30 fps video with its audio.
pub const QUEUE: usize = 320;

struct Output {
    tx: mpsc::Sender<Tag>,
    skipping: bool,
    skipped: u64,
}

pub struct Fanout {
    outputs: Vec<Output>,
}

impl Fanout {
    pub fn new() -> Self {
        Self { outputs: Vec::new() }
    }

    pub fn add(&mut self) -> mpsc::Receiver<Tag> {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.outputs.push(Output { tx, skipping: false, skipped: 0 });
        rx
    }

    /// Hands a tag to every destination still listening; returns how many are.
    pub fn send(&mut self, tag: &Tag) -> usize {
        self.outputs.retain_mut(|out| {
            if out.skipping {
                if tag.kind == TagKind::Video && tag.is_keyframe() {
                    out.skipping = false;
                } else {
                    out.skipped += 1;
                    return true;
                }
            }
            match out.tx.try_send(tag.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    out.skipping = true;
                    out.skipped += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        self.outputs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn tag(keyframe: bool, ts: u32) -> Tag {
        Tag { kind: TagKind::Video, timestamp: ts, data: Bytes::from(vec![if keyframe { 0x17 } else { 0x27 }, 1]) }
    }

    #[tokio::test]
    async fn a_full_destination_skips_to_the_next_keyframe_and_the_others_get_everything() {
        let mut fanout = Fanout::new();
        let mut fast = fanout.add();
        let mut slow = fanout.add();
        let mut received = Vec::new();
        for i in 0..(QUEUE as u32 + 10) {
            fanout.send(&tag(i % 60 == 0, i));
            received.push(fast.recv().await.unwrap().timestamp); // fast keeps up
        }
        assert_eq!(received.len(), QUEUE + 10);
        // slow never read: it holds the first QUEUE tags and then skipped.
        let mut slow_ts = Vec::new();
        while let Ok(t) = slow.try_recv() {
            slow_ts.push(t.timestamp);
        }
        assert_eq!(slow_ts.len(), QUEUE);
        // After draining, the next tags wait for a keyframe.
        fanout.send(&tag(false, 1000));
        assert!(slow.try_recv().is_err());
        fanout.send(&tag(true, 1001));
        assert_eq!(slow.try_recv().unwrap().timestamp, 1001);
    }

    #[tokio::test]
    async fn closed_destinations_are_dropped() {
        let mut fanout = Fanout::new();
        let keep = fanout.add();
        drop(fanout.add());
        assert_eq!(fanout.send(&tag(true, 0)), 1);
        drop(keep);
        assert_eq!(fanout.send(&tag(true, 1)), 0);
    }
}
