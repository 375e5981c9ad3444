//! One destination: an RTMP client inside the process (rml_rtmp's session over a tokio socket).
//!
//! The stream key is used in exactly one place — the publish request — and never appears in an
//! argv, a log line, an event or an error. When the connection drops, the publisher reconnects
//! with capped exponential backoff and jitter (1 s doubling to 30 s), sends the metadata and
//! sequence headers again, and resumes at the next keyframe.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult, PublishRequestType, StreamMetadata};
use rml_rtmp::time::RtmpTimestamp;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::fanout::Slice;
use super::tls::TlsError;
use super::StreamState;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Attempts before a destination that never went live is declared failed (a wrong key, a server
/// that refuses us); once live, it keeps trying until stopped.
const ATTEMPTS_BEFORE_FIRST_LIVE: u32 = 4;

pub struct Destination {
    pub stream_id: i64,
    /// `rtmp://host[:port]/app` or `rtmps://…`, without the key.
    pub server: String,
    pub key: Zeroizing<String>,
    /// The engine's settings (the planned-reconnect interval, an extra CA for RTMPS).
    pub engine: super::EngineOptions,
    /// Where this process may connect (checked on the addresses connected to, every time).
    pub outbound: crate::outbound::OutboundPolicy,
}

/// Counters the supervisor samples for stats.
#[derive(Default)]
pub struct Counters {
    pub bytes: AtomicU64,
    pub reconnects: AtomicU32,
    /// The supervisor's order to drop this connection and make a new one (the watchdog: Twitch
    /// shows the channel offline while we publish).
    pub reconnect_now: tokio::sync::Notify,
}

/// What a publisher reports to its supervisor.
#[derive(Debug)]
pub struct Report {
    pub stream_id: i64,
    pub state: StreamState,
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error("{0}")]
    Connection(String),
    #[error("the server refused the stream key or the app: {0}")]
    Rejected(String),
    #[error("planned reconnect before Twitch's 48-hour limit{}", if *.at_join { ", between two items" } else { "" })]
    Planned { at_join: bool },
}

impl From<TlsError> for PublishError {
    fn from(e: TlsError) -> Self {
        PublishError::Connection(e.0)
    }
}

trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

enum Outcome {
    /// The source ended and everything was sent.
    Finished,
    Cancelled,
}

/// Starts a destination's publisher ([`run`]) as a task of its own — or, in a test's build whose
/// engine publishes nowhere, [`nowhere`].
pub fn spawn(
    dest: Destination,
    metadata: StreamMetadata,
    tags: mpsc::Receiver<Slice>,
    cancel: CancellationToken,
    counters: Arc<Counters>,
    reports: mpsc::UnboundedSender<Report>,
    first_attempt: mpsc::Sender<()>,
) -> tokio::task::JoinHandle<()> {
    #[cfg(feature = "testing")]
    if dest.engine.publish_nowhere {
        return tokio::spawn(nowhere(dest.stream_id, tags, cancel, counters, reports, first_attempt));
    }
    tokio::spawn(run(dest, metadata, tags, cancel, counters, reports, first_attempt))
}

/// A destination that goes live at once and counts what it is handed, until the source ends or
/// `cancel` fires: the same reports as [`run`] on a perfect network (tests only).
#[cfg(feature = "testing")]
async fn nowhere(
    stream_id: i64,
    mut tags: mpsc::Receiver<Slice>,
    cancel: CancellationToken,
    counters: Arc<Counters>,
    reports: mpsc::UnboundedSender<Report>,
    first_attempt: mpsc::Sender<()>,
) {
    let report = |state| {
        let _ = reports.send(Report { stream_id, state, error: None });
    };
    report(StreamState::Starting);
    let _ = first_attempt.try_send(());
    report(StreamState::Live);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            slice = tags.recv() => match slice {
                Some(slice) => {
                    let sent: usize = slice.batch.tags.iter().skip(slice.from).map(|tag| tag.data.len()).sum();
                    counters.bytes.fetch_add(sent as u64, Ordering::Relaxed);
                }
                None => break,
            },
        }
    }
    report(StreamState::Stopping);
    report(StreamState::Ended);
}

/// Publishes until the source ends or `cancel` fires, reconnecting as needed.
pub async fn run(
    dest: Destination,
    metadata: StreamMetadata,
    mut tags: mpsc::Receiver<Slice>,
    cancel: CancellationToken,
    counters: Arc<Counters>,
    reports: mpsc::UnboundedSender<Report>,
    first_attempt: mpsc::Sender<()>,
) {
    let mut first_attempt = Some(first_attempt);
    let report = |state, error: Option<String>| {
        let _ = reports.send(Report { stream_id: dest.stream_id, state, error });
    };
    report(StreamState::Starting, None);
    let mut been_live = false;
    let mut attempt: u32 = 0;
    let mut carry: Vec<Slice> = Vec::new();
    loop {
        let result = tokio::select! {
            _ = cancel.cancelled() => Ok(Outcome::Cancelled),
            r = connect(&dest) => match r {
                Ok((io, session)) => {
                    first_attempt.take().map(|tx| tx.try_send(()));
                    attempt = 0;
                    been_live = true;
                    report(StreamState::Live, None);
                    stream(io, session, &metadata, &mut tags, &mut carry, &cancel, &counters, &dest.engine).await
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(Outcome::Finished) => {
                report(StreamState::Stopping, None);
                report(StreamState::Ended, None);
                return;
            }
            Ok(Outcome::Cancelled) => {
                report(StreamState::Stopping, None);
                report(StreamState::Ended, None);
                return;
            }
            Err(planned @ PublishError::Planned { .. }) => {
                counters.reconnects.fetch_add(1, Ordering::Relaxed);
                tracing::info!(stream_id = dest.stream_id, "{planned}");
                report(StreamState::Reconnecting, Some(planned.to_string()));
                continue;
            }
            Err(e) => {
                first_attempt.take().map(|tx| tx.try_send(()));
                attempt += 1;
                let message = crate::redact::redact(&e.to_string()).into_owned();
                if !been_live && attempt >= ATTEMPTS_BEFORE_FIRST_LIVE {
                    report(StreamState::Failed, Some(message));
                    return;
                }
                if been_live {
                    counters.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!(stream_id = dest.stream_id, attempt, error = %message, "destination lost; reconnecting");
                report(StreamState::Reconnecting, Some(message.clone()));
                // Keep the queue moving while away; the next connection starts at a keyframe.
                let wait = tokio::time::sleep(backoff(attempt));
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        _ = &mut wait => break,
                        _ = cancel.cancelled() => {
                            report(StreamState::Stopping, None);
                            report(StreamState::Ended, None);
                            return;
                        }
                        tag = tags.recv() => if tag.is_none() {
                            // The video ended before this destination (re)connected.
                            if been_live {
                                report(StreamState::Stopping, None);
                                report(StreamState::Ended, Some("the video ended while the destination was reconnecting".into()));
                            } else {
                                report(StreamState::Failed, Some(message.clone()));
                            }
                            return;
                        },
                    }
                }
            }
        }
    }
}

/// Checks a stream key without going live: Twitch's bandwidth test, a publish on
/// `KEY?bandwidthtest=true` that it accepts for a valid key and does not show to viewers. Returns
/// how long the connection and publish took.
pub async fn check_key(server: &str, key: &str, engine: &super::EngineOptions, outbound: &crate::outbound::OutboundPolicy) -> Result<Duration, String> {
    let dest = Destination {
        stream_id: 0,
        server: server.to_string(),
        key: Zeroizing::new(format!("{key}?bandwidthtest=true")),
        engine: engine.clone(),
        outbound: outbound.clone(),
    };
    let started = std::time::Instant::now();
    let (mut io, mut session) = connect(&dest).await.map_err(|e| crate::redact::redact(&e.to_string()).into_owned())?;
    let elapsed = started.elapsed();
    if let Ok(results) = session.stop_publishing() {
        let _ = write_results(&mut io, results).await;
    }
    let _ = io.shutdown().await;
    Ok(elapsed)
}

/// 1 s, 2 s, 4 s … capped at 30 s, each ±20 % so many destinations do not retry in step.
pub fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF_START.saturating_mul(1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX)).min(BACKOFF_CAP);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    let jitter = 0.8 + (nanos % 1000) as f64 / 1000.0 * 0.4;
    base.mul_f64(jitter)
}

async fn write_results(io: &mut Box<dyn Transport>, results: Vec<ClientSessionResult>) -> Result<Vec<ClientSessionEvent>, PublishError> {
    let mut events = Vec::new();
    for result in results {
        match result {
            ClientSessionResult::OutboundResponse(packet) => {
                io.write_all(&packet.bytes).await.map_err(|e| PublishError::Connection(e.to_string()))?
            }
            ClientSessionResult::RaisedEvent(event) => events.push(event),
            ClientSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }
    Ok(events)
}

/// TCP (or TLS), RTMP handshake, connect to the app, publish on the key.
async fn connect(dest: &Destination) -> Result<(Box<dyn Transport>, ClientSession), PublishError> {
    tokio::time::timeout(CONNECT_TIMEOUT, connect_inner(dest))
        .await
        .map_err(|_| PublishError::Connection(format!("{} did not answer within {} s", dest.server, CONNECT_TIMEOUT.as_secs())))?
}

async fn connect_inner(dest: &Destination) -> Result<(Box<dyn Transport>, ClientSession), PublishError> {
    let url = url::Url::parse(&dest.server).map_err(|e| PublishError::Connection(format!("bad ingest URL: {e}")))?;
    let host = url.host_str().ok_or_else(|| PublishError::Connection("the ingest URL has no host".into()))?.to_string();
    let tls = url.scheme() == "rtmps";
    let port = url.port().unwrap_or(if tls { 443 } else { 1935 });
    let app = url.path().trim_matches('/').to_string();
    let addrs = dest.outbound.resolve(&host, port).await.map_err(|e| PublishError::Connection(e.to_string()))?;
    let tcp = tokio::net::TcpStream::connect(&addrs[..])
        .await
        .map_err(|e| PublishError::Connection(format!("cannot connect to {host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let mut io: Box<dyn Transport> = if tls { Box::new(super::tls::connect(&host, tcp, dest.engine.extra_ca.as_deref()).await?) } else { Box::new(tcp) };

    let mut handshake = Handshake::new(PeerType::Client);
    let p0p1 = handshake.generate_outbound_p0_and_p1().map_err(|e| PublishError::Connection(format!("handshake: {e:?}")))?;
    io.write_all(&p0p1).await.map_err(|e| PublishError::Connection(e.to_string()))?;
    let mut buf = vec![0u8; 8192];
    let leftover = loop {
        let n = io.read(&mut buf).await.map_err(|e| PublishError::Connection(e.to_string()))?;
        if n == 0 {
            return Err(PublishError::Connection("the server closed the connection during the handshake".into()));
        }
        match handshake.process_bytes(&buf[..n]).map_err(|e| PublishError::Connection(format!("handshake: {e:?}")))? {
            HandshakeProcessResult::InProgress { response_bytes } => {
                io.write_all(&response_bytes).await.map_err(|e| PublishError::Connection(e.to_string()))?
            }
            HandshakeProcessResult::Completed { response_bytes, remaining_bytes } => {
                io.write_all(&response_bytes).await.map_err(|e| PublishError::Connection(e.to_string()))?;
                break remaining_bytes;
            }
        }
    };

    let mut config = ClientSessionConfig::new();
    config.tc_url = Some(format!("{}://{host}:{port}/{app}", url.scheme()));
    let (mut session, initial) = ClientSession::new(config).map_err(|e| PublishError::Connection(format!("{e:?}")))?;
    write_results(&mut io, initial).await?;
    let request = session.request_connection(app).map_err(|e| PublishError::Connection(format!("{e:?}")))?;
    write_results(&mut io, vec![request]).await?;
    let mut pending = leftover;
    loop {
        if !pending.is_empty() {
            let results = session.handle_input(&pending).map_err(|e| PublishError::Connection(format!("{e:?}")))?;
            pending.clear();
            for event in write_results(&mut io, results).await? {
                match event {
                    ClientSessionEvent::ConnectionRequestAccepted => {
                        let publish = session
                            .request_publishing(dest.key.to_string(), PublishRequestType::Live)
                            .map_err(|e| PublishError::Connection(format!("{e:?}")))?;
                        write_results(&mut io, vec![publish]).await?;
                    }
                    ClientSessionEvent::ConnectionRequestRejected { description } => return Err(PublishError::Rejected(description)),
                    ClientSessionEvent::PublishRequestAccepted => return Ok((io, session)),
                    _ => {}
                }
            }
        }
        let n = io.read(&mut buf).await.map_err(|e| PublishError::Connection(e.to_string()))?;
        if n == 0 {
            return Err(PublishError::Rejected("the server closed the connection before publishing was accepted".into()));
        }
        pending.extend_from_slice(&buf[..n]);
    }
}

/// Sends tags until the source ends, the connection fails, or `cancel` fires. `carry` holds what
/// a planned reconnect left unsent; it goes out first on the next connection, so a planned
/// reconnect loses nothing.
///
/// After the metadata and sequence headers (sent through the session), audio and video go out as
/// the batch's shared chunks ([`Batch::wire`]): one write of bytes made once for everyone.
#[allow(clippy::too_many_arguments)]
async fn stream(
    mut io: Box<dyn Transport>,
    mut session: ClientSession,
    metadata: &StreamMetadata,
    tags: &mut mpsc::Receiver<Slice>,
    carry: &mut Vec<Slice>,
    cancel: &CancellationToken,
    counters: &Counters,
    engine: &super::EngineOptions,
) -> Result<Outcome, PublishError> {
    let planned = engine.planned_reconnect;
    let err = |e: rml_rtmp::sessions::ClientSessionError| PublishError::Connection(format!("{e:?}"));
    let write_err = |e: std::io::Error| PublishError::Connection(e.to_string());
    // The message stream id the server gave this connection, read off the first header sent.
    let mut stream_id: Option<u32> = None;
    let connected_at = tokio::time::Instant::now();
    let mut buf = vec![0u8; 4096];
    loop {
        let mut pending: std::collections::VecDeque<Slice> = if !carry.is_empty() {
            std::mem::take(carry).into()
        } else {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    if let Ok(results) = session.stop_publishing() {
                        let _ = write_results(&mut io, results).await;
                    }
                    let _ = io.shutdown().await;
                    return Ok(Outcome::Cancelled);
                }
                _ = counters.reconnect_now.notified() => {
                    if let Ok(results) = session.stop_publishing() {
                        let _ = write_results(&mut io, results).await;
                    }
                    let _ = io.shutdown().await;
                    return Err(PublishError::Connection("Twitch shows the channel offline".into()));
                }
                read = io.read(&mut buf) => {
                    let n = read.map_err(write_err)?;
                    if n == 0 {
                        return Err(PublishError::Connection("the server closed the connection".into()));
                    }
                    let results = session.handle_input(&buf[..n]).map_err(err)?;
                    write_results(&mut io, results).await?;
                    continue;
                }
                slice = tags.recv() => {
                    let Some(first) = slice else {
                        let _ = io.flush().await;
                        return Ok(Outcome::Finished);
                    };
                    // Whatever else is queued goes out in the same wake-up.
                    let mut all = std::collections::VecDeque::from([first]);
                    for _ in 0..8 {
                        match tags.try_recv() {
                            Ok(s) => all.push_back(s),
                            Err(_) => break,
                        }
                    }
                    all
                }
            }
        };
        while let Some(slice) = pending.pop_front() {
            let batch = &slice.batch;
            let mut from = slice.from;
            let had_headers = stream_id.is_some();
            let id = match stream_id {
                Some(id) => id,
                None => {
                    // (Re)start at a keyframe, after the metadata and both sequence headers.
                    let Some(k) = batch.tags[from..].iter().position(|t| t.is_keyframe()).map(|k| from + k) else { continue };
                    from = k;
                    let ts = RtmpTimestamp::new(batch.tags[k].timestamp);
                    let mut out = Vec::new();
                    let meta = session.publish_metadata(metadata).map_err(err)?;
                    if let ClientSessionResult::OutboundResponse(packet) = &meta {
                        stream_id = message_stream_id(&packet.bytes);
                    }
                    push(&mut out, meta);
                    // The headers of the batch it resumes at (they change at a playlist join).
                    let headers = &batch.headers;
                    if let Some(v) = &headers.video {
                        push(&mut out, session.publish_video_data(v.data.clone(), ts, false).map_err(err)?);
                    }
                    if let Some(a) = &headers.audio {
                        push(&mut out, session.publish_audio_data(a.data.clone(), ts, false).map_err(err)?);
                    }
                    io.write_all(&out).await.map_err(write_err)?;
                    counters.bytes.fetch_add(out.len() as u64, Ordering::Relaxed);
                    stream_id.ok_or_else(|| PublishError::Connection("could not read the stream id the server assigned".into()))?
                }
            };
            let wire = batch.wire(id);
            let mut to = batch.tags.len();
            let mut reconnect_at = None;
            let elapsed = connected_at.elapsed();
            // At a join in the last hour before the limit (not one this connection started on).
            let at_join = batch.starts_item && had_headers && elapsed < planned && elapsed + engine.join_window >= planned;
            if elapsed >= planned || at_join {
                // Reconnect at the next keyframe (not the one this connection started on).
                let search = if had_headers { from } else { from + 1 };
                if let Some(k) = batch.tags.iter().enumerate().skip(search).find(|(_, t)| t.is_keyframe()).map(|(k, _)| k) {
                    to = k;
                    reconnect_at = Some(k);
                }
            }
            if from < to {
                let bytes = wire.range(from, to);
                io.write_all(&bytes).await.map_err(write_err)?;
                counters.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            if let Some(k) = reconnect_at {
                carry.push(Slice { batch: slice.batch.clone(), from: k });
                carry.extend(pending.drain(..));
                if let Ok(results) = session.stop_publishing() {
                    let _ = write_results(&mut io, results).await;
                }
                let _ = io.shutdown().await;
                return Err(PublishError::Planned { at_join });
            }
        }
    }
}

/// The message stream id in the first chunk of a message sent with a full (type 0) header —
/// as the first message on a chunk stream of a new session always is.
fn message_stream_id(chunk: &[u8]) -> Option<u32> {
    let first = *chunk.first()?;
    if first >> 6 != 0 {
        return None;
    }
    // Basic header: 1 byte, or 2/3 bytes for chunk stream ids 64 and up.
    let basic = match first & 0x3f {
        0 => 2,
        1 => 3,
        _ => 1,
    };
    // Then timestamp (3), length (3), type (1), and the stream id (4, little-endian).
    let id = chunk.get(basic + 7..basic + 11)?;
    Some(u32::from_le_bytes(id.try_into().ok()?))
}

fn push(out: &mut Vec<u8>, result: ClientSessionResult) {
    if let ClientSessionResult::OutboundResponse(packet) = result {
        out.extend_from_slice(&packet.bytes);
    }
}

/// Metadata for the receiver, from the quality the file was prepared at.
pub fn metadata(width: u32, height: u32, fps: u32, video_k: u32, audio_k: u32) -> StreamMetadata {
    let mut m = StreamMetadata::new();
    m.video_width = Some(width);
    m.video_height = Some(height);
    m.video_codec_id = Some(7);
    m.video_frame_rate = Some(fps as f32);
    m.video_bitrate_kbps = Some(video_k);
    m.audio_codec_id = Some(10);
    m.audio_bitrate_kbps = Some(audio_k);
    m.audio_sample_rate = Some(48_000);
    m.audio_channels = Some(2);
    m.audio_is_stereo = Some(true);
    m.encoder = Some(concat!("Twitcher ", env!("CARGO_PKG_VERSION")).to_string());
    m
}

#[cfg(test)]
mod tests {
    use super::message_stream_id;
    use rml_rtmp::chunk_io::ChunkSerializer;
    use rml_rtmp::messages::RtmpMessage;
    use rml_rtmp::time::RtmpTimestamp;

    #[test]
    fn the_stream_id_is_read_off_a_full_header_at_any_timestamp() {
        for (ts, id) in [(0, 1), (0x0123_4567, 7), (0xFFFF_FFFF, 0x0102_0304)] {
            let payload = RtmpMessage::VideoData { data: bytes::Bytes::from_static(&[0x17, 0]) }.into_message_payload(RtmpTimestamp::new(ts), id).unwrap();
            let packet = ChunkSerializer::new().serialize(&payload, false, false).unwrap();
            assert_eq!(message_stream_id(&packet.bytes), Some(id));
        }
        // A compressed (type 1-3) header carries no stream id.
        assert_eq!(message_stream_id(&[0x46, 0, 0, 0]), None);
        assert_eq!(message_stream_id(&[]), None);
    }
}
