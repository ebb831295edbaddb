//! Field rules shared by every endpoint: reading members of a JSON object with the server's
//! only normalisations (trim; `""` and `"<NULL>"` become null for nullable fields) and
//! reporting each violation as a reason that names the field.

use serde_json::{Map, Value};
use usagi_types::ClientId;

use crate::error::SyntaxError;
use crate::limits::{APP_NAME_MAX, MACHINE_ID_MAX, MAX_SAFE_INTEGER, SESSION_ID_MAX, SESSION_ID_MIN};

/// The SDK's way of writing a NULL property value; it means null wherever a field is nullable.
const NULL_TEXT: &str = "<NULL>";

/// A JSON object being validated, with the path used in error reasons (`records[3]`).
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Obj<'a> {
    /// The request body itself: its members are named without a prefix.
    pub(crate) fn root(map: &'a Map<String, Value>) -> Self {
        Self { map, prefix: String::new() }
    }

    /// An object found at `prefix` (`records[3]`, `records[3].machine`).
    pub(crate) fn nested(map: &'a Map<String, Value>, prefix: String) -> Self {
        Self { map, prefix }
    }

    /// The members, in the order sent.
    pub(crate) fn members(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The object's own path, as used in reasons.
    pub(crate) fn name(&self) -> &str {
        if self.prefix.is_empty() {
            "body"
        } else {
            &self.prefix
        }
    }

    /// The path of a member, as used in reasons.
    pub(crate) fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// An error naming member `key`.
    pub(crate) fn err(&self, key: &str, what: impl std::fmt::Display) -> SyntaxError {
        SyntaxError::new(format!("{} {what}", self.path(key)))
    }

    /// A member, where null counts as absent (§6.1: leaving a field out equals null).
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A required string, trimmed.
    pub(crate) fn required_str(&self, key: &str) -> Result<&'a str, SyntaxError> {
        match self.get(key) {
            None => Err(self.err(key, "is required")),
            Some(Value::String(s)) => Ok(s.trim()),
            Some(_) => Err(self.err(key, "must be a string")),
        }
    }

    /// A required string of `min`–`max` characters, trimmed.
    pub(crate) fn bounded_str(&self, key: &str, min: usize, max: usize) -> Result<String, SyntaxError> {
        let s = self.required_str(key)?;
        if !chars_between(s, min, max) {
            return Err(self.err(key, format!("must be {min}-{max} characters")));
        }
        Ok(s.to_owned())
    }

    /// A nullable string, trimmed; `""` and `"<NULL>"` are null.
    pub(crate) fn nullable_str(&self, key: &str) -> Result<Option<&'a str>, SyntaxError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => {
                let s = s.trim();
                Ok((!s.is_empty() && s != NULL_TEXT).then_some(s))
            }
            Some(_) => Err(self.err(key, "must be a string or null")),
        }
    }

    /// A nullable string of at most `max` characters.
    pub(crate) fn text(&self, key: &str, max: usize) -> Result<Option<String>, SyntaxError> {
        let s = self.nullable_str(key)?;
        if let Some(s) = s {
            if !chars_between(s, 0, max) {
                return Err(self.err(key, format!("exceeds {max} characters")));
            }
        }
        Ok(s.map(str::to_owned))
    }

    /// A nullable integer in `min..=max`; fractions and exponents (`40.0`, `1e3`) are not integers.
    pub(crate) fn int(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, SyntaxError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(self.err(key, format!("must be an integer from {min} to {max}"))),
            },
        }
    }

    /// A required integer in `min..=max`.
    pub(crate) fn required_int(&self, key: &str, min: u64, max: u64) -> Result<u64, SyntaxError> {
        self.int(key, min, max)?.ok_or_else(|| self.err(key, "is required"))
    }

    /// A nullable boolean.
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, SyntaxError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(key, "must be a boolean or null")),
        }
    }

    /// A nullable object member.
    pub(crate) fn object(&self, key: &str) -> Result<Option<Obj<'a>>, SyntaxError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj::nested(map, self.path(key)))),
            Some(_) => Err(self.err(key, "must be an object or null")),
        }
    }

    /// A required object member.
    pub(crate) fn required_object(&self, key: &str) -> Result<Obj<'a>, SyntaxError> {
        match self.get(key) {
            None => Err(self.err(key, "is required")),
            Some(Value::Object(map)) => Ok(Obj::nested(map, self.path(key))),
            Some(_) => Err(self.err(key, "must be an object")),
        }
    }

    /// `clientId`: 16 uppercase hex characters.
    pub(crate) fn client_id(&self, key: &str) -> Result<ClientId, SyntaxError> {
        let s = self.required_str(key)?;
        ClientId::parse(s).map_err(|_| self.err(key, "must be 16 uppercase hexadecimal characters"))
    }

    /// An optional `clientId`.
    pub(crate) fn optional_client_id(&self, key: &str) -> Result<Option<ClientId>, SyntaxError> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.client_id(key).map(Some),
        }
    }

    /// `machineId`: null, or 1–64 characters of `[0-9A-Za-z._-]`.
    pub(crate) fn machine_id(&self, key: &str) -> Result<Option<String>, SyntaxError> {
        let Some(s) = self.nullable_str(key)? else {
            return Ok(None);
        };
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if s.len() > MACHINE_ID_MAX || !s.chars().all(allowed) {
            return Err(self.err(key, format!("must be 1-{MACHINE_ID_MAX} characters from [0-9A-Za-z._-]")));
        }
        Ok(Some(s.to_owned()))
    }

    /// `appName`: 1–16 characters without whitespace.
    pub(crate) fn app_name(&self, key: &str) -> Result<String, SyntaxError> {
        let s = self.required_str(key)?;
        if !chars_between(s, 1, APP_NAME_MAX) || s.chars().any(char::is_whitespace) {
            return Err(self.err(key, format!("must be 1-{APP_NAME_MAX} characters without whitespace")));
        }
        Ok(s.to_owned())
    }

    /// `sessionId`: null, or 10–64 characters whose only whitespace is the plain space, not at
    /// either end (trimming already guarantees the ends).
    pub(crate) fn session_id(&self, key: &str) -> Result<Option<String>, SyntaxError> {
        let Some(s) = self.nullable_str(key)? else {
            return Ok(None);
        };
        if !chars_between(s, SESSION_ID_MIN, SESSION_ID_MAX) {
            return Err(self.err(key, format!("must be {SESSION_ID_MIN}-{SESSION_ID_MAX} characters")));
        }
        if s.chars().any(|c| c.is_whitespace() && c != ' ') {
            return Err(self.err(key, "must not contain whitespace other than plain spaces"));
        }
        Ok(Some(s.to_owned()))
    }

    /// `t`: client time in ms, 0 … 2^53−1.
    pub(crate) fn time_ms(&self, key: &str) -> Result<i64, SyntaxError> {
        let t = self.required_int(key, 0, MAX_SAFE_INTEGER)?;
        // 2^53 − 1 always fits in an i64.
        Ok(i64::try_from(t).unwrap_or(i64::MAX))
    }
}

/// Whether `s` has `min`–`max` Unicode scalar values, without counting past `max`.
pub(crate) fn chars_between(s: &str, min: usize, max: usize) -> bool {
    if s.len() <= max && s.len() >= min && s.is_ascii() {
        return true;
    }
    let n = s.chars().take(max.saturating_add(1)).count();
    (min..=max).contains(&n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn chars_are_unicode_scalar_values() {
        assert!(chars_between("ééé", 3, 3));
        assert!(!chars_between("éééé", 0, 3));
        assert!(chars_between("漢字", 1, 2));
        assert!(!chars_between("", 1, 2));
        assert!(chars_between("", 0, 2));
        assert!(chars_between("👍👍", 2, 2));
    }

    #[test]
    fn nullable_strings_are_trimmed_and_normalised() {
        let m = obj(r#"{"a":"  x y \t","b":"","c":"<NULL>","d":" <NULL> ","e":null,"f":3,"g":"<null>"}"#);
        let o = Obj::nested(&m, "records[0]".into());
        assert_eq!(o.nullable_str("a").unwrap(), Some("x y"));
        assert_eq!(o.nullable_str("b").unwrap(), None);
        assert_eq!(o.nullable_str("c").unwrap(), None);
        assert_eq!(o.nullable_str("d").unwrap(), None);
        assert_eq!(o.nullable_str("e").unwrap(), None);
        assert_eq!(o.nullable_str("missing").unwrap(), None);
        assert_eq!(o.nullable_str("g").unwrap(), Some("<null>"));
        assert_eq!(o.nullable_str("f").unwrap_err().reason(), "records[0].f must be a string or null");
    }

    #[test]
    fn required_strings_keep_null_text() {
        let m = obj(r#"{"a":"<NULL>","b":"   ","c":null}"#);
        let o = Obj::root(&m);
        assert_eq!(o.bounded_str("a", 1, 128).unwrap(), "<NULL>");
        assert_eq!(o.bounded_str("b", 1, 128).unwrap_err().reason(), "b must be 1-128 characters");
        assert_eq!(o.bounded_str("c", 1, 128).unwrap_err().reason(), "c is required");
        assert_eq!(o.bounded_str("d", 1, 128).unwrap_err().reason(), "d is required");
    }

    #[test]
    fn integers_only() {
        let m = obj(r#"{"a":40,"b":40.0,"c":1e3,"d":-1,"e":1.5,"f":"4","g":18446744073709551615}"#);
        let o = Obj::root(&m);
        assert_eq!(o.int("a", 0, 100).unwrap(), Some(40));
        for k in ["b", "c", "d", "e", "f"] {
            assert_eq!(o.int(k, 0, 100).unwrap_err().reason(), format!("{k} must be an integer from 0 to 100"));
        }
        assert!(o.int("g", 0, MAX_SAFE_INTEGER).is_err());
        assert_eq!(o.int("missing", 0, 1).unwrap(), None);
    }
}
