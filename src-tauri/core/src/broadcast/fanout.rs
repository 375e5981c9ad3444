//! One source, N bounded queues. The source hands over batches of tags (about 100 ms each, so a
//! destination costs one wake-up and one socket write per batch, not per tag). A destination whose
//! queue is full misses batches until the next keyframe — a clean place for its decoder to
//! resume — instead of stalling the source and every other destination.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::flv::Tag;

/// Batches a destination may fall behind by: about 4 s.
pub const QUEUE: usize = 40;

pub type Batch = Arc<Vec<Tag>>;

struct Output {
    tx: mpsc::Sender<Batch>,
    skipping: bool,
}

pub struct Fanout {
    outputs: Vec<Output>,
}

impl Fanout {
    pub fn new() -> Self {
        Self { outputs: Vec::new() }
    }

    pub fn add(&mut self) -> mpsc::Receiver<Batch> {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.outputs.push(Output { tx, skipping: false });
        rx
    }

    /// Hands a batch to every destination still listening; returns how many are.
    pub fn send(&mut self, batch: &Batch) -> usize {
        self.outputs.retain_mut(|out| {
            let mut to_send = batch.clone();
            if out.skipping {
                // Resume at the batch's first keyframe, if it has one.
                let Some(k) = batch.iter().position(Tag::is_keyframe) else { return !out.tx.is_closed() };
                if k > 0 {
                    to_send = Arc::new(batch[k..].to_vec());
                }
                out.skipping = false;
            }
            match out.tx.try_send(to_send) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    out.skipping = true;
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
    use crate::broadcast::flv::TagKind;
    use bytes::Bytes;

    fn tag(keyframe: bool, ts: u32) -> Tag {
        Tag { kind: TagKind::Video, timestamp: ts, data: Bytes::from(vec![if keyframe { 0x17 } else { 0x27 }, 1]) }
    }

    fn batch(tags: Vec<Tag>) -> Batch {
        Arc::new(tags)
    }

    #[tokio::test]
    async fn a_full_destination_skips_to_the_next_keyframe_and_the_others_get_everything() {
        let mut fanout = Fanout::new();
        let mut fast = fanout.add();
        let mut slow = fanout.add();
        for i in 0..(QUEUE as u32 + 5) {
            fanout.send(&batch(vec![tag(false, i * 10), tag(false, i * 10 + 1)]));
            assert_eq!(fast.recv().await.unwrap()[0].timestamp, i * 10, "fast keeps up");
        }
        let mut held = 0;
        while slow.try_recv().is_ok() {
            held += 1;
        }
        assert_eq!(held, QUEUE, "slow holds a full queue and skipped the rest");
        // After draining, a batch without a keyframe is still skipped …
        fanout.send(&batch(vec![tag(false, 1000)]));
        assert!(slow.try_recv().is_err());
        // … and one with a keyframe resumes from that keyframe.
        fanout.send(&batch(vec![tag(false, 1001), tag(true, 1002), tag(false, 1003)]));
        let resumed = slow.try_recv().unwrap();
        assert_eq!(resumed.iter().map(|t| t.timestamp).collect::<Vec<_>>(), [1002, 1003]);
        assert_eq!(fast.try_recv().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn closed_destinations_are_dropped() {
        let mut fanout = Fanout::new();
        let keep = fanout.add();
        drop(fanout.add());
        assert_eq!(fanout.send(&batch(vec![tag(true, 0)])), 1);
        drop(keep);
        assert_eq!(fanout.send(&batch(vec![tag(true, 1)])), 0);
    }
}
