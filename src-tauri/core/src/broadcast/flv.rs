//! Reading FLV files tag by tag: the container the prepared media is written in and the one RTMP
//! carries, so tags go to the publishers without re-muxing.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    Audio,
    Video,
    Script,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub kind: TagKind,
    /// Decoding timestamp in milliseconds (FLV's 24 bits plus the extension byte).
    pub timestamp: u32,
    pub data: Bytes,
}

impl Tag {
    /// A video keyframe (FLV frame type 1).
    pub fn is_keyframe(&self) -> bool {
        self.kind == TagKind::Video && self.data.first().is_some_and(|b| b >> 4 == 1)
    }

    /// An AVC decoder configuration record or an AAC AudioSpecificConfig: what a receiver needs
    /// before any frame, and what must be sent again after a reconnect.
    pub fn is_sequence_header(&self) -> bool {
        match self.kind {
            // Codec 7 (AVC), packet type 0.
            TagKind::Video => self.data.len() > 1 && self.data[0] & 0x0f == 7 && self.data[1] == 0,
            // Format 10 (AAC), packet type 0.
            TagKind::Audio => self.data.len() > 1 && self.data[0] >> 4 == 10 && self.data[1] == 0,
            TagKind::Script => false,
        }
    }

    /// An AVC end of sequence (packet type 2), which FFmpeg writes at the end of every FLV: in a
    /// playlist or a loop it would tell the receiver's decoder the stream ended at each join.
    pub fn is_end_of_sequence(&self) -> bool {
        self.kind == TagKind::Video && self.data.len() > 1 && self.data[0] & 0x0f == 7 && self.data[1] == 2
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlvError {
    #[error("not an FLV file")]
    NotFlv,
    #[error("the FLV data is damaged: {0}")]
    Damaged(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub struct FlvReader<R> {
    input: R,
    started: bool,
}

impl<R: AsyncRead + Unpin> FlvReader<R> {
    pub fn new(input: R) -> Self {
        Self { input, started: false }
    }

    /// The next tag, or `None` at the end of the data.
    pub async fn next_tag(&mut self) -> Result<Option<Tag>, FlvError> {
        if !self.started {
            let mut header = [0u8; 9];
            self.input.read_exact(&mut header).await.map_err(|_| FlvError::NotFlv)?;
            if &header[..3] != b"FLV" {
                return Err(FlvError::NotFlv);
            }
            let offset = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
            if offset > 9 {
                // Skipped, not buffered: a damaged header may claim up to 4 GiB.
                let skip = (offset - 9) as u64;
                if tokio::io::copy(&mut (&mut self.input).take(skip), &mut tokio::io::sink()).await? < skip {
                    return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                }
            }
            let mut first_previous = [0u8; 4];
            self.input.read_exact(&mut first_previous).await?;
            self.started = true;
        }
        loop {
            let mut head = [0u8; 11];
            match self.input.read_exact(&mut head).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            let size = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
            let timestamp = u32::from_be_bytes([head[7], head[4], head[5], head[6]]);
            let mut data = vec![0u8; size];
            self.input.read_exact(&mut data).await.map_err(|_| FlvError::Damaged("a tag is cut short".into()))?;
            let mut previous = [0u8; 4];
            // The last tag's trailing size may be missing in a file cut short; that is its end.
            let _ = self.input.read_exact(&mut previous).await;
            let kind = match head[0] & 0x1f {
                8 => TagKind::Audio,
                9 => TagKind::Video,
                18 => TagKind::Script,
                _ => continue, // unknown tag types are skipped, as the spec allows
            };
            return Ok(Some(Tag { kind, timestamp, data: Bytes::from(data) }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag_bytes(kind: u8, timestamp: u32, data: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        let ts = timestamp.to_be_bytes();
        out.extend_from_slice(&[ts[1], ts[2], ts[3], ts[0], 0, 0, 0]);
        out.extend_from_slice(data);
        out.extend_from_slice(&(11 + data.len() as u32).to_be_bytes());
        out
    }

    #[tokio::test]
    async fn tags_are_read_with_extended_timestamps_and_kinds() {
        let mut file = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00".to_vec();
        file.extend(tag_bytes(9, 0, &[0x17, 0x00, 1, 2]));
        file.extend(tag_bytes(8, 0x0100_0000 + 5, &[0xaf, 0x01, 9]));
        file.extend(tag_bytes(7, 10, &[1]));
        file.extend(tag_bytes(9, 40, &[0x27, 0x01]));
        let mut reader = FlvReader::new(&file[..]);
        let video = reader.next_tag().await.unwrap().unwrap();
        assert!(video.is_keyframe() && video.is_sequence_header());
        let audio = reader.next_tag().await.unwrap().unwrap();
        assert_eq!((audio.kind, audio.timestamp), (TagKind::Audio, 0x0100_0005));
        assert!(!audio.is_sequence_header());
        let inter = reader.next_tag().await.unwrap().unwrap();
        assert!(!inter.is_keyframe());
        assert_eq!(inter.timestamp, 40);
        assert!(reader.next_tag().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn other_data_is_refused() {
        let mut reader = FlvReader::new(&b"RIFF....AVI "[..]);
        assert!(matches!(reader.next_tag().await, Err(FlvError::NotFlv)));
    }
}

/// What a receiver needs before any frame, sent again on every (re)connect.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    pub metadata: Option<Tag>,
    pub video: Option<Tag>,
    pub audio: Option<Tag>,
}

impl Headers {
    /// Whether a decoder set up by `self` can go on with frames made for `other`.
    pub fn same_decoder_setup(&self, other: &Headers) -> bool {
        let data = |t: &Option<Tag>| t.as_ref().map(|t| t.data.clone());
        data(&self.video) == data(&other.video) && data(&self.audio) == data(&other.audio)
    }
}
