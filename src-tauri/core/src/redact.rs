//! The one place that decides what a secret looks like in text. Every log line passes through
//! [`redact`] (see [`crate::logging`]), and so will stream events and error messages that quote
//! outside programs (ffmpeg, Twitch), as defence in depth: code should not log secrets in the
//! first place, and this catches the ones it does.
//!
//! Rules: anything shaped like a UUID (profile logins), Twitch stream keys (`live_…`), the key part
//! of an RTMP URL, `Bearer`/`OAuth` tokens, and any exact string registered with
//! [`register_secret`] (keys and tokens the process has decrypted).
//!
//! The registered secrets are the most recently used [`KEEP`]: a process that opens keys and
//! refreshes tokens for weeks does not grow the list (or the time each log line takes) without
//! end. The ones in use are registered again each time they are opened, so they stay; one dropped
//! from the list is wiped from memory (`Zeroizing`), and the shape rules still cover stream keys.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::{LazyLock, RwLock};

use regex::{Captures, Regex};
use zeroize::Zeroizing;

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b").expect("uuid regex")
});
static STREAM_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\blive_[A-Za-z0-9_]{6,}").expect("stream key regex"));
static RTMP_URL_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(rtmps?://[^\s/]+/[^\s/]+/)[^\s?]+").expect("rtmp regex"));
/// A token after `Bearer`/`OAuth`: one with a digit in it, or 20 characters and more — never an
/// ordinary word ("OAuth Redirect URL" is not a token).
static AUTH_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(bearer|oauth)(\s+|:)(?:[A-Za-z._~+/=-]*[0-9][A-Za-z0-9._~+/=-]*|[A-Za-z0-9._~+/=-]{20,})").expect("token regex")
});

/// How many registered secrets are kept: far more than a machine's accounts and tokens in use.
pub const KEEP: usize = 256;

/// Exact secrets known to this process. A std lock: it is never held across an `.await`.
static SECRETS: RwLock<Known> = RwLock::new(Known(VecDeque::new()));

pub const REDACTED: &str = "[redacted]";

/// Adds a secret that must never appear in a log line (or marks it as just used). Strings shorter
/// than 8 characters are ignored: redacting them would mangle ordinary words and they are not
/// secrets worth the name. Past [`KEEP`], the least recently registered is dropped and wiped.
pub fn register_secret(secret: &str) {
    SECRETS.write().unwrap_or_else(|e| e.into_inner()).register(secret);
}

/// Registered secrets, least recently registered first.
struct Known(VecDeque<Zeroizing<String>>);

impl Known {
    fn register(&mut self, secret: &str) {
        if secret.len() < 8 {
            return;
        }
        let known = self.0.iter().position(|s| s.as_str() == secret).and_then(|i| self.0.remove(i));
        self.0.push_back(known.unwrap_or_else(|| Zeroizing::new(secret.to_string())));
        while self.0.len() > KEEP {
            self.0.pop_front();
        }
    }

    /// `text` with every secret in it replaced, longest first (a secret that contains another is
    /// replaced whole).
    fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        if text.len() < 8 {
            return out;
        }
        let mut found: Vec<&str> = self.0.iter().map(|s| s.as_str()).filter(|s| text.contains(s)).collect();
        found.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in found {
            if out.contains(secret) {
                out = Cow::Owned(out.replace(secret, REDACTED));
            }
        }
        out
    }
}

/// `live_****1234`: the last four characters, enough to tell keys apart.
pub fn mask_stream_key(key: &str) -> String {
    masked_key_from_hint(&stream_key_hint(key))
}

/// The last four characters of a key (nothing for a key too short to spare them).
pub fn stream_key_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return String::new();
    }
    chars[chars.len() - 4..].iter().collect()
}

pub fn masked_key_from_hint(hint: &str) -> String {
    format!("live_****{hint}")
}

pub fn contains_uuid(text: &str) -> bool {
    UUID.is_match(text)
}

/// Returns `text` with every secret it recognizes replaced.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = SECRETS.read().unwrap_or_else(|e| e.into_inner()).redact(text);
    let rules: [(&Regex, fn(&Captures) -> String); 4] = [
        (&RTMP_URL_KEY, |c| format!("{}{REDACTED}", &c[1])),
        (&AUTH_TOKEN, |c| format!("{}{}{REDACTED}", &c[1], &c[2])),
        (&STREAM_KEY, |c| mask_stream_key(&c[0])),
        (&UUID, |_| "[uuid]".to_string()),
    ];
    for (regex, replace) in rules {
        if regex.is_match(&out) {
            out = Cow::Owned(regex.replace_all(&out, replace).into_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_words_after_oauth_or_bearer_are_left_alone() {
        let line = "register an application (OAuth Redirect URL: http://localhost); the bearer token goes in a header";
        assert_eq!(redact(line), line);
    }

    #[test]
    fn uuids_are_replaced_in_any_case() {
        let line = "login 3F2504E0-4F89-41D3-9A0C-0305E82C3301 and 9b2c1f0e-8a7d-4c6b-b5a4-3e2f1d0c9b8a";
        assert_eq!(redact(line), "login [uuid] and [uuid]");
    }

    #[test]
    fn stream_keys_are_masked_to_their_last_four_characters() {
        let out = redact("key=live_123456789_AbCdEfGhIjKlMnOpQrStUvWxYz1234 ok");
        assert_eq!(out, "key=live_****1234 ok");
    }

    #[test]
    fn the_key_part_of_an_rtmp_url_is_removed() {
        let out = redact("connect rtmps://ingest.example.net/app/secretkey123?bandwidthtest=true failed");
        assert_eq!(out, "connect rtmps://ingest.example.net/app/[redacted]?bandwidthtest=true failed");
    }

    #[test]
    fn bearer_and_oauth_tokens_are_removed() {
        assert_eq!(redact("Authorization: Bearer abc.def-123"), "Authorization: Bearer [redacted]");
        assert_eq!(redact("oauth:abcdefghijklmnopqrstuvwxyz"), "oauth:[redacted]");
        assert_eq!(redact("Authorization: OAuth zzz999"), "Authorization: OAuth [redacted]");
    }

    #[test]
    fn registered_secrets_are_removed_wherever_they_appear() {
        register_secret("s3cr3t-token-value-42");
        assert_eq!(redact("x=s3cr3t-token-value-42;y"), "x=[redacted];y");
        register_secret("short");
        assert_eq!(redact("a short word"), "a short word");
    }

    #[test]
    fn a_secret_inside_a_longer_one_leaves_no_part_of_the_longer_one() {
        let mut known = Known(VecDeque::new());
        known.register("inner-secret-77");
        known.register("outer-inner-secret-77-tail");
        assert_eq!(known.redact("[outer-inner-secret-77-tail] [inner-secret-77]"), "[[redacted]] [[redacted]]");
    }

    #[test]
    fn only_the_most_recently_used_secrets_are_kept_and_one_in_use_stays() {
        let mut known = Known(VecDeque::new());
        known.register("kept-in-use-secret-0001");
        for i in 0..KEEP * 4 {
            known.register(&format!("rotated-token-{i:06}"));
            if i % 64 == 0 {
                // Opened again while its stream runs.
                known.register("kept-in-use-secret-0001");
            }
        }
        assert_eq!(known.0.len(), KEEP);
        assert_eq!(known.redact("kept-in-use-secret-0001"), REDACTED);
        assert_eq!(known.redact(&format!("rotated-token-{:06}", KEEP * 4 - 1)), REDACTED, "the newest is kept");
        assert_eq!(known.redact("rotated-token-000000"), "rotated-token-000000", "the oldest was dropped");
    }

    #[test]
    fn text_without_secrets_is_untouched_and_not_copied() {
        assert!(matches!(redact("profile 12 signed in"), Cow::Borrowed(_)));
    }
}
