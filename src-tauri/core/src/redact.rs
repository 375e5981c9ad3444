//! The one place that decides what a secret looks like in text. Every log line passes through
//! [`redact`] (see [`crate::logging`]), and so will stream events and error messages that quote
//! outside programs (ffmpeg, Twitch), as defence in depth: code should not log secrets in the
//! first place, and this catches the ones it does.
//!
//! Rules: anything shaped like a UUID (profile logins), Twitch stream keys (`live_…`), the key part
//! of an RTMP URL, `Bearer`/`OAuth` tokens, and any exact string registered with
//! [`register_secret`] (keys and tokens the process has decrypted).

use std::borrow::Cow;
use std::sync::{LazyLock, RwLock};

use regex::{Captures, Regex};

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b").expect("uuid regex")
});
static STREAM_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\blive_[A-Za-z0-9_]{6,}").expect("stream key regex"));
static RTMP_URL_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(rtmps?://[^\s/]+/[^\s/]+/)[^\s?]+").expect("rtmp regex"));
static AUTH_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(bearer|oauth)(\s+|:)[A-Za-z0-9._~+/=-]+").expect("token regex"));

/// Exact secrets known to this process. A std lock: it is never held across an `.await`.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

pub const REDACTED: &str = "[redacted]";

/// Adds a secret that must never appear in a log line. Strings shorter than 8 characters are
/// ignored: redacting them would mangle ordinary words and they are not secrets worth the name.
pub fn register_secret(secret: &str) {
    if secret.len() < 8 {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_string());
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
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
    let mut out = Cow::Borrowed(text);
    {
        let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
    }
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
    fn text_without_secrets_is_untouched_and_not_copied() {
        assert!(matches!(redact("profile 12 signed in"), Cow::Borrowed(_)));
    }
}
