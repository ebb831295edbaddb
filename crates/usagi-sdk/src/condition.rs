//! Conditioning of application values (callhome §6.4): the SDK trims, removes whitespace other
//! than plain spaces inside ids, and truncates to the protocol's limits, so the server (which
//! only verifies) never rejects a batch for what an application passed. What cannot be made
//! valid (an empty name, a session id of the wrong length) is an error at the call.

use usagi_protocol::limits::{APP_NAME_MAX, SESSION_ID_MAX, SESSION_ID_MIN};

use crate::error::{Result, SdkError};

/// `s` trimmed and cut to at most `max` Unicode scalar values; `None` when empty.
pub(crate) fn text(s: Option<&str>, max: usize) -> Option<String> {
    let s = truncate_chars(s?.trim(), max).trim_end();
    (!s.is_empty()).then(|| s.to_owned())
}

/// A required text: trimmed and truncated, an error when empty.
pub(crate) fn required(field: &'static str, s: &str, max: usize) -> Result<String> {
    text(Some(s), max).ok_or(SdkError::Empty { field })
}

/// `s` trimmed and cut to at most `max` bytes of UTF-8 on a character boundary.
pub(crate) fn text_bytes(s: Option<&str>, max: usize) -> Option<String> {
    let s = s?.trim();
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = s[..end].trim_end();
    (!s.is_empty()).then(|| s.to_owned())
}

/// A session id: whitespace other than the plain space removed, trimmed, 10–64 characters.
pub(crate) fn session_id(s: &str) -> Result<String> {
    let cleaned: String = s.chars().filter(|c| *c == ' ' || !c.is_whitespace()).collect();
    let cleaned = cleaned.trim_matches(' ');
    let len = cleaned.chars().count();
    if !(SESSION_ID_MIN..=SESSION_ID_MAX).contains(&len) {
        return Err(SdkError::InvalidSessionId { len });
    }
    Ok(cleaned.to_owned())
}

/// A name that may hold no whitespace at all (app name, custom event key), truncated to `max`.
pub(crate) fn no_whitespace(field: &'static str, s: &str, max: usize) -> Result<String> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let cleaned = truncate_chars(&cleaned, max);
    if cleaned.is_empty() {
        return Err(SdkError::Empty { field });
    }
    Ok(cleaned.to_owned())
}

/// The app name of the envelope: 1–16 characters without whitespace.
pub(crate) fn app_name(s: &str) -> Result<String> {
    no_whitespace("app name", s, APP_NAME_MAX)
}

fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_trims_truncates_and_nulls_empty() {
        assert_eq!(text(Some("  Open \t"), 128), Some("Open".into()));
        assert_eq!(text(Some("   "), 128), None);
        assert_eq!(text(None, 128), None);
        assert_eq!(text(Some("ééééé"), 3), Some("ééé".into()));
        assert_eq!(text(Some("ab cd"), 3), Some("ab".into()));
        assert!(matches!(required("event name", " ", 128), Err(SdkError::Empty { field: "event name" })));
    }

    #[test]
    fn stack_traces_are_cut_on_a_char_boundary() {
        assert_eq!(text_bytes(Some("aé"), 2), Some("a".into()));
        assert_eq!(text_bytes(Some("aé"), 3), Some("aé".into()));
    }

    #[test]
    fn session_ids_keep_only_plain_spaces() {
        assert_eq!(session_id(" doc\t-1234 56\n7 ").unwrap(), "doc-1234 567");
        assert!(matches!(session_id("short"), Err(SdkError::InvalidSessionId { len: 5 })));
        assert!(matches!(session_id(&"x".repeat(65)), Err(SdkError::InvalidSessionId { len: 65 })));
    }

    #[test]
    fn app_names_lose_whitespace() {
        assert_eq!(app_name(" Demo App ").unwrap(), "DemoApp");
        assert_eq!(app_name("A very long application name").unwrap(), "Averylongapplica");
        assert!(app_name(" \t").is_err());
    }
}
