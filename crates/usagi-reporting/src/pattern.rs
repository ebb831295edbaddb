//! Regular expressions of requests (reporting-api §3.1): compiled once per request, with
//! size limits, so a pathological pattern is a 400 and never a hung server.

use regex::{Regex, RegexBuilder};
use usagi_types::{ApiError, JsonValue};

/// Longest pattern, in characters.
pub const MAX_PATTERN: usize = 1024;
/// Compiled program and lazy-DFA budgets per pattern.
const SIZE_LIMIT: usize = 1 << 20;

/// Compiles the string `value` as an unanchored, case-sensitive Rust `regex` pattern.
pub fn compile(value: &JsonValue) -> Result<Regex, ApiError> {
    let pattern = value.string_len(1, MAX_PATTERN)?;
    RegexBuilder::new(&pattern).size_limit(SIZE_LIMIT).dfa_size_limit(SIZE_LIMIT).build().map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => value.error("is a regular expression too large to run"),
        _ => value.error("must be a valid regular expression"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use usagi_types::JsonObject;

    fn pattern(p: &str) -> Result<Regex, ApiError> {
        let body = JsonObject::parse_body(serde_json::json!({ "value": p }).to_string().as_bytes()).unwrap();
        compile(&body.required("value").unwrap())
    }

    #[test]
    fn limits_and_errors_name_the_field() {
        assert!(pattern("^1\\.[0-9]+$").unwrap().is_match("1.25"));
        assert!(pattern("2").unwrap().is_match("1.2.3"), "unanchored search");
        let e = pattern("(").unwrap_err();
        assert!(e.reason.contains("field 'value' must be a valid regular expression"), "{}", e.reason);
        let e = pattern("(a{1000}){1000}").unwrap_err();
        assert!(e.reason.contains("too large"), "{}", e.reason);
        assert!(pattern(&"a".repeat(1025)).is_err());
        assert!(pattern("(?=a)").is_err(), "no look-around");
    }
}
