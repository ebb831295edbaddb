//! Event selectors (reporting-api §5): single events and combinations, matched against the
//! distinct `(category, name)` pairs a product has seen.

use regex::Regex;
use usagi_types::{ApiError, JsonObject};

use crate::pattern;

/// How one side (category or name) of an event is matched.
#[derive(Debug, Clone)]
pub enum TextMatch {
    /// Exactly equal.
    Exact(String),
    /// Unanchored regex search.
    Regex(Regex),
}

impl TextMatch {
    fn matches(&self, s: &str) -> bool {
        match self {
            Self::Exact(e) => e == s,
            Self::Regex(r) => r.is_match(s),
        }
    }
}

/// One member of a selector.
#[derive(Debug, Clone)]
pub struct EventPattern {
    /// None: exactly the events without a category.
    pub category: Option<TextMatch>,
    /// The name.
    pub name: TextMatch,
}

impl EventPattern {
    /// Whether the event `(category, name)` matches. An event without a category is
    /// matched as the empty string by a non-null category pattern.
    pub fn matches(&self, category: Option<&str>, name: &str) -> bool {
        let category_ok = match (&self.category, category) {
            (None, c) => c.is_none(),
            (Some(m), c) => m.matches(c.unwrap_or("")),
        };
        category_ok && self.name.matches(name)
    }

    /// Parses `{"category","name","categoryType"?,"nameType"?}`; types default to string.
    pub fn parse(obj: &JsonObject) -> Result<Self, ApiError> {
        let side = |key: &str, type_key: &str| -> Result<Option<TextMatch>, ApiError> {
            let is_regex = match obj.optional(type_key)? {
                Some(t) => t.enum_of(&["string", "regex"])? == "regex",
                None => false,
            };
            let Some(v) = obj.required_nullable(key)? else { return Ok(None) };
            Ok(Some(if is_regex { TextMatch::Regex(pattern::compile(&v)?) } else { TextMatch::Exact(v.string()?) }))
        };
        let category = side("category", "categoryType")?;
        let name = side("name", "nameType")?
            .ok_or_else(|| ApiError::syntax(format!("field '{}' is required", join(obj.path(), "name"))))?;
        Ok(Self { category, name })
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A single event or a combination: the union of the distinct events its members match.
#[derive(Debug, Clone)]
pub struct EventSelector {
    /// The members (one for a single event).
    pub members: Vec<EventPattern>,
}

impl EventSelector {
    /// Parses a single event (with optional match types) or `{"combiArray":[…]}` from `obj`,
    /// reading only the selector's own fields.
    pub fn parse(obj: &JsonObject) -> Result<Self, ApiError> {
        if let Some(arr) = obj.optional("combiArray")? {
            obj.optional("combiLabel")?.map(|l| l.string_len(1, 128)).transpose()?;
            let mut members = Vec::new();
            for (_, item) in arr.array_len(1, 50)?.iter() {
                members.push(EventPattern::parse(&item.object()?)?);
            }
            return Ok(Self { members });
        }
        Ok(Self { members: vec![EventPattern::parse(obj)?] })
    }

    /// Whether the event matches any member.
    pub fn matches(&self, category: Option<&str>, name: &str) -> bool {
        self.members.iter().any(|m| m.matches(category, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(v: serde_json::Value) -> Result<EventSelector, ApiError> {
        EventSelector::parse(&JsonObject::parse_body(v.to_string().as_bytes()).unwrap())
    }

    #[test]
    fn single_combination_null_category_and_regex() {
        let s = selector(serde_json::json!({"category": "File", "name": "Open"})).unwrap();
        assert!(s.matches(Some("File"), "Open") && !s.matches(None, "Open") && !s.matches(Some("File"), "Opened"));
        let s = selector(serde_json::json!({"category": null, "name": "Open"})).unwrap();
        assert!(s.matches(None, "Open") && !s.matches(Some("File"), "Open"));
        let s = selector(serde_json::json!({"combiArray": [
            {"category": "File", "name": "^Save", "nameType": "regex"},
            {"categoryType": "regex", "category": "^$", "name": "Open"}]}))
        .unwrap();
        assert!(s.matches(Some("File"), "Save As") && s.matches(None, "Open") && !s.matches(Some("X"), "Open"));
        let e = selector(serde_json::json!({"category": "File"})).unwrap_err();
        assert!(e.reason.contains("'name' is required"), "{}", e.reason);
        let e = selector(serde_json::json!({"category": "File", "name": "(", "nameType": "regex"})).unwrap_err();
        assert!(e.reason.contains("field 'name'"), "{}", e.reason);
    }
}
