//! Property tests of the parsers that read outside data (issue 16): the FLV reader, the ingest
//! URL check, the outbound policy for ingests and webhooks, and the webhook setting. ffprobe's
//! JSON and Twitch's ingest list are read by private code: their properties are the `prop_tests`
//! modules of src/media/probe.rs and src/ingest.rs.
//!
//! The default case counts keep this file to a few seconds in a debug build, so CI runs it on
//! every push. For a longer run by hand, PROPTEST_CASES replaces every count here:
//! `PROPTEST_CASES=100000 cargo test -p twitcher-core --test parsers`
//! (and `PROPTEST_CASES=100000 cargo test -p twitcher-core --lib prop_tests` for the others).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use twitcher_core::broadcast::flv::{FlvError, FlvReader, Tag, TagKind};
use twitcher_core::ingest::{self, IngestError};
use twitcher_core::outbound::{is_public, OutboundError, OutboundPolicy};
use twitcher_core::vault::KeyringPreference;

// ---------------------------------------------------------------------------------------------
// Harness

/// `default_cases` unless PROPTEST_CASES says otherwise; no regression files are written into
/// the source tree (a failure prints its minimal input, which is what goes into a unit test).
fn config(default_cases: u32) -> Config {
    let mut config = Config { failure_persistence: None, ..Config::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    config
}

/// Every allocation is measured, per thread: a header field an attacker controls must not decide
/// how much memory the reader asks for (an allocation that fails aborts the process, it does not
/// panic, and Linux's lazy zeroed pages would hide it from a plain test).
struct Measured;

thread_local! {
    static LARGEST_ALLOCATION: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST_ALLOCATION.try_with(|largest| largest.set(largest.get().max(size)));
}

unsafe impl GlobalAlloc for Measured {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Measured = Measured;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

// ---------------------------------------------------------------------------------------------
// FLV

/// The most one tag may make the reader hold: FLV's 24-bit data size (plus the runtime's own
/// small buffers).
const TAG_MEMORY_LIMIT: usize = (1 << 24) + (1 << 16);

const FLV_HEADER: &[u8] = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00";

/// One tag as the FLV spec lays it out: type, 24-bit size, 24-bit timestamp, its extension byte
/// (the high 8 bits), 24-bit stream id 0, the data, then the 32-bit size of what precedes.
fn tag_bytes(kind: u8, timestamp: u32, data: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
    let ts = timestamp.to_be_bytes();
    out.extend_from_slice(&[ts[1], ts[2], ts[3], ts[0], 0, 0, 0]);
    out.extend_from_slice(data);
    out.extend_from_slice(&(11 + data.len() as u32).to_be_bytes());
    out
}

/// What the reader must make of a tag type byte (its top 3 bits are flags; unknown types skip).
fn expected_kind(kind: u8) -> Option<TagKind> {
    match kind & 0x1f {
        8 => Some(TagKind::Audio),
        9 => Some(TagKind::Video),
        18 => Some(TagKind::Script),
        _ => None,
    }
}

/// Reads every tag of `bytes`; the reader must end (Ok(None) or an error) within one step per
/// 11 bytes, since each tag consumes at least its header.
fn read_all(rt: &tokio::runtime::Runtime, bytes: &[u8]) -> (Vec<Tag>, Option<FlvError>) {
    rt.block_on(async {
        let mut reader = FlvReader::new(bytes);
        let mut tags = Vec::new();
        for _ in 0..=bytes.len() / 11 + 1 {
            match reader.next_tag().await {
                Ok(Some(tag)) => tags.push(tag),
                Ok(None) => return (tags, None),
                Err(e) => return (tags, Some(e)),
            }
        }
        panic!("the FLV reader did not end on {} bytes", bytes.len());
    })
}

/// Reads `bytes` and checks what holds for any input: the reader ends, returns no more data than
/// it was given, and never asks for more memory than one tag can need.
fn read_bounded(rt: &tokio::runtime::Runtime, bytes: &[u8]) -> Result<(Vec<Tag>, Option<FlvError>), TestCaseError> {
    LARGEST_ALLOCATION.with(|l| l.set(0));
    let read = read_all(rt, bytes);
    let largest = LARGEST_ALLOCATION.with(Cell::get);
    prop_assert!(largest <= TAG_MEMORY_LIMIT, "{} input bytes made the reader allocate {largest} bytes at once", bytes.len());
    let data: usize = read.0.iter().map(|t| t.data.len()).sum();
    prop_assert!(data + read.0.len() * 11 <= bytes.len(), "more tag data than input");
    Ok(read)
}

fn arb_tag() -> impl Strategy<Value = (u8, u32, Vec<u8>)> {
    let kind = prop_oneof![4 => Just(8u8), 4 => Just(9u8), 1 => Just(18u8), 1 => any::<u8>()];
    (kind, any::<u32>(), prop::collection::vec(any::<u8>(), 0..48))
}

/// A file of `tags` behind a header whose data offset claims `extra` bytes more than 9.
fn flv_file(extra: usize, tags: &[(u8, u32, Vec<u8>)]) -> (Vec<u8>, Vec<usize>) {
    let mut file = b"FLV\x01\x05".to_vec();
    file.extend_from_slice(&(9 + extra as u32).to_be_bytes());
    file.extend(std::iter::repeat_n(0xee, extra));
    file.extend_from_slice(&[0, 0, 0, 0]);
    let mut starts = Vec::new();
    for (kind, ts, data) in tags {
        starts.push(file.len());
        file.extend(tag_bytes(*kind, *ts, data));
    }
    (file, starts)
}

#[test]
fn flv_tags_written_per_the_spec_read_back_unchanged() {
    let rt = runtime();
    let strategy = (0usize..16, prop::collection::vec(arb_tag(), 0..16), any::<bool>());
    TestRunner::new(config(512))
        .run(&strategy, |(extra, tags, drop_last_size)| {
            let (mut file, _) = flv_file(extra, &tags);
            // A file cut after its last tag's data (no trailing size) still ends cleanly.
            if drop_last_size && !tags.is_empty() {
                file.truncate(file.len() - 4);
            }
            let (read, error) = read_bounded(&rt, &file)?;
            prop_assert!(error.is_none(), "{error:?}");
            let expected: Vec<Tag> = tags
                .iter()
                .filter_map(|(kind, ts, data)| Some(Tag { kind: expected_kind(*kind)?, timestamp: *ts, data: data.clone().into() }))
                .collect();
            prop_assert_eq!(read, expected);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_cut_flv_gives_exactly_the_whole_tags_before_the_cut_or_an_error() {
    let rt = runtime();
    let strategy = (prop::collection::vec(arb_tag(), 1..10), any::<prop::sample::Index>());
    TestRunner::new(config(512))
        .run(&strategy, |(tags, cut)| {
            let (file, starts) = flv_file(0, &tags);
            let cut = cut.index(file.len() + 1);
            let (read, error) = read_bounded(&rt, &file[..cut])?;
            if cut < 9 {
                prop_assert!(matches!(error, Some(FlvError::NotFlv)), "{error:?}");
            } else if cut < FLV_HEADER.len() {
                prop_assert!(matches!(error, Some(FlvError::Io(_))), "{error:?}");
            }
            // A tag counts once its data is whole (its trailing size may be cut); a cut inside
            // a tag's data is damage, a cut inside a tag header is the end.
            let whole = |i: usize| cut >= starts[i] + 11 + tags[i].2.len();
            let in_data = (0..tags.len()).any(|i| cut >= starts[i] + 11 && !whole(i));
            if cut >= FLV_HEADER.len() {
                prop_assert_eq!(in_data, matches!(error, Some(FlvError::Damaged(_))), "cut at {} of {}: {:?}", cut, file.len(), error);
                prop_assert!(in_data || error.is_none(), "{error:?}");
            }
            let expected: Vec<Tag> = (0..tags.len())
                .filter(|&i| cut >= FLV_HEADER.len() && whole(i))
                .filter_map(|i| Some(Tag { kind: expected_kind(tags[i].0)?, timestamp: tags[i].1, data: tags[i].2.clone().into() }))
                .collect();
            prop_assert_eq!(read, expected);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_damaged_flv_never_panics_loops_or_asks_for_huge_memory() {
    let rt = runtime();
    let flips = prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8);
    let strategy = (0usize..4, prop::collection::vec(arb_tag(), 0..8), flips, prop::option::of(any::<prop::sample::Index>()));
    TestRunner::new(config(1024))
        .run(&strategy, |(extra, tags, flips, cut)| {
            let (mut file, _) = flv_file(extra, &tags);
            for (at, xor) in flips {
                let at = at.index(file.len());
                file[at] ^= xor;
            }
            if let Some(cut) = cut {
                file.truncate(cut.index(file.len() + 1));
            }
            read_bounded(&rt, &file)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_never_panic_loop_or_ask_for_huge_memory_in_the_flv_reader() {
    let rt = runtime();
    // Half the inputs start with the signature, so the reader gets past it and reads headers
    // and tags made of noise.
    let strategy = (any::<bool>(), prop::collection::vec(any::<u8>(), 0..256));
    TestRunner::new(config(1024))
        .run(&strategy, |(signed, mut bytes)| {
            if signed {
                bytes.splice(0..0, *b"FLV");
            }
            let (read, error) = read_bounded(&rt, &bytes)?;
            if !signed && !bytes.starts_with(b"FLV") {
                prop_assert!(read.is_empty() && matches!(error, Some(FlvError::NotFlv)), "{error:?}");
            }
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Addresses a server must not connect to, and public ones

/// The classes of non-public addresses issue 16 names, each as a generator.
fn private_v4() -> impl Strategy<Value = Ipv4Addr> {
    let in_block = |base: u32, prefix: u32| any::<u32>().prop_map(move |r| Ipv4Addr::from(base | (r >> prefix)));
    prop_oneof![
        in_block(0x7f00_0000, 8),  // 127/8 loopback
        in_block(0x0a00_0000, 8),  // 10/8
        in_block(0xac10_0000, 12), // 172.16/12
        in_block(0xc0a8_0000, 16), // 192.168/16
        in_block(0xa9fe_0000, 16), // 169.254/16 link-local (cloud metadata)
        in_block(0xe000_0000, 4),  // 224/4 multicast
        in_block(0x6440_0000, 10), // 100.64/10 CGNAT
        in_block(0x0000_0000, 8),  // 0/8, with 0.0.0.0 unspecified
        Just(Ipv4Addr::BROADCAST),
    ]
}

fn private_ip() -> impl Strategy<Value = IpAddr> {
    let v6_in = |base: u128, prefix: u32| any::<u128>().prop_map(move |r| IpAddr::V6(Ipv6Addr::from(base | (r >> prefix))));
    prop_oneof![
        4 => private_v4().prop_map(IpAddr::V4),
        1 => Just(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        1 => Just(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        1 => v6_in(0xfe80 << 112, 10), // fe80::/10 link-local
        1 => v6_in(0xfc00 << 112, 7),  // fc00::/7 unique local
        1 => v6_in(0xff00 << 112, 8),  // ff00::/8 multicast
        2 => private_v4().prop_map(|v4| IpAddr::V6(v4.to_ipv6_mapped())),
    ]
}

/// Addresses in blocks that hold nothing special (1/8, 8/8, 23/8, 52/8, 80/8, 151/8, 212/8;
/// 2400::/6), and IPv4 ones mapped into IPv6.
fn public_ip() -> impl Strategy<Value = IpAddr> {
    let v4 = (prop::sample::select(vec![1u8, 8, 23, 52, 80, 151, 212]), any::<[u8; 3]>()).prop_map(|(a, [b, c, d])| Ipv4Addr::new(a, b, c, d));
    prop_oneof![
        v4.clone().prop_map(IpAddr::V4),
        any::<u128>().prop_map(|r| IpAddr::V6(Ipv6Addr::from((0x2400u128 << 112) | (r >> 6)))),
        v4.prop_map(|v4| IpAddr::V6(v4.to_ipv6_mapped())),
    ]
}

#[test]
fn loopback_private_link_local_multicast_unspecified_and_cgnat_addresses_are_not_public() {
    TestRunner::new(config(1024))
        .run(&(private_ip(), public_ip()), |(private, public)| {
            prop_assert!(!is_public(private), "{private}");
            prop_assert!(is_public(public), "{public}");
            Ok(())
        })
        .unwrap();
}

/// Random ASCII case, as a user or an attacker may type it.
fn mixed_case(text: &str, mask: u64) -> String {
    text.chars().enumerate().map(|(i, c)| if mask >> (i % 64) & 1 == 1 { c.to_ascii_uppercase() } else { c }).collect()
}

/// How an address may be written as a URL's host: every spelling the WHATWG URL parser (and
/// inet_aton, which the resolver uses) reads as the same address.
fn spell_host(ip: IpAddr, style: u8, mask: u64) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let n = u32::from(v4);
            let [a, b, c, d] = v4.octets();
            match style % 9 {
                0 => v4.to_string(),
                1 => n.to_string(),                                           // 2130706433
                2 => mixed_case(&format!("0x{n:x}"), mask),                   // 0x7f000001
                3 => mixed_case(&format!("0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}"), mask), // 0x7f.0x0.0x0.0x1
                4 => format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),                  // 0177.00.00.01
                5 => format!("{a}.{}", n & 0x00ff_ffff),                      // 127.1
                6 => format!("{a}.{b}.{}", n & 0xffff),                       // 127.0.1
                7 => format!("{v4}."),                                        // trailing dot
                _ => mixed_case(&format!("[::ffff:{v4}]"), mask),              // mapped into IPv6
            }
        }
        IpAddr::V6(v6) => match style % 3 {
            0 => format!("[{v6}]"),
            1 => {
                let full: Vec<String> = v6.segments().iter().map(|s| format!("{s:x}")).collect();
                mixed_case(&format!("[{}]", full.join(":")), mask)
            }
            _ => mixed_case(&format!("[{v6}]"), mask),
        },
    }
}

/// A URL around `host`: scheme in any case, maybe a user name (and password), maybe a port.
fn url_around(scheme: &str, host: &str, userinfo: u8, port: Option<u16>, path: &str, mask: u64) -> String {
    let user = match userinfo % 3 {
        0 => "",
        1 => "user@",
        _ => "user:pw@",
    };
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{user}{host}{port}{path}", mixed_case(scheme, mask.rotate_left(17)))
}

fn default_port(scheme: &str) -> u16 {
    match scheme {
        "rtmps" | "https" => 443,
        "http" => 80,
        _ => 1935,
    }
}

// ---------------------------------------------------------------------------------------------
// Ingest URLs

/// What an account does with a custom ingest on a server (accounts::validate): the URL check,
/// then the outbound policy on the host and port the publisher will connect to. `Ok` means the
/// ingest would be stored and connected to.
fn ingest_verdict(rt: &tokio::runtime::Runtime, policy: &OutboundPolicy, url: &str) -> Result<(), String> {
    let checked = ingest::validate(url).map_err(|e| format!("validate: {e}"))?;
    let parsed = url::Url::parse(&checked).map_err(|e| format!("reparse: {e}"))?;
    let port = parsed.port().unwrap_or(if parsed.scheme() == "rtmps" { 443 } else { 1935 });
    let host = parsed.host_str().unwrap_or_default().to_string();
    rt.block_on(policy.resolve(&host, port)).map(drop).map_err(|e| match e {
        OutboundError::Unresolvable { .. } => format!("UNRESOLVABLE (accounts store it): {e}"),
        e => e.to_string(),
    })
}

#[test]
fn a_server_refuses_ingests_at_private_addresses_however_they_are_spelled() {
    let rt = runtime();
    // A relay the operator allows by name does not open the door to anything else.
    let restricted = OutboundPolicy { restricted: true, allowed: vec![("relay.example.net".into(), None)] };
    let strategy = (private_ip(), prop::sample::select(vec!["rtmp", "rtmps"]), any::<u8>(), any::<u64>(), any::<u8>(), prop::option::of(any::<u16>()));
    TestRunner::new(config(512))
        .run(&strategy, |(ip, scheme, style, mask, userinfo, port)| {
            let url = url_around(scheme, &spell_host(ip, style, mask), userinfo, port, "/app", mask);
            let verdict = ingest_verdict(&rt, &restricted, &url);
            prop_assert!(verdict.is_err(), "{url} would be connected to");
            let reason = verdict.unwrap_err();
            prop_assert!(!reason.starts_with("UNRESOLVABLE"), "{url}: {reason}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn ingests_at_address_literals_are_connected_only_where_the_policy_allows() {
    let rt = runtime();
    let strategy = (prop_oneof![public_ip(), private_ip()], prop::sample::select(vec!["rtmp", "rtmps"]), any::<u64>(), prop::option::of(1u16..), 1u16..);
    TestRunner::new(config(256))
        .run(&strategy, |(ip, scheme, mask, port, other_port)| {
            // Canonical spellings: how the desktop's user or the operator writes an address.
            let url = url_around(scheme, &spell_host(ip, 0, 0), 0, port, "/app", mask);
            let port = port.unwrap_or(default_port(scheme));
            // The desktop connects where its user says, IPv4 or IPv6.
            let open = ingest_verdict(&rt, &OutboundPolicy::default(), &url);
            prop_assert!(open.is_ok(), "{url}: {open:?}");
            // A server refuses an address unless its operator allowed it, by any port or this one.
            let none = OutboundPolicy { restricted: true, allowed: vec![] };
            prop_assert!(ingest_verdict(&rt, &none, &url).is_err(), "{url} allowed with no --allow-ingest");
            // The operator's entry as the URL writes the host ([::ffff:100:0], not the
            // [::ffff:1.0.0.0] it may be typed as: entries are compared as text).
            let entry = url::Url::parse(&url).unwrap().host_str().unwrap().to_string();
            for (allowed, expected) in [(entry.clone(), true), (format!("{entry}:{port}"), true)] {
                let policy = OutboundPolicy { restricted: true, allowed: vec![OutboundPolicy::parse_allowed(&allowed).unwrap()] };
                let verdict = ingest_verdict(&rt, &policy, &url);
                prop_assert_eq!(verdict.is_ok(), expected, "{} with --allow-ingest {}: {:?}", url, allowed, verdict);
            }
            if other_port != port {
                let policy = OutboundPolicy { restricted: true, allowed: vec![OutboundPolicy::parse_allowed(&format!("{entry}:{other_port}")).unwrap()] };
                prop_assert!(ingest_verdict(&rt, &policy, &url).is_err(), "{url} allowed by another port's entry");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn urls_of_other_schemes_are_refused_as_ingests() {
    let scheme = prop_oneof![
        prop::sample::select(vec!["http", "https", "ftp", "file", "ws", "wss", "rtsp", "srt", "rtmpt", "rtmpe", "rtmpts", "rtmp+tls", "javascript", "data"]).prop_map(String::from),
        "[a-z][a-z0-9+.-]{0,8}".prop_filter("not rtmp(s)", |s| s != "rtmp" && s != "rtmps"),
    ];
    TestRunner::new(config(512))
        .run(&(scheme, "[a-z0-9.-]{1,20}", any::<u64>()), |(scheme, host, mask)| {
            let url = format!("{}://{host}/app", mixed_case(&scheme, mask));
            let result = ingest::validate(&url);
            prop_assert!(matches!(result, Err(IngestError::Scheme | IngestError::NotAUrl(_))), "{url}: {result:?}");
            prop_assert!(ingest::normalize_choice(Some(&url)).is_err(), "{url}");
            Ok(())
        })
        .unwrap();
}

/// A stream key where it does not belong: after the app, with characters the URL parser drops.
#[test]
fn an_ingest_with_a_stream_key_in_it_is_refused_even_when_oddly_spelled() {
    let strategy = (prop::sample::select(vec!["rtmp", "rtmps"]), "live_[0-9]{6,12}_[A-Za-z0-9]{20,30}", prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(vec!['\t', '\n', '\r'])), 0..3), prop::sample::select(vec!['\t', '\n', '\r']));
    TestRunner::new(config(512))
        .run(&strategy, |(scheme, key, noise, noise_char)| {
            let mut url = format!("{scheme}://ingest.example.net/app/{key}").chars().collect::<Vec<char>>();
            for (at, c) in noise {
                url.insert(at.index(url.len() + 1), c);
            }
            let url: String = url.into_iter().collect();
            let result = ingest::validate(&url);
            prop_assert!(result.is_err(), "{url:?} accepted as {result:?}");
            // Nor with the key as the only path segment, where the URL parser's dropping of
            // tabs and line breaks would join a split "live_" back together.
            let alone = format!("{scheme}://ingest.example.net/{key}");
            prop_assert!(matches!(ingest::validate(&alone), Err(IngestError::KeyEmbedded)), "{alone}");
            let split = format!("{scheme}://ingest.example.net/{}", key.replacen("live_", &format!("li{}ve_", noise_char), 1));
            let result = ingest::validate(&split);
            prop_assert!(result.is_err(), "{split:?} accepted as {result:?}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn any_text_given_as_an_ingest_is_refused_with_a_reason_or_comes_back_normalized() {
    // Arbitrary text, and text near the shape of an ingest URL (where the checks are decided).
    let near = ("(?i:rtmps?|https?)", "[ :/@?#%.\\[\\]a-z0-9_{}\t-]{0,40}").prop_map(|(s, rest)| format!("{s}://{rest}"));
    let strategy = prop_oneof![any::<String>(), near];
    TestRunner::new(config(2048))
        .run(&strategy, |text| {
            let Ok(out) = ingest::validate(&text) else { return Ok(()) };
            // What the publisher later parses (publisher::connect_inner) holds no key, user,
            // query or fragment, and one path segment at most.
            let parsed = url::Url::parse(&out);
            prop_assert!(parsed.is_ok(), "{text:?} -> {out:?}");
            let parsed = parsed.unwrap();
            prop_assert!(matches!(parsed.scheme(), "rtmp" | "rtmps"), "{out:?}");
            prop_assert!(parsed.host_str().is_some_and(|h| !h.is_empty()), "{out:?}");
            prop_assert!(parsed.username().is_empty() && parsed.password().is_none(), "{out:?}");
            prop_assert!(parsed.query().is_none() && parsed.fragment().is_none(), "{out:?}");
            prop_assert!(parsed.path().trim_matches('/').split('/').count() <= 1, "{out:?}");
            prop_assert!(!parsed.path().contains("live_") && !out.contains("{stream_key}"), "{out:?}");
            // Normalized: no trailing slash, and checking it again changes nothing.
            prop_assert!(!out.ends_with('/'), "{out:?}");
            prop_assert_eq!(ingest::validate(&out).ok(), Some(out.clone()), "{:?} -> {:?}", text, out);
            prop_assert_eq!(ingest::normalize_choice(Some(&text)).ok().flatten(), Some(out));
            Ok(())
        })
        .unwrap();
}

#[test]
fn allowed_hosts_read_back_as_written_and_any_text_parses_without_panic() {
    let host = prop_oneof![
        "[A-Za-z0-9][A-Za-z0-9.-]{0,30}".prop_map(|h| (h.clone(), h)),
        prop_oneof![public_ip(), private_ip()].prop_map(|ip| match ip {
            IpAddr::V4(v4) => (v4.to_string(), v4.to_string()),
            IpAddr::V6(v6) => (format!("[{v6}]"), v6.to_string()),
        }),
    ];
    TestRunner::new(config(1024))
        .run(&(host, prop::option::of(any::<u16>()), any::<String>()), |((written, bare), port, noise)| {
            let text = match port {
                Some(p) => format!("{written}:{p}"),
                None => written,
            };
            prop_assert_eq!(OutboundPolicy::parse_allowed(&text), Ok((bare.to_ascii_lowercase(), port)), "{}", text);
            let _ = OutboundPolicy::parse_allowed(&noise);
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Webhooks

/// What a restricted server decides for a webhook URL: `alerts::post` checks an address
/// literal itself (reqwest connects to a literal without asking the resolver); a name goes to
/// the resolver (`WebhookResolver`), which checks what it resolves to.
fn webhook_verdict(rt: &tokio::runtime::Runtime, policy: &OutboundPolicy, url: &url::Url) -> Result<(), OutboundError> {
    policy.check_webhook_url(url)?;
    match url.host() {
        Some(url::Host::Domain(name)) => rt.block_on(policy.resolve_webhook(name, 0)).map(drop),
        _ => Ok(()),
    }
}

fn url_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// The same address as `ip`, an IPv4 one mapped into IPv6 counting as itself.
fn same_address(a: IpAddr, b: IpAddr) -> bool {
    let plain = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    plain(a) == plain(b)
}

#[test]
fn a_server_refuses_webhooks_at_private_addresses_however_they_are_spelled() {
    let rt = runtime();
    let restricted = OutboundPolicy { restricted: true, allowed: vec![("relay.example.net".into(), None)] };
    let strategy = (private_ip(), prop::sample::select(vec!["http", "https"]), any::<u8>(), any::<u64>(), any::<u8>(), prop::option::of(any::<u16>()));
    TestRunner::new(config(1024))
        .run(&strategy, |(ip, scheme, style, mask, userinfo, port)| {
            let text = url_around(scheme, &spell_host(ip, style, mask), userinfo, port, "/hook?x=1#f", mask);
            let url = url::Url::parse(&text);
            prop_assert!(url.is_ok(), "{text}: {url:?}");
            let url = url.unwrap();
            // The URL parser reads every spelling as the address itself: so the literal check
            // (not a DNS lookup reqwest would skip) is what stands in the way.
            prop_assert!(url_ip(&url).is_some_and(|u| same_address(u, ip)), "{text} read as {:?}", url.host());
            let verdict = webhook_verdict(&rt, &restricted, &url);
            prop_assert!(matches!(verdict, Err(OutboundError::PrivateAddress { .. })), "{text}: {verdict:?}");
            // A name that resolves to the address is refused by the resolver (a literal given
            // to the lookup resolves to itself, so no DNS is needed to prove it).
            let resolved = rt.block_on(restricted.resolve_webhook(&ip.to_string(), port.unwrap_or(0)));
            prop_assert!(matches!(resolved, Err(OutboundError::PrivateAddress { .. })), "{ip}: {resolved:?}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn webhooks_at_public_addresses_or_ones_the_operator_allows_are_posted_to() {
    let rt = runtime();
    let strategy = (prop_oneof![public_ip(), private_ip()], prop::sample::select(vec!["http", "https"]), any::<u8>(), any::<u64>(), prop::option::of(any::<u16>()));
    TestRunner::new(config(512))
        .run(&strategy, |(ip, scheme, style, mask, port)| {
            let text = url_around(scheme, &spell_host(ip, style, mask), 0, port, "/hook", mask);
            let url = url::Url::parse(&text).unwrap();
            let desktop = webhook_verdict(&rt, &OutboundPolicy::default(), &url);
            prop_assert!(desktop.is_ok(), "{text}: {desktop:?}");
            let restricted = OutboundPolicy { restricted: true, allowed: vec![] };
            let verdict = webhook_verdict(&rt, &restricted, &url);
            prop_assert_eq!(verdict.is_ok(), is_public(ip), "{}: {:?}", text, verdict);
            // The operator's entry, as written on the command line, opens the address it names.
            let entry = match url_ip(&url).unwrap() {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            };
            let operator = OutboundPolicy { restricted: true, allowed: vec![OutboundPolicy::parse_allowed(&entry).unwrap()] };
            let verdict = webhook_verdict(&rt, &operator, &url);
            prop_assert!(verdict.is_ok(), "{} with --allow-ingest {}: {:?}", text, entry, verdict);
            // The resolver's check on a name resolving to the address agrees with the literal's.
            let ip = url_ip(&url).unwrap();
            for (policy, expected) in [(&restricted, is_public(ip)), (&operator, true)] {
                let resolved = rt.block_on(policy.resolve_webhook(&ip.to_string(), 443));
                prop_assert_eq!(resolved.is_ok(), expected, "{}: {:?}", ip, resolved);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_webhook_setting_takes_http_and_https_urls_with_a_host_and_nothing_else() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let app = rt.block_on(support::open(dir.path(), KeyringPreference::File));
    let admin = rt.block_on(support::first_profile(&app));
    let text = prop_oneof![
        2 => ("(?i:https?|ftp|file|javascript|data|rtmp|ws)", "(:|://)", "[a-z0-9.@:/\\[\\]-]{0,24}").prop_map(|(s, sep, rest)| format!("{s}{sep}{rest}")),
        1 => any::<String>(),
    ];
    TestRunner::new(config(64))
        .run(&text, |text| {
            let stored = rt.block_on(twitcher_core::alerts::set_webhook_url(&app, &admin, &text));
            let trimmed = text.trim();
            let expected = trimmed.is_empty()
                || url::Url::parse(trimmed).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            prop_assert_eq!(stored.is_ok(), expected, "{:?}: {:?}", text, stored.err());
            if expected {
                let now = rt.block_on(twitcher_core::alerts::webhook_url(&app)).unwrap();
                prop_assert_eq!(now, (!trimmed.is_empty()).then(|| trimmed.to_string()));
            }
            Ok(())
        })
        .unwrap();
}
