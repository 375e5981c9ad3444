//! The one rule for text a person types that others read: names, titles, categories and tags,
//! whichever surface they come from (the window, the CLI, the API).
//!
//! Refused: control characters (C0, C1 — TAB, CR, LF, NEL — and DEL), the bidirectional
//! overrides and isolates (U+202A–202E, U+2066–2069, which make a name read backwards in
//! another's list) and the line and paragraph separators (U+2028, U+2029, which start a new line
//! in a log or a terminal). Lengths are counted in characters, with Twitch's limits for what goes
//! to Twitch: a title of 140, a category of 50, 10 tags of 25 letters or digits.
//!
//! Such text is still logged only as a `Debug` field (`?title`), which escapes whatever it holds.

/// Twitch's limit on a stream title (Modify Channel Information).
pub const TITLE_MAX: usize = 140;
/// A game or category name as Twitch lists them (the longest are under 50).
pub const CATEGORY_MAX: usize = 50;
/// Twitch's limits on a channel's tags.
pub const TAGS_MAX: usize = 10;
pub const TAG_MAX: usize = 25;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("the {field} is empty")]
    Empty { field: &'static str },
    #[error("the {field} is at most {max} characters (it has {len})")]
    TooLong { field: &'static str, max: usize, len: usize },
    #[error("the {field} has a character that is not allowed ({what}): use plain text on one line")]
    Forbidden { field: &'static str, what: &'static str },
    #[error("at most {TAGS_MAX} tags of 1 to {TAG_MAX} letters or digits, no spaces (tag {index} is not)")]
    Tag { index: usize },
    #[error("at most {TAGS_MAX} tags (there are {count})")]
    TooManyTags { count: usize },
}

/// What kind of forbidden character `c` is, if it is one.
pub fn forbidden(c: char) -> Option<&'static str> {
    match c {
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => Some("a right-to-left or left-to-right override"),
        '\u{2028}' | '\u{2029}' => Some("a line or paragraph separator"),
        c if c.is_control() => Some("a control character such as a tab or a new line"),
        _ => None,
    }
}

/// `value` trimmed, when it is 1 to `max` allowed characters.
pub fn line<'a>(field: &'static str, value: &'a str, max: usize) -> Result<&'a str, TextError> {
    let value = optional_line(field, value, max)?;
    if value.is_empty() {
        return Err(TextError::Empty { field });
    }
    Ok(value)
}

/// `value` trimmed of spaces (possibly empty), when it has at most `max` allowed characters. A
/// forbidden character is refused wherever it is, even at an end where trimming would hide it:
/// what is refused does not depend on where it sits (the API's schema says the same).
pub fn optional_line<'a>(field: &'static str, value: &'a str, max: usize) -> Result<&'a str, TextError> {
    if let Some(what) = value.chars().find_map(forbidden) {
        return Err(TextError::Forbidden { field, what });
    }
    let value = value.trim();
    let len = value.chars().count();
    if len > max {
        return Err(TextError::TooLong { field, max, len });
    }
    Ok(value)
}

/// Tags as Twitch takes them: at most 10, each 1 to 25 letters or digits.
pub fn tags(tags: &[String]) -> Result<(), TextError> {
    if tags.len() > TAGS_MAX {
        return Err(TextError::TooManyTags { count: tags.len() });
    }
    match tags.iter().position(|t| t.is_empty() || t.chars().count() > TAG_MAX || !t.chars().all(char::is_alphanumeric)) {
        Some(index) => Err(TextError::Tag { index: index + 1 }),
        None => Ok(()),
    }
}

/// A title made from text nobody checked (an uploaded file's name): forbidden characters become
/// spaces, runs of spaces one, cut to `max` characters; `fallback` when nothing is left.
pub fn cleaned(value: &str, max: usize, fallback: &str) -> String {
    let mut out = String::with_capacity(value.len().min(max * 4));
    let mut count = 0;
    for c in value.chars().map(|c| if forbidden(c).is_some() { ' ' } else { c }) {
        if count == max {
            break;
        }
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
        count += 1;
    }
    let out = out.trim_end();
    if out.is_empty() { fallback.to_string() } else { out.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_overrides_and_separators_are_refused_wherever_they_are() {
        for bad in ["a\nb", "tab\there", "nel\u{85}x", "del\u{7f}", "\u{202E}evil", "iso\u{2066}late", "line\u{2028}sep", "para\u{2029}x"] {
            assert!(matches!(line("title", bad, 140), Err(TextError::Forbidden { .. })), "{bad:?}");
        }
        assert_eq!(line("title", "  Ça va — 日本語 🎮  ", 140), Ok("Ça va — 日本語 🎮"));
        // At an end too, where trimming would have hidden them.
        assert!(matches!(line("title", "para\u{2029}", 140), Err(TextError::Forbidden { .. })));
        assert!(matches!(line("name", "Ana\n", 64), Err(TextError::Forbidden { .. })));
    }

    #[test]
    fn lengths_count_characters_and_empty_is_refused_only_where_required() {
        assert_eq!(line("title", &"é".repeat(140), 140).map(|t| t.chars().count()), Ok(140));
        assert_eq!(line("title", &"é".repeat(141), 140), Err(TextError::TooLong { field: "title", max: 140, len: 141 }));
        assert_eq!(line("name", "   ", 64), Err(TextError::Empty { field: "name" }));
        assert_eq!(optional_line("category", "  ", 50), Ok(""));
    }

    #[test]
    fn tags_follow_twitchs_limits() {
        let t = |v: &[&str]| tags(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(t(&["English", "Speedrun", "日本語"]).is_ok());
        assert_eq!(t(&["ok", "two words"]), Err(TextError::Tag { index: 2 }));
        assert_eq!(t(&["x"; 11]), Err(TextError::TooManyTags { count: 11 }));
        assert_eq!(t(&[&"a".repeat(26)]), Err(TextError::Tag { index: 1 }));
    }

    #[test]
    fn an_unchecked_name_is_cleaned_into_a_title() {
        assert_eq!(cleaned("My\tvideo\u{85}final\u{202E}.mp4", 140, "upload"), "My video final .mp4");
        assert_eq!(cleaned(&"x".repeat(300), 100, "upload").len(), 100);
        assert_eq!(cleaned("\n\t", 100, "upload"), "upload");
    }
}
