//! A JSON reader that refuses duplicate member names, which serde_json silently resolves
//! by keeping the last one: a batch must mean one thing to every reader.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::SyntaxError;

/// Parses a request body that must be a UTF-8 JSON object without duplicate member names.
pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, SyntaxError> {
    let text = std::str::from_utf8(body).map_err(|_| SyntaxError::new("body is not valid UTF-8"))?;
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = ValueSeed { path: &Path::Root, duplicate: &duplicate }
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SyntaxError::new("body must be a JSON object")),
        Err(e) => Err(match duplicate.take() {
            Some(reason) => SyntaxError::new(reason),
            None => SyntaxError::new(format!("body is not valid JSON: {e}")),
        }),
    }
}

/// Where a value sits in the document, built on the stack while parsing and formatted only on error.
enum Path<'p> {
    Root,
    Member(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => f.write_str("body"),
            Path::Member(Path::Root, key) => f.write_str(key),
            Path::Member(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(Path::Root, i) => write!(f, "body[{i}]"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Builds a [`Value`] like serde_json's own impl, but records the first duplicate member name.
#[derive(Clone, Copy)]
struct ValueSeed<'p, 'd> {
    path: &'p Path<'p>,
    duplicate: &'d RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        loop {
            let child = Path::Index(self.path, out.len());
            let seed = ValueSeed { path: &child, duplicate: self.duplicate };
            match seq.next_element_seed(seed)? {
                Some(value) => out.push(value),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                let reason = format!("{} has a duplicate member {key:?}", self.path);
                self.duplicate.replace(Some(reason));
                return Err(de::Error::custom("duplicate member"));
            }
            let value = {
                let child = Path::Member(self.path, &key);
                access.next_value_seed(ValueSeed { path: &child, duplicate: self.duplicate })?
            };
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(body: &str) -> String {
        parse_object(body.as_bytes()).unwrap_err().reason().to_owned()
    }

    #[test]
    fn parses_like_serde_json() {
        let body = r#"{"a":[1,-2,3.5,"x",true,null,{"b":{}}],"c":18446744073709551615,"e":1e3}"#;
        let ours = parse_object(body.as_bytes()).unwrap();
        let theirs: Value = serde_json::from_str(body).unwrap();
        assert_eq!(Value::Object(ours), theirs);
    }

    #[test]
    fn keeps_member_order() {
        let map = parse_object(br#"{"z":1,"a":2,"m":3}"#).unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), ["z", "a", "m"]);
    }

    #[test]
    fn duplicate_members_are_named_with_their_path() {
        assert_eq!(reason(r#"{"seq":1,"seq":2}"#), r#"body has a duplicate member "seq""#);
        assert_eq!(
            reason(r#"{"records":[{"kind":"event"},{"custom":{"pages":"1","pages":"2"}}]}"#),
            r#"records[1].custom has a duplicate member "pages""#
        );
        // Equal names in different objects are fine.
        assert!(parse_object(br#"{"a":{"x":1},"b":{"x":1}}"#).is_ok());
    }

    #[test]
    fn not_an_object_or_not_json() {
        assert_eq!(reason("[]"), "body must be a JSON object");
        assert_eq!(reason("\"x\""), "body must be a JSON object");
        assert_eq!(reason("null"), "body must be a JSON object");
        assert!(reason("{").starts_with("body is not valid JSON: "));
        assert!(reason("{} {}").starts_with("body is not valid JSON: "));
        assert!(reason("").starts_with("body is not valid JSON: "));
        assert!(reason(r#"{"a":NaN}"#).starts_with("body is not valid JSON: "));
        assert!(reason(r#"{"a":1e400}"#).starts_with("body is not valid JSON: "));
        assert!(reason(r#"{"a":"\ud800"}"#).starts_with("body is not valid JSON: "));
    }

    #[test]
    fn invalid_utf8() {
        assert_eq!(parse_object(b"{\"a\":\"\xff\"}").unwrap_err().reason(), "body is not valid UTF-8");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let body = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(reason(&body).starts_with("body is not valid JSON: "));
    }
}
