//! One source, N bounded queues. The source hands over batches of tags (about 200 ms each, so a
//! destination costs one wake-up and one socket write per batch, not per tag). A destination whose
//! queue is full misses batches until the next keyframe — a clean place for its decoder to
//! resume — instead of stalling the source and every other destination.
//!
//! Each batch is turned into RTMP chunks once, not once per destination: every tag's chunks
//! start with a full (type 0) header, so they mean the same on any connection whatever was sent
//! before — after a skip, a reconnect or another destination's different history. A destination
//! then only writes a slice of shared bytes; with 50 destinations that is most of the cost gone.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use rml_rtmp::chunk_io::ChunkSerializer;
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::time::RtmpTimestamp;
use tokio::sync::mpsc;

use super::flv::{Headers, Tag, TagKind};

/// Batches a destination may fall behind by: about 4 s (of [`super::source::BATCH_MS`] each).
pub const QUEUE: usize = 20;

/// The chunk size every publisher announces (rml_rtmp's `ClientSessionConfig` default): the
/// shared chunks are cut at it, so it must be the one the receiver was told.
pub const CHUNK_SIZE: u32 = 4096;

/// Tags with their RTMP chunks, shared by every destination.
pub struct Batch {
    pub tags: Vec<Tag>,
    /// The sequence headers these tags were made with: what a destination that (re)connects at
    /// this batch sends first.
    pub headers: Arc<Headers>,
    /// Its first tags start a pass (a playlist item, a loop): a clean place for the planned
    /// reconnect before Twitch's 48-hour limit.
    pub starts_item: bool,
    /// Chunks for the message stream id most connections have (the first one asked for).
    wire: OnceLock<(u32, Wire)>,
}

/// A batch's chunks: `bytes[offsets[i]..offsets[i + 1]]` is tag `i` (empty for script tags).
#[derive(Clone)]
pub struct Wire {
    pub bytes: Bytes,
    pub offsets: Vec<usize>,
}

impl Wire {
    /// The chunks of tags `from..to`.
    pub fn range(&self, from: usize, to: usize) -> Bytes {
        self.bytes.slice(self.offsets[from]..self.offsets[to])
    }
}

impl Batch {
    pub fn new(tags: Vec<Tag>, headers: Arc<Headers>) -> Arc<Self> {
        Arc::new(Self { tags, headers, starts_item: false, wire: OnceLock::new() })
    }

    /// The chunks of this batch for RTMP message stream `stream_id`, made by the first
    /// destination that asks and shared with the rest (a connection with another stream id gets
    /// its own copy).
    pub fn wire(&self, stream_id: u32) -> Cow<'_, Wire> {
        let (id, wire) = self.wire.get_or_init(|| (stream_id, serialize(&self.tags, stream_id)));
        if *id == stream_id {
            Cow::Borrowed(wire)
        } else {
            Cow::Owned(serialize(&self.tags, stream_id))
        }
    }
}

/// Audio and video messages with full headers, cut at [`CHUNK_SIZE`]. rml_rtmp's serializer
/// writes the extended timestamp (at or past 0xFFFFFF ms, 4.66 h) on every chunk of a message.
pub fn serialize(tags: &[Tag], stream_id: u32) -> Wire {
    let mut serializer = ChunkSerializer::new();
    // The SetChunkSize message it returns was sent by the session at connect time.
    let _ = serializer.set_max_chunk_size(CHUNK_SIZE, RtmpTimestamp::new(0));
    let mut bytes = Vec::with_capacity(tags.iter().map(|t| t.data.len() + 24).sum());
    let mut offsets = Vec::with_capacity(tags.len() + 1);
    for tag in tags {
        offsets.push(bytes.len());
        let message = match tag.kind {
            TagKind::Video => RtmpMessage::VideoData { data: tag.data.clone() },
            TagKind::Audio => RtmpMessage::AudioData { data: tag.data.clone() },
            TagKind::Script => continue,
        };
        let packet = match message.into_message_payload(RtmpTimestamp::new(tag.timestamp), stream_id) {
            Ok(payload) => serializer.serialize(&payload, true, false).map_err(|e| format!("{e:?}")),
            Err(e) => Err(format!("{e:?}")),
        };
        match packet {
            Ok(p) => bytes.extend_from_slice(&p.bytes),
            // Only a payload over 16 MiB fails; FLV cannot carry one. Skip it rather than stop.
            Err(error) => tracing::warn!(%error, "a tag could not be put into RTMP chunks; skipped"),
        }
    }
    offsets.push(bytes.len());
    Wire { bytes: Bytes::from(bytes), offsets }
}

/// What a destination gets: a batch, from tag `from` on.
#[derive(Clone)]
pub struct Slice {
    pub batch: Arc<Batch>,
    pub from: usize,
}

struct Output {
    tx: mpsc::Sender<Slice>,
    skipping: bool,
}

pub struct Fanout {
    outputs: Vec<Output>,
    /// The sequence headers of what is being sent now (they change at a playlist join).
    headers: Arc<Headers>,
    /// The newest timestamp handed out: receivers need timestamps that never go back, and audio
    /// and video interleave a few milliseconds apart.
    last_ts: Option<u32>,
    /// The next batch starts a pass.
    item_start: bool,
    /// The newest timestamp handed out, plus one (0: none yet), for the supervisor to record: a
    /// node taking a destination over starts after it.
    sent: Arc<AtomicU64>,
}

/// A view of the newest timestamp a [`Fanout`] handed out.
#[derive(Clone, Default)]
pub struct Sent(Arc<AtomicU64>);

impl Sent {
    pub fn get(&self) -> Option<u32> {
        self.0.load(Ordering::Relaxed).checked_sub(1).map(|ts| ts as u32)
    }
}

/// `ts` unless it is behind `last`, in RTMP's wrapping 32-bit time (serial number arithmetic:
/// 5 comes after 0xFFFF_FFF0).
pub fn not_before(ts: u32, last: u32) -> u32 {
    if (ts.wrapping_sub(last) as i32) < 0 {
        last
    } else {
        ts
    }
}

impl Fanout {
    pub fn new() -> Self {
        Self { outputs: Vec::new(), headers: Arc::default(), last_ts: None, item_start: false, sent: Arc::default() }
    }

    /// The newest RTMP timestamp handed out so far (kept up to date as batches go out).
    pub fn sent(&self) -> Sent {
        Sent(self.sent.clone())
    }

    /// From the next batch on, tags are made with these sequence headers.
    pub fn set_headers(&mut self, headers: Arc<Headers>) {
        self.headers = headers;
    }

    /// The next batch starts a pass.
    pub fn mark_item_start(&mut self) {
        self.item_start = true;
    }

    pub fn add(&mut self) -> mpsc::Receiver<Slice> {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.outputs.push(Output { tx, skipping: false });
        rx
    }

    /// Hands a batch to every destination still listening; returns how many are.
    pub fn send(&mut self, mut tags: Vec<Tag>) -> usize {
        for tag in &mut tags {
            let ts = match self.last_ts {
                Some(last) => not_before(tag.timestamp, last),
                None => tag.timestamp,
            };
            tag.timestamp = ts;
            self.last_ts = Some(ts);
        }
        if let Some(last) = self.last_ts {
            self.sent.store(u64::from(last) + 1, Ordering::Relaxed);
        }
        let batch = Arc::new(Batch { tags, headers: self.headers.clone(), starts_item: std::mem::take(&mut self.item_start), wire: OnceLock::new() });
        self.outputs.retain_mut(|out| {
            let mut from = 0;
            if out.skipping {
                // Resume at the batch's first keyframe, if it has one.
                let Some(k) = batch.tags.iter().position(Tag::is_keyframe) else { return !out.tx.is_closed() };
                from = k;
                out.skipping = false;
            }
            match out.tx.try_send(Slice { batch: batch.clone(), from }) {
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
    use rml_rtmp::chunk_io::ChunkDeserializer;

    fn tag(keyframe: bool, ts: u32) -> Tag {
        Tag { kind: TagKind::Video, timestamp: ts, data: Bytes::from(vec![if keyframe { 0x17 } else { 0x27 }, 1]) }
    }

    fn timestamps(slice: &Slice) -> Vec<u32> {
        slice.batch.tags[slice.from..].iter().map(|t| t.timestamp).collect()
    }

    #[tokio::test]
    async fn a_full_destination_skips_to_the_next_keyframe_and_the_others_get_everything() {
        let mut fanout = Fanout::new();
        let mut fast = fanout.add();
        let mut slow = fanout.add();
        for i in 0..(QUEUE as u32 + 5) {
            fanout.send(vec![tag(false, i * 10), tag(false, i * 10 + 1)]);
            assert_eq!(timestamps(&fast.recv().await.unwrap())[0], i * 10, "fast keeps up");
        }
        let mut held = 0;
        while slow.try_recv().is_ok() {
            held += 1;
        }
        assert_eq!(held, QUEUE, "slow holds a full queue and skipped the rest");
        // After draining, a batch without a keyframe is still skipped …
        fanout.send(vec![tag(false, 1000)]);
        assert!(slow.try_recv().is_err());
        // … and one with a keyframe resumes from that keyframe.
        fanout.send(vec![tag(false, 1001), tag(true, 1002), tag(false, 1003)]);
        assert_eq!(timestamps(&slow.try_recv().unwrap()), [1002, 1003]);
        assert_eq!(timestamps(&fast.try_recv().unwrap()), [1000]);
    }

    #[tokio::test]
    async fn closed_destinations_are_dropped() {
        let mut fanout = Fanout::new();
        let keep = fanout.add();
        drop(fanout.add());
        assert_eq!(fanout.send(vec![tag(true, 0)]), 1);
        drop(keep);
        assert_eq!(fanout.send(vec![tag(true, 1)]), 0);
    }

    #[test]
    fn timestamps_never_go_back_even_across_the_32_bit_wrap() {
        assert_eq!(not_before(90, 100), 100);
        assert_eq!(not_before(100, 90), 100);
        // 49.7 days in, time wraps: 5 ms after 0xFFFF_FFF0 is ahead, not 4 billion ms behind.
        assert_eq!(not_before(5, 0xFFFF_FFF0), 5);
        assert_eq!(not_before(0xFFFF_FFF0, 5), 5);
        let mut fanout = Fanout::new();
        let mut rx = fanout.add();
        fanout.send(vec![tag(true, 0xFFFF_FFF0), tag(false, 0xFFFF_FFEE), tag(false, 3)]);
        assert_eq!(timestamps(&rx.try_recv().unwrap()), [0xFFFF_FFF0, 0xFFFF_FFF0, 3]);
    }

    /// The shared chunks read back, by rml_rtmp's deserializer, as the same messages — with
    /// payloads over one chunk, past the extended-timestamp threshold (0xFFFFFF ms) and across
    /// the 32-bit wrap — from any tag on, as a destination that skipped or reconnected sends them.
    #[test]
    fn shared_chunks_decode_to_the_same_messages_from_any_tag_on() {
        let big = Bytes::from((0..10_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        let tags = vec![
            Tag { kind: TagKind::Video, timestamp: 0xFF_FFF0, data: big.clone() },
            Tag { kind: TagKind::Audio, timestamp: 0xFF_FFFF, data: Bytes::from_static(&[0xaf, 1, 2, 3]) },
            Tag { kind: TagKind::Script, timestamp: 0x100_0000, data: Bytes::from_static(b"skip") },
            Tag { kind: TagKind::Video, timestamp: 0x100_0010, data: big.clone() },
            Tag { kind: TagKind::Video, timestamp: 0xFFFF_FFFF, data: Bytes::from_static(&[0x27, 1]) },
            Tag { kind: TagKind::Video, timestamp: 20, data: big.clone() },
        ];
        let batch = Batch::new(tags.clone(), Arc::default());
        let wire = batch.wire(1).into_owned();
        assert_eq!(wire.offsets.len(), tags.len() + 1);
        assert_eq!(wire.offsets[2], wire.offsets[3], "script tags are not sent");
        for from in [0, 1, 3, 4] {
            let mut reader = ChunkDeserializer::new();
            reader.set_max_chunk_size(CHUNK_SIZE as usize).unwrap();
            let bytes = wire.range(from, tags.len());
            let mut got = Vec::new();
            let mut input: &[u8] = &bytes;
            while let Some(payload) = reader.get_next_message(input).unwrap() {
                input = &[];
                got.push(payload);
            }
            let expected: Vec<&Tag> = tags[from..].iter().filter(|t| t.kind != TagKind::Script).collect();
            assert_eq!(got.len(), expected.len(), "from tag {from}");
            for (payload, tag) in got.iter().zip(expected) {
                assert_eq!(payload.timestamp.value, tag.timestamp);
                assert_eq!(payload.message_stream_id, 1);
                assert_eq!(payload.type_id, if tag.kind == TagKind::Video { 9 } else { 8 });
                assert_eq!(payload.data, tag.data);
            }
        }
        // The same chunks for every destination with that stream id; another id gets its own.
        assert!(matches!(batch.wire(1), Cow::Borrowed(_)));
        assert!(matches!(batch.wire(5), Cow::Owned(_)));
    }
}
