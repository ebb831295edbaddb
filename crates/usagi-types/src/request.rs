//! The strict request reader every endpoint uses to turn a JSON body into a typed spec
//! (spec §1.6, §1.11), producing the exact 400 reasons of the API.
//!
//! ```
//! # use usagi_types::{JsonObject, ApiError};
//! # fn main() -> Result<(), ApiError> {
//! let root = JsonObject::parse_body(br#"{"dateSplit":null,"clientStatus":["new","active"]}"#)?;
//! let split = root.optional("dateSplit")?.map(|v| v.enum_of(&["day", "week", "month"])).transpose()?;
//! let mut statuses = Vec::new();
//! for (_, item) in root.required("clientStatus")?.array()?.iter() {
//!     statuses.push(item.enum_of(&["new", "active", "lost"])?);
//! }
//! root.finish()?; // any member nobody read is an unknown field
//! assert_eq!((split, statuses), (None, vec!["new", "active"]));
//! # Ok(()) }
//! ```
//!
//! How it works: the body is parsed once into a document tree by a strict parser of our
//! own (`syntax`), which rejects malformed JSON and duplicate keys. The endpoint then
//! reads the fields it knows through path-aware accessors; every accessor marks what it
//! touched, and [`JsonObject::finish`] rejects the first member nobody read.
//!
//! Error order (§1.6 asks for the first error in document order, "as far as practical"):
//! - encoding, syntax, nesting depth and duplicate keys are found in one left-to-right
//!   pass, so the first of them in the document wins, and they precede all field errors;
//! - field errors (missing, wrong type, bad value) are reported in the order the endpoint
//!   reads fields, so endpoints read fields in the order of the spec's tables, which is
//!   also the order clients usually write them;
//! - unknown fields are reported by `finish()`, after the known fields were read, and among
//!   themselves in document order (depth-first through the whole subtree).
//!
//! Reasons have the shape `field '<path>' <predicate>`, where the path joins keys with
//! dots and writes array indices as `[i]`: `levels.level1.segments[0].type`.

mod syntax;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::dates::parse_report_date;
use crate::error::ApiError;
use crate::ids::ProductId;
use syntax::{Doc, Node, SyntaxError};

/// The JSON type of a value, for callers that accept several types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// Any number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// A JSON object of a request, with path-aware accessors that record what was read.
#[derive(Clone)]
pub struct JsonObject {
    doc: Arc<Doc>,
    id: usize,
    path: String,
}

/// One value of a request, found at [`JsonValue::path`].
#[derive(Clone)]
pub struct JsonValue {
    doc: Arc<Doc>,
    id: usize,
    path: String,
    /// Whether `null` is an accepted value here (an optional field), so enum errors list it.
    nullable: bool,
}

/// A JSON array of a request; items have paths like `clientStatus[1]`.
#[derive(Clone)]
pub struct JsonArray {
    doc: Arc<Doc>,
    id: usize,
    path: String,
}

/// A 400 whose reason is `field '<path>' <predicate>`.
fn field_error(path: &str, predicate: impl fmt::Display) -> ApiError {
    ApiError::syntax(format!("field '{path}' {predicate}"))
}

/// The path of member `key` of the object at `parent` (`""` is the root).
fn member_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn mark(doc: &Doc, id: usize) {
    doc.read[id].store(true, Ordering::Relaxed);
}

fn is_read(doc: &Doc, id: usize) -> bool {
    doc.read[id].load(Ordering::Relaxed)
}

/// Marks a value and everything inside it as read (for ignored or opaque values).
fn mark_subtree(doc: &Doc, id: usize) {
    mark(doc, id);
    match &doc.nodes[id] {
        Node::Array(items) => items.iter().for_each(|&child| mark_subtree(doc, child)),
        Node::Object(members) => members.iter().for_each(|(_, child)| mark_subtree(doc, *child)),
        _ => {}
    }
}

/// The first unread object member under `id`, in document order, as an error.
fn check_unread(doc: &Doc, id: usize, path: &str) -> Result<(), ApiError> {
    match &doc.nodes[id] {
        Node::Object(members) => {
            for (key, child) in members {
                let child_path = member_path(path, key);
                if !is_read(doc, *child) {
                    return Err(ApiError::syntax(format!("unknown field '{child_path}'")));
                }
                check_unread(doc, *child, &child_path)?;
            }
            Ok(())
        }
        // Array items need not be "read" themselves (an array is read as a whole), but
        // objects inside them must have no unknown members.
        Node::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                check_unread(doc, *child, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

impl JsonObject {
    /// Parses a request body that must be a JSON object (§1.6).
    ///
    /// Errors (400): `request body is not valid UTF-8`, `request body is not valid JSON:
    /// expected … at line L column C`, `duplicate field '<path>'`, `request body is nested
    /// more than 128 levels deep`, `request body must be a JSON object`.
    pub fn parse_body(bytes: &[u8]) -> Result<Self, ApiError> {
        Self::parse_document(bytes, "request body")
    }

    /// Like [`JsonObject::parse_body`], but an empty body reads as `{}` (for endpoints whose
    /// fields are all optional).
    pub fn parse_body_or_empty(bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.is_empty() {
            Ok(Self::empty())
        } else {
            Self::parse_body(bytes)
        }
    }

    /// Parses a JSON object from any source; `what` names it in errors, e.g.
    /// `query parameter 'query'` for the `GET ?query=` form (§1.7).
    pub fn parse_document(bytes: &[u8], what: &str) -> Result<Self, ApiError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ApiError::syntax(format!("{what} is not valid UTF-8")))?;
        let doc = syntax::parse(text).map_err(|err| match err {
            SyntaxError::Malformed { expected, line, column } => ApiError::syntax(format!(
                "{what} is not valid JSON: expected {expected} at line {line} column {column}"
            )),
            SyntaxError::Duplicate(path) => ApiError::syntax(format!("duplicate field '{path}'")),
            SyntaxError::TooDeep => {
                ApiError::syntax(format!("{what} is nested more than {} levels deep", syntax::MAX_DEPTH))
            }
        })?;
        if !matches!(doc.nodes.first(), Some(Node::Object(_))) {
            return Err(ApiError::syntax(format!("{what} must be a JSON object")));
        }
        mark(&doc, 0);
        Ok(Self { doc: Arc::new(doc), id: 0, path: String::new() })
    }

    /// An empty object, as an absent body reads.
    pub fn empty() -> Self {
        let doc = Doc { nodes: vec![Node::Object(Vec::new())], read: vec![true.into()] };
        Self { doc: Arc::new(doc), id: 0, path: String::new() }
    }

    /// The object's JSON path (`""` for the body itself).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members().len()
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        self.members().is_empty()
    }

    /// Whether member `key` exists (even as `null`); does not count as reading it.
    pub fn contains(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// A required member: absent or `null` → `field '<path>' is required`.
    pub fn required(&self, key: &str) -> Result<JsonValue, ApiError> {
        match self.find(key) {
            Some(id) if !self.is_null_node(id) => Ok(self.child(key, id, false)),
            Some(id) => {
                mark(&self.doc, id);
                Err(field_error(&member_path(&self.path, key), "is required"))
            }
            None => Err(field_error(&member_path(&self.path, key), "is required")),
        }
    }

    /// An optional member: absent and `null` both give `None` (§1.6: null means "absent").
    ///
    /// Returns `Result` so that every accessor composes the same way with `?`.
    pub fn optional(&self, key: &str) -> Result<Option<JsonValue>, ApiError> {
        Ok(self.present(key).filter(|v| !v.is_null()))
    }

    /// A member whose `null` has a meaning of its own (e.g. `expiryDate` null clears it):
    /// `None` only when absent; check [`JsonValue::is_null`].
    pub fn present(&self, key: &str) -> Option<JsonValue> {
        self.find(key).map(|id| self.child(key, id, true))
    }

    /// A member that must be present but may be `null` (event `category`): absent →
    /// `field '<path>' is required`; `null` → `Ok(None)`.
    pub fn required_nullable(&self, key: &str) -> Result<Option<JsonValue>, ApiError> {
        match self.present(key) {
            Some(v) if v.is_null() => Ok(None),
            Some(v) => Ok(Some(v)),
            None => Err(field_error(&member_path(&self.path, key), "is required")),
        }
    }

    /// Tolerates member `key` (if present) without looking at it.
    pub fn ignore(&self, key: &str) {
        if let Some(id) = self.find(key) {
            mark_subtree(&self.doc, id);
        }
    }

    /// Like [`JsonObject::optional`], also accepting older spellings (§1.11). The value's
    /// path is the spelling actually sent. Two spellings present → `fields 'a' and 'b' are
    /// spellings of the same field; send only one`.
    pub fn optional_alias(&self, key: &str, aliases: &[&str]) -> Result<Option<JsonValue>, ApiError> {
        Ok(self.spelling(key, aliases)?.filter(|v| !v.is_null()))
    }

    /// Like [`JsonObject::required`], also accepting older spellings (§1.11); a missing
    /// field is named by its canonical spelling.
    pub fn required_alias(&self, key: &str, aliases: &[&str]) -> Result<JsonValue, ApiError> {
        match self.spelling(key, aliases)? {
            Some(v) if !v.is_null() => Ok(JsonValue { nullable: false, ..v }),
            _ => Err(field_error(&member_path(&self.path, key), "is required")),
        }
    }

    /// All members in document order, each marked as read (for objects keyed by data,
    /// such as `globalFilters`).
    pub fn entries(&self) -> Vec<(String, JsonValue)> {
        self.members().iter().map(|(key, id)| (key.clone(), self.child(key, *id, false))).collect()
    }

    /// Rejects the first member (in document order) whose key is not in `allowed`:
    /// `unknown field 'globalFilters.prodVersion.typ'`. Called before reading an object's
    /// members so that a misspelt key is reported as such, not as a missing one.
    pub fn known_fields(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.members().iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(ApiError::syntax(format!("unknown field '{}'", member_path(&self.path, k)))),
            None => Ok(()),
        }
    }

    /// Handles the v2 fields tolerated at top level (§1.6): `user` and `sessionId` are
    /// ignored; `productId` (string or integer) must match the product of the path.
    pub fn accept_v2_fields(&self, product: &ProductId) -> Result<(), ApiError> {
        self.ignore("user");
        self.ignore("sessionId");
        let Some(v) = self.optional("productId")? else {
            return Ok(());
        };
        let matches = match v.kind() {
            JsonKind::String => v.string()? == product.as_str(),
            // A number cannot carry leading zeros, so compare values, not text.
            JsonKind::Number => u64::try_from(v.integer().map_err(|_| v.error("must be a string or an integer"))?)
                .is_ok_and(|n| n == product.as_u64()),
            _ => return Err(v.error("must be a string or an integer")),
        };
        if matches {
            Ok(())
        } else {
            Err(v.error("does not match the product id in the path"))
        }
    }

    /// Rejects the first member of this object's subtree that no accessor read, in
    /// document order: `unknown field 'levels.level1.segmnts'`.
    ///
    /// Called on the body it checks the whole request; nested objects need no call of
    /// their own, but may have one to fail early.
    pub fn finish(&self) -> Result<(), ApiError> {
        check_unread(&self.doc, self.id, &self.path)
    }

    fn members(&self) -> &[(String, usize)] {
        match &self.doc.nodes[self.id] {
            Node::Object(members) => members,
            _ => &[],
        }
    }

    fn find(&self, key: &str) -> Option<usize> {
        self.members().iter().find(|(k, _)| k == key).map(|(_, id)| *id)
    }

    fn is_null_node(&self, id: usize) -> bool {
        matches!(self.doc.nodes[id], Node::Null)
    }

    fn child(&self, key: &str, id: usize, nullable: bool) -> JsonValue {
        mark(&self.doc, id);
        JsonValue { doc: Arc::clone(&self.doc), id, path: member_path(&self.path, key), nullable }
    }

    /// The one spelling of a field that was sent, if any (nullable view).
    fn spelling(&self, key: &str, aliases: &[&str]) -> Result<Option<JsonValue>, ApiError> {
        let mut sent: Vec<(&str, usize)> =
            std::iter::once(&key).chain(aliases).filter_map(|k| self.find(k).map(|id| (*k, id))).collect();
        // Name the spellings in the order the client wrote them.
        sent.sort_by_key(|(_, id)| *id);
        match sent.as_slice() {
            [] => Ok(None),
            [(k, id)] => Ok(Some(self.child(k, *id, true))),
            [(a, _), (b, _), ..] => Err(ApiError::syntax(format!(
                "fields '{}' and '{}' are spellings of the same field; send only one",
                member_path(&self.path, a),
                member_path(&self.path, b)
            ))),
        }
    }
}

/// Outcome of reading a value as an exact integer.
enum Integral {
    /// An integer that fits i64.
    Value(i64),
    /// Not an integer: a fractional number, or not a number at all.
    NotInteger,
    /// An integer beyond i64.
    OutOfRange,
}

/// Reads JSON number text (grammar already checked) as an exact integer, in decimal, so
/// that `40.0` and `4e1` are 40 but `40.0000000000000001` is not an integer.
fn integral_value(raw: &str) -> Integral {
    let (negative, unsigned) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], &unsigned[i + 1..]),
        None => (unsigned, ""),
    };
    let exp_negative = exponent.starts_with('-');
    let exp_abs = exponent
        .trim_start_matches(['+', '-'])
        .bytes()
        .fold(0i64, |acc, d| acc.saturating_mul(10).saturating_add(i64::from(d - b'0')));
    let exp = if exp_negative { -exp_abs } else { exp_abs };
    let (int_digits, frac_digits) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = int_digits.bytes().chain(frac_digits.bytes()).collect();
    let Some(first_nonzero) = digits.iter().position(|&d| d != b'0') else {
        return Integral::Value(0);
    };
    let last_nonzero = digits.iter().rposition(|&d| d != b'0').unwrap_or(first_nonzero);
    let significant = &digits[first_nonzero..=last_nonzero];
    // Position of the decimal point relative to the first significant digit.
    let point = (int_digits.len() as i64).saturating_sub(first_nonzero as i64).saturating_add(exp);
    if point < significant.len() as i64 {
        return Integral::NotInteger;
    }
    if point > 19 {
        return Integral::OutOfRange;
    }
    let mut value: i128 = significant.iter().fold(0, |acc, d| acc * 10 + i128::from(d - b'0'));
    for _ in significant.len() as i64..point {
        value *= 10;
    }
    if negative {
        value = -value;
    }
    i64::try_from(value).map_or(Integral::OutOfRange, Integral::Value)
}

impl JsonValue {
    /// The value's JSON path, e.g. `levels.level1.segments[0].value`, for custom errors.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A 400 about this value: `field '<path>' <predicate>`.
    pub fn error(&self, predicate: impl fmt::Display) -> ApiError {
        field_error(&self.path, predicate)
    }

    /// The JSON type of the value.
    pub fn kind(&self) -> JsonKind {
        match self.node() {
            Node::Null => JsonKind::Null,
            Node::Bool(_) => JsonKind::Bool,
            Node::Number(_) => JsonKind::Number,
            Node::String(_) => JsonKind::String,
            Node::Array(_) => JsonKind::Array,
            Node::Object(_) => JsonKind::Object,
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.node(), Node::Null)
    }

    /// A string → `field '<path>' must be a string` otherwise.
    pub fn string(&self) -> Result<String, ApiError> {
        match self.node() {
            Node::String(s) => Ok(s.clone()),
            _ => Err(self.error("must be a string")),
        }
    }

    /// A string of `min..=max` characters → `field '<path>' must be a string of 1 to 128 characters`.
    pub fn string_len(&self, min: usize, max: usize) -> Result<String, ApiError> {
        match self.node() {
            Node::String(s) if (min..=max).contains(&s.chars().count()) => Ok(s.clone()),
            _ => Err(self.error(format_args!("must be a string of {min} to {max} characters"))),
        }
    }

    /// A boolean → `field '<path>' must be a boolean` otherwise.
    pub fn boolean(&self) -> Result<bool, ApiError> {
        match self.node() {
            Node::Bool(b) => Ok(*b),
            _ => Err(self.error("must be a boolean")),
        }
    }

    /// A JSON integer written without fraction or exponent (§1.6: `40`, not `40.0` or
    /// `4e1`) → `field '<path>' must be an integer`; beyond i64 → `field '<path>' is out of range`.
    pub fn integer(&self) -> Result<i64, ApiError> {
        self.integral_or_error(self.strict_integral())
    }

    /// An integer as [`JsonValue::integer`] within `min..=max` →
    /// `field '<path>' must be an integer from 1 to 365` when outside.
    pub fn integer_in(&self, min: i64, max: i64) -> Result<i64, ApiError> {
        self.integral_in(self.strict_integral(), min, max)
    }

    /// The lenient integer of `lineCount` (§13.1): also accepts an integral number with
    /// fraction or exponent (`40.0`, `4e1`) and a string of ASCII digits (`"40"`).
    pub fn lenient_integer(&self) -> Result<i64, ApiError> {
        self.integral_or_error(self.lenient_integral())
    }

    /// [`JsonValue::lenient_integer`] within `min..=max`, with the message of [`JsonValue::integer_in`].
    pub fn lenient_integer_in(&self, min: i64, max: i64) -> Result<i64, ApiError> {
        self.integral_in(self.lenient_integral(), min, max)
    }

    /// The value as a strict integer: only number text without `.`, `e` or `E` qualifies.
    fn strict_integral(&self) -> Integral {
        match self.node() {
            Node::Number(raw) if !raw.contains(['.', 'e', 'E']) => integral_value(raw),
            _ => Integral::NotInteger,
        }
    }

    /// The value as a lenient integer: any integral number, or a string of ASCII digits.
    fn lenient_integral(&self) -> Integral {
        match self.node() {
            Node::Number(raw) => integral_value(raw),
            // Digits only (no sign, no spaces), which is also valid JSON number text.
            Node::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => integral_value(s),
            _ => Integral::NotInteger,
        }
    }

    fn integral_or_error(&self, integral: Integral) -> Result<i64, ApiError> {
        match integral {
            Integral::Value(n) => Ok(n),
            Integral::NotInteger => Err(self.error("must be an integer")),
            Integral::OutOfRange => Err(self.error("is out of range")),
        }
    }

    fn integral_in(&self, integral: Integral, min: i64, max: i64) -> Result<i64, ApiError> {
        match integral {
            Integral::Value(n) if (min..=max).contains(&n) => Ok(n),
            // An integer beyond i64 is outside any range we check, so it gets the range message.
            Integral::Value(_) | Integral::OutOfRange => {
                Err(self.error(format_args!("must be an integer from {min} to {max}")))
            }
            Integral::NotInteger => Err(self.error("must be an integer")),
        }
    }

    /// Any finite number → `field '<path>' must be a number`; overflowing → `is out of range`.
    pub fn number(&self) -> Result<f64, ApiError> {
        match self.node() {
            Node::Number(raw) => match raw.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(self.error("is out of range")),
            },
            _ => Err(self.error("must be a number")),
        }
    }

    /// A number's text exactly as the client wrote it (e.g. to echo `2.5` as a key).
    pub fn number_text(&self) -> Result<&str, ApiError> {
        match self.node() {
            Node::Number(raw) => Ok(raw),
            _ => Err(self.error("must be a number")),
        }
    }

    /// One of `allowed` (exact, case-sensitive) →
    /// `field 'dateSplit' must be one of: day, week, month, null` (`null` listed when optional).
    pub fn enum_of<'s>(&self, allowed: &[&'s str]) -> Result<&'s str, ApiError> {
        match self.node() {
            Node::String(s) => allowed.iter().find(|a| **a == s.as_str()).copied(),
            _ => None,
        }
        .ok_or_else(|| self.enum_error(allowed.iter().copied()))
    }

    /// Like [`JsonValue::enum_of`], mapping each accepted spelling to a value.
    pub fn one_of<T: Copy>(&self, choices: &[(&str, T)]) -> Result<T, ApiError> {
        self.one_of_or_alias(choices, &[])
    }

    /// Like [`JsonValue::one_of`], also accepting older spellings (§1.11) that the error
    /// message does not advertise, e.g. `("usageCounts", DataView::UsageCount)`.
    pub fn one_of_or_alias<T: Copy>(&self, choices: &[(&str, T)], aliases: &[(&str, T)]) -> Result<T, ApiError> {
        match self.node() {
            Node::String(s) => choices.iter().chain(aliases).find(|(name, _)| *name == s.as_str()).map(|(_, v)| *v),
            _ => None,
        }
        .ok_or_else(|| self.enum_error(choices.iter().map(|(name, _)| *name)))
    }

    /// A date per §1.10 (`YYYY-MM-DD`, `NOW`, `NOW-<n>`) →
    /// `field 'startDate' must be a date written as YYYY-MM-DD, NOW or NOW-<n>` and similar.
    pub fn report_date(&self, today: NaiveDate) -> Result<NaiveDate, ApiError> {
        match self.node() {
            Node::String(s) => parse_report_date(s, today).map_err(|e| self.error(e)),
            _ => Err(self.error(crate::dates::DateError::Format)),
        }
    }

    /// An array → `field '<path>' must be an array` otherwise.
    pub fn array(&self) -> Result<JsonArray, ApiError> {
        match self.node() {
            Node::Array(_) => Ok(JsonArray { doc: Arc::clone(&self.doc), id: self.id, path: self.path.clone() }),
            _ => Err(self.error("must be an array")),
        }
    }

    /// An array of `min..=max` items → `field '<path>' must be an array of 1 to 3 items`.
    pub fn array_len(&self, min: usize, max: usize) -> Result<JsonArray, ApiError> {
        match self.array() {
            Ok(a) if (min..=max).contains(&a.len()) => Ok(a),
            _ => Err(self.error(format_args!("must be an array of {min} to {max} items"))),
        }
    }

    /// An object → `field '<path>' must be an object` otherwise.
    pub fn object(&self) -> Result<JsonObject, ApiError> {
        match self.node() {
            Node::Object(_) => Ok(JsonObject { doc: Arc::clone(&self.doc), id: self.id, path: self.path.clone() }),
            _ => Err(self.error("must be an object")),
        }
    }

    /// Accepts the value and everything inside it unread (fields taken for compatibility only).
    pub fn ignore(&self) {
        mark_subtree(&self.doc, self.id);
    }

    fn node(&self) -> &Node {
        &self.doc.nodes[self.id]
    }

    fn enum_error<'a>(&self, names: impl Iterator<Item = &'a str>) -> ApiError {
        let mut list: Vec<&str> = names.collect();
        if self.nullable {
            list.push("null");
        }
        self.error(format_args!("must be one of: {}", list.join(", ")))
    }
}

impl JsonArray {
    /// The array's JSON path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.item_ids().len()
    }

    /// Whether the array has no items.
    pub fn is_empty(&self) -> bool {
        self.item_ids().is_empty()
    }

    /// Item `i` (path `<array>[i]`), if it exists.
    pub fn get(&self, i: usize) -> Option<JsonValue> {
        self.item_ids().get(i).map(|&id| self.item(i, id))
    }

    /// The items with their indices, in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, JsonValue)> + '_ {
        self.item_ids().iter().enumerate().map(|(i, &id)| (i, self.item(i, id)))
    }

    /// The items, in order.
    pub fn items(&self) -> Vec<JsonValue> {
        self.iter().map(|(_, v)| v).collect()
    }

    fn item_ids(&self) -> &[usize] {
        match &self.doc.nodes[self.id] {
            Node::Array(items) => items,
            _ => &[],
        }
    }

    fn item(&self, i: usize, id: usize) -> JsonValue {
        mark(&self.doc, id);
        JsonValue { doc: Arc::clone(&self.doc), id, path: format!("{}[{i}]", self.path), nullable: false }
    }
}

impl fmt::Debug for JsonObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonObject").field("path", &self.path).field("len", &self.len()).finish()
    }
}

impl fmt::Debug for JsonValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonValue").field("path", &self.path).field("kind", &self.kind()).finish()
    }
}

impl fmt::Debug for JsonArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonArray").field("path", &self.path).field("len", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::{parse_iso_date, validate_range};
    use crate::periods::DateSplit;
    use proptest::prelude::*;

    fn parse(text: &str) -> JsonObject {
        JsonObject::parse_body(text.as_bytes()).expect("valid test body")
    }

    fn reason<T: fmt::Debug>(r: Result<T, ApiError>) -> String {
        let err = r.expect_err("an error");
        assert_eq!(err.http_status(), 400, "{err}");
        err.reason
    }

    fn d(s: &str) -> NaiveDate {
        parse_iso_date(s).expect("test date")
    }

    // ---- bodies ----

    #[test]
    fn body_must_be_utf8_json_object() {
        assert_eq!(reason(JsonObject::parse_body(b"{\"a\":\"\xff\"}")), "request body is not valid UTF-8");
        assert_eq!(
            reason(JsonObject::parse_body(b"{\"a\":1,}")),
            "request body is not valid JSON: expected a string key at line 1 column 8"
        );
        assert_eq!(
            reason(JsonObject::parse_body(b"")),
            "request body is not valid JSON: expected a value at line 1 column 1"
        );
        assert_eq!(reason(JsonObject::parse_body(b"[]")), "request body must be a JSON object");
        assert_eq!(reason(JsonObject::parse_body(b"\"x\"")), "request body must be a JSON object");
        assert_eq!(reason(JsonObject::parse_body(b"null")), "request body must be a JSON object");
        assert_eq!(
            reason(JsonObject::parse_document(b"{", "query parameter 'query'")),
            "query parameter 'query' is not valid JSON: expected a string key at line 1 column 2"
        );
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(reason(JsonObject::parse_body(deep.as_bytes())), "request body is nested more than 128 levels deep");
    }

    #[test]
    fn absent_body_may_be_empty_object() {
        let root = JsonObject::parse_body_or_empty(b"").expect("empty is {}");
        assert!(root.is_empty());
        assert_eq!(root.optional("pageSize").map(|v| v.is_none()), Ok(true));
        assert_eq!(reason(root.required("startDate")), "field 'startDate' is required");
        assert_eq!(root.finish(), Ok(()));
        assert_eq!(
            reason(JsonObject::parse_body_or_empty(b" ")),
            "request body is not valid JSON: expected a value at line 1 column 2"
        );
    }

    #[test]
    fn duplicate_keys_are_rejected_with_path() {
        assert_eq!(
            reason(JsonObject::parse_body(br#"{"startDate":"NOW","startDate":"NOW"}"#)),
            "duplicate field 'startDate'"
        );
        assert_eq!(
            reason(JsonObject::parse_body(br#"{"levels":{"level1":{"property":"a","property":"b"}}}"#)),
            "duplicate field 'levels.level1.property'"
        );
        assert_eq!(reason(JsonObject::parse_body(br#"{"a":[{"x":1},{"x":1,"x":2}]}"#)), "duplicate field 'a[1].x'");
        // Escapes are decoded before comparing, so "\u0061" duplicates "a".
        assert_eq!(reason(JsonObject::parse_body(br#"{"a":1,"\u0061":2}"#)), "duplicate field 'a'");
    }

    // ---- presence ----

    #[test]
    fn required_optional_and_null() {
        let root = parse(r#"{"startDate":null,"dateSplit":null,"divisor":"x"}"#);
        assert_eq!(reason(root.required("startDate")), "field 'startDate' is required");
        assert_eq!(reason(root.required("stopDate")), "field 'stopDate' is required");
        assert!(root.optional("dateSplit").expect("ok").is_none());
        assert!(root.optional("levels").expect("ok").is_none());
        assert_eq!(root.optional("divisor").expect("ok").map(|v| v.path().to_owned()), Some("divisor".to_owned()));
        // Everything was looked at, including the nulls.
        assert_eq!(root.finish(), Ok(()));
    }

    #[test]
    fn present_and_required_nullable_keep_null() {
        let root = parse(r#"{"expiryDate":null,"quota":5,"category":null}"#);
        assert!(root.present("expiryDate").is_some_and(|v| v.is_null()));
        assert!(root.present("notes").is_none());
        assert_eq!(root.present("quota").map(|v| v.integer()), Some(Ok(5)));
        assert!(root.required_nullable("category").expect("present").is_none());
        assert_eq!(reason(root.required_nullable("name")), "field 'name' is required");
        assert_eq!(root.finish(), Ok(()));
    }

    // ---- types ----

    #[test]
    fn type_errors_name_the_field() {
        let root = parse(r#"{"s":1,"b":"true","n":"1","a":{},"o":[],"i":"40"}"#);
        assert_eq!(reason(root.required("s").and_then(|v| v.string())), "field 's' must be a string");
        assert_eq!(reason(root.required("b").and_then(|v| v.boolean())), "field 'b' must be a boolean");
        assert_eq!(reason(root.required("n").and_then(|v| v.number())), "field 'n' must be a number");
        assert_eq!(reason(root.required("a").and_then(|v| v.array())), "field 'a' must be an array");
        assert_eq!(reason(root.required("o").and_then(|v| v.object())), "field 'o' must be an object");
        assert_eq!(reason(root.required("i").and_then(|v| v.integer())), "field 'i' must be an integer");
    }

    #[test]
    fn integers_only_as_plain_json_integers() {
        let root = parse(r#"{"a":40,"b":40.0,"c":4e1,"d":-3,"e":-0,"f":4.5,"g":true,"h":99999999999999999999,"i":0}"#);
        let int = |k: &str| root.required(k).and_then(|v| v.integer());
        assert_eq!(int("a"), Ok(40));
        assert_eq!(reason(int("b")), "field 'b' must be an integer");
        assert_eq!(reason(int("c")), "field 'c' must be an integer");
        assert_eq!(int("d"), Ok(-3));
        assert_eq!(int("e"), Ok(0));
        assert_eq!(reason(int("f")), "field 'f' must be an integer");
        assert_eq!(reason(int("g")), "field 'g' must be an integer");
        assert_eq!(reason(int("h")), "field 'h' is out of range");
        let days = |k: &str| root.required(k).and_then(|v| v.integer_in(1, 365));
        assert_eq!(days("a"), Ok(40));
        assert_eq!(reason(days("i")), "field 'i' must be an integer from 1 to 365");
        assert_eq!(reason(days("h")), "field 'h' must be an integer from 1 to 365");
        assert_eq!(reason(days("b")), "field 'b' must be an integer");
    }

    #[test]
    fn days_until_declared_lost_example() {
        let root = parse(r#"{"daysUntilDeclaredLost":40.0}"#);
        let got = root.optional("daysUntilDeclaredLost").and_then(|v| v.map(|v| v.integer_in(1, 365)).transpose());
        assert_eq!(reason(got), "field 'daysUntilDeclaredLost' must be an integer");
    }

    #[test]
    fn lenient_integer_for_line_count() {
        let root = parse(
            r#"{"a":40,"b":40.0,"c":4e1,"d":"40","e":40.5,"f":"4a","g":"","h":4000E-2,"i":0.4e2,"j":1e400,"k":"-4","l":40.0000000000000001,"m":0.0}"#,
        );
        let lenient = |k: &str| root.required(k).and_then(|v| v.lenient_integer_in(1, 1000));
        assert_eq!(lenient("a"), Ok(40));
        assert_eq!(lenient("b"), Ok(40));
        assert_eq!(lenient("c"), Ok(40));
        assert_eq!(lenient("d"), Ok(40));
        assert_eq!(reason(lenient("e")), "field 'e' must be an integer");
        assert_eq!(reason(lenient("f")), "field 'f' must be an integer");
        assert_eq!(reason(lenient("g")), "field 'g' must be an integer");
        assert_eq!(lenient("h"), Ok(40));
        assert_eq!(lenient("i"), Ok(40));
        assert_eq!(reason(lenient("j")), "field 'j' must be an integer from 1 to 1000");
        assert_eq!(reason(lenient("k")), "field 'k' must be an integer");
        assert_eq!(reason(lenient("l")), "field 'l' must be an integer");
        assert_eq!(reason(lenient("m")), "field 'm' must be an integer from 1 to 1000");
        assert_eq!(
            root.required("j").and_then(|v| v.lenient_integer()).map_err(|e| e.reason),
            Err("field 'j' is out of range".into())
        );
    }

    #[test]
    fn integral_value_edges() {
        let v = |s: &str| match integral_value(s) {
            Integral::Value(n) => Some(n),
            _ => None,
        };
        assert_eq!(v("9223372036854775807"), Some(i64::MAX));
        assert_eq!(v("-9223372036854775808"), Some(i64::MIN));
        assert!(matches!(integral_value("9223372036854775808"), Integral::OutOfRange));
        assert!(matches!(integral_value("1e99999999999999999999"), Integral::OutOfRange));
        assert!(matches!(integral_value("1e-99999999999999999999"), Integral::NotInteger));
        assert_eq!(v("0e5"), Some(0));
        assert_eq!(v("-0.0"), Some(0));
        assert_eq!(v("1.5e1"), Some(15));
        assert_eq!(v("100e-2"), Some(1));
        assert_eq!(v("120e-1"), Some(12));
        assert_eq!(v("0.001e3"), Some(1));
        assert!(matches!(integral_value("0.0011e3"), Integral::NotInteger));
    }

    #[test]
    fn numbers_and_their_text() {
        let root = parse(r#"{"a":2.5,"b":-1e3,"c":1e400,"d":4}"#);
        assert_eq!(root.required("a").and_then(|v| v.number()), Ok(2.5));
        assert_eq!(root.required("b").and_then(|v| v.number()), Ok(-1000.0));
        assert_eq!(reason(root.required("c").and_then(|v| v.number())), "field 'c' is out of range");
        assert_eq!(root.required("a").map(|v| v.number_text().map(str::to_owned)), Ok(Ok("2.5".to_owned())));
        assert_eq!(root.required("d").map(|v| v.kind()), Ok(JsonKind::Number));
    }

    #[test]
    fn strings_with_length() {
        let root = parse(r#"{"a":"","b":"héllo","c":5}"#);
        assert_eq!(
            reason(root.required("a").and_then(|v| v.string_len(1, 128))),
            "field 'a' must be a string of 1 to 128 characters"
        );
        assert_eq!(root.required("b").and_then(|v| v.string_len(1, 5)), Ok("héllo".to_owned()));
        assert_eq!(
            reason(root.required("c").and_then(|v| v.string_len(1, 5))),
            "field 'c' must be a string of 1 to 5 characters"
        );
    }

    // ---- enums ----

    #[test]
    fn enum_errors_list_values_and_null_when_optional() {
        let root = parse(r#"{"dateSplit":"year","dateReportedLost":"x","clientStatus":["new","gone"]}"#);
        let split = root.optional("dateSplit").and_then(|v| v.map(|v| v.one_of(&DateSplit::NAMES)).transpose());
        assert_eq!(reason(split), "field 'dateSplit' must be one of: day, week, month, null");
        let lost = root.required("dateReportedLost").and_then(|v| v.enum_of(&["dateLastSeen", "dateDeclaredLost"]));
        assert_eq!(reason(lost), "field 'dateReportedLost' must be one of: dateLastSeen, dateDeclaredLost");
        let statuses = root.required("clientStatus").and_then(|v| v.array()).and_then(|a| {
            a.iter().map(|(_, item)| item.enum_of(&["new", "active", "lost"])).collect::<Result<Vec<_>, _>>()
        });
        assert_eq!(reason(statuses), "field 'clientStatus[1]' must be one of: new, active, lost");
    }

    #[test]
    fn enum_values_are_case_sensitive_and_typed() {
        let root = parse(r#"{"a":"Day","b":1,"c":"week"}"#);
        assert!(root.required("a").and_then(|v| v.one_of(&DateSplit::NAMES)).is_err());
        assert_eq!(reason(root.required("b").and_then(|v| v.enum_of(&["x"]))), "field 'b' must be one of: x");
        assert_eq!(root.required("c").and_then(|v| v.one_of(&DateSplit::NAMES)), Ok(DateSplit::Week));
    }

    #[test]
    fn enum_aliases_are_accepted_but_not_advertised() {
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum Divisor {
            Sessions,
            UsageCounts,
        }
        let choices = [("sessions", Divisor::Sessions), ("usageCounts", Divisor::UsageCounts)];
        let aliases = [("usageCount", Divisor::UsageCounts)];
        let root = parse(r#"{"a":"usageCount","b":"usage"}"#);
        assert_eq!(root.required("a").and_then(|v| v.one_of_or_alias(&choices, &aliases)), Ok(Divisor::UsageCounts));
        assert_eq!(
            reason(root.optional("b").and_then(|v| v.map(|v| v.one_of_or_alias(&choices, &aliases)).transpose())),
            "field 'b' must be one of: sessions, usageCounts, null"
        );
    }

    // ---- unknown fields ----

    #[test]
    fn unknown_fields_name_their_path_in_document_order() {
        let root = parse(r#"{"levels":{"level1":{"property":"prodVersion","segmnts":[]}},"zzz":1}"#);
        let levels =
            root.optional("levels").and_then(|v| v.map(|v| v.object()).transpose()).expect("ok").expect("present");
        let level1 = levels.required("level1").and_then(|v| v.object()).expect("object");
        assert_eq!(level1.required("property").and_then(|v| v.string()), Ok("prodVersion".to_owned()));
        assert!(level1.optional("segments").expect("ok").is_none());
        assert_eq!(reason(root.finish()), "unknown field 'levels.level1.segmnts'");
        assert_eq!(reason(level1.finish()), "unknown field 'levels.level1.segmnts'");
    }

    #[test]
    fn first_unknown_in_document_order_wins() {
        let root = parse(r#"{"b":1,"x":2,"a":{"y":3},"z":4}"#);
        root.required("b").expect("present");
        root.required("a").expect("present");
        assert_eq!(reason(root.finish()), "unknown field 'x'");
        root.ignore("x");
        assert_eq!(reason(root.finish()), "unknown field 'a.y'");
        root.ignore("a");
        assert_eq!(reason(root.finish()), "unknown field 'z'");
    }

    #[test]
    fn unknown_fields_inside_arrays() {
        let root = parse(r#"{"segments":[{"type":"regex"},{"type":"regex","splt":true}]}"#);
        let segments = root.required("segments").and_then(|v| v.array()).expect("array");
        for (_, item) in segments.iter() {
            let seg = item.object().expect("object");
            seg.required("type").expect("present");
            seg.optional("split").expect("ok");
        }
        assert_eq!(reason(root.finish()), "unknown field 'segments[1].splt'");
    }

    #[test]
    fn unopened_objects_count_as_unknown_inside() {
        // Reading a member but never opening its object leaves its members unknown, so a
        // forgotten nested check shows up as a 400 in tests rather than silently passing.
        let root = parse(r#"{"globalFilters":{"prodVersion":{"type":"string"}}}"#);
        root.required("globalFilters").expect("present");
        assert_eq!(reason(root.finish()), "unknown field 'globalFilters.prodVersion'");
    }

    #[test]
    fn entries_read_data_keyed_objects() {
        let root = parse(
            r#"{"globalFilters":{"prodVersion":{"type":"string","value":"1.0"},"ram":{"type":"numberRange","min":1}}}"#,
        );
        let filters = root.required("globalFilters").and_then(|v| v.object()).expect("object");
        let entries = filters.entries();
        assert_eq!(
            entries.iter().map(|(k, v)| (k.as_str(), v.path())).collect::<Vec<_>>(),
            [("prodVersion", "globalFilters.prodVersion"), ("ram", "globalFilters.ram")]
        );
        for (_, v) in &entries {
            let filter = v.object().expect("object");
            filter.required("type").expect("present");
            filter.optional("value").expect("ok");
        }
        assert_eq!(reason(root.finish()), "unknown field 'globalFilters.ram.min'");
    }

    // ---- tolerated fields and spellings ----

    #[test]
    fn v2_fields_are_tolerated() {
        let product = ProductId::parse("2376158762").expect("valid");
        let ok = |body: &str| {
            let root = parse(body);
            root.accept_v2_fields(&product).and_then(|()| root.finish())
        };
        assert_eq!(ok(r#"{"user":{"name":"x"},"sessionId":"abc","productId":"2376158762"}"#), Ok(()));
        assert_eq!(ok(r#"{"productId":2376158762}"#), Ok(()));
        assert_eq!(ok(r#"{"productId":null}"#), Ok(()));
        assert_eq!(
            reason(ok(r#"{"productId":"2376158763"}"#)),
            "field 'productId' does not match the product id in the path"
        );
        assert_eq!(
            reason(ok(r#"{"productId":2376158763}"#)),
            "field 'productId' does not match the product id in the path"
        );
        assert_eq!(reason(ok(r#"{"productId":-1}"#)), "field 'productId' does not match the product id in the path");
        assert_eq!(reason(ok(r#"{"productId":true}"#)), "field 'productId' must be a string or an integer");
        assert_eq!(reason(ok(r#"{"productId":2376158762.0}"#)), "field 'productId' must be a string or an integer");
        // Only at top level.
        let root = parse(r#"{"levels":{"user":1}}"#);
        root.accept_v2_fields(&product).expect("no productId");
        root.required("levels").and_then(|v| v.object()).expect("object");
        assert_eq!(reason(root.finish()), "unknown field 'levels.user'");
        // Leading zeros: the number 42 is product 0000000042.
        let small = ProductId::parse("0000000042").expect("valid");
        assert_eq!(parse(r#"{"productId":42}"#).accept_v2_fields(&small), Ok(()));
    }

    #[test]
    fn spelling_variants() {
        let root = parse(r#"{"reqDailyData":{"startDate":"NOW"}}"#);
        let daily = root.optional_alias("retDailyData", &["reqDailyData"]).expect("ok").expect("present");
        assert_eq!(daily.path(), "reqDailyData");
        daily.ignore();
        assert_eq!(root.finish(), Ok(()));

        let both = parse(r#"{"keyUpdates":[{"licenseKey":"K","blacklisted":true,"blocked":false}]}"#);
        let item = both.required("keyUpdates").and_then(|v| v.array()).map(|a| a.items()).expect("array");
        let item = item[0].object().expect("object");
        assert_eq!(
            reason(item.optional_alias("blocked", &["blacklisted"])),
            "fields 'keyUpdates[0].blacklisted' and 'keyUpdates[0].blocked' are spellings of the same field; send only one"
        );

        let none = parse("{}");
        assert!(none.optional_alias("retDailyData", &["reqDailyData"]).expect("ok").is_none());
        assert_eq!(reason(none.required_alias("reachoutId", &["reachoutID"])), "field 'reachoutId' is required");
        let old = parse(r#"{"reachoutID":"r1"}"#);
        assert_eq!(old.required_alias("reachoutId", &["reachoutID"]).and_then(|v| v.string()), Ok("r1".to_owned()));
        // Null counts as sent: both spellings present is an error even if one is null.
        assert!(parse(r#"{"a":null,"b":1}"#).optional_alias("a", &["b"]).is_err());
        assert!(parse(r#"{"b":null}"#).optional_alias("a", &["b"]).expect("ok").is_none());
    }

    // ---- dates, arrays, custom messages ----

    #[test]
    fn dates_in_fields() {
        let today = d("2024-03-20");
        let root = parse(r#"{"a":"NOW-1","b":"2024-02-30","c":"NOW+1","d":20240101,"e":"NOW-40000"}"#);
        let date = |k: &str| root.required(k).and_then(|v| v.report_date(today));
        assert_eq!(date("a"), Ok(d("2024-03-19")));
        assert_eq!(reason(date("b")), "field 'b' is not a valid calendar date");
        assert_eq!(reason(date("c")), "field 'c' must be a date written as YYYY-MM-DD, NOW or NOW-<n>");
        assert_eq!(reason(date("d")), "field 'd' must be a date written as YYYY-MM-DD, NOW or NOW-<n>");
        assert_eq!(
            reason(date("e")),
            "field 'e' must not go back more than 36500 days (NOW-<n> with n from 0 to 36500)"
        );
    }

    #[test]
    fn arrays() {
        let root = parse(r#"{"a":[],"b":[1,2,3,4],"c":[[1,2]]}"#);
        assert_eq!(
            reason(root.required("a").and_then(|v| v.array_len(1, 3))),
            "field 'a' must be an array of 1 to 3 items"
        );
        assert_eq!(
            reason(root.required("b").and_then(|v| v.array_len(1, 3))),
            "field 'b' must be an array of 1 to 3 items"
        );
        let c = root.required("c").and_then(|v| v.array()).expect("array");
        assert_eq!((c.len(), c.is_empty(), c.path()), (1, false, "c"));
        let inner = c.get(0).and_then(|v| v.array().ok()).expect("inner array");
        assert_eq!(inner.get(1).map(|v| v.path().to_owned()), Some("c[0][1]".to_owned()));
        assert!(inner.get(2).is_none());
    }

    #[test]
    fn custom_errors_use_the_path() {
        let root = parse(r#"{"levels":{"level1":{"segments":[{"type":"regex","value":"("}]}}}"#);
        let value = root
            .required("levels")
            .and_then(|v| v.object())
            .and_then(|o| o.required("level1"))
            .and_then(|v| v.object())
            .and_then(|o| o.required("segments"))
            .and_then(|v| v.array())
            .map(|a| a.items())
            .expect("segments");
        let seg = value[0].object().expect("object");
        let pattern = seg.required("value").expect("present");
        assert_eq!(pattern.path(), "levels.level1.segments[0].value");
        assert_eq!(
            pattern.error("is not a valid regular expression").reason,
            "field 'levels.level1.segments[0].value' is not a valid regular expression"
        );
        assert_eq!(seg.path(), "levels.level1.segments[0]");
    }

    #[test]
    fn reader_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<JsonObject>();
        assert_send_sync::<JsonValue>();
        assert_send_sync::<JsonArray>();
    }

    // ---- a whole endpoint spec, as endpoints will write it ----

    #[derive(Debug, PartialEq)]
    struct DateRangeSpec {
        start: NaiveDate,
        stop: NaiveDate,
        split: Option<DateSplit>,
        statuses: Vec<&'static str>,
        days_until_lost: i64,
    }

    fn parse_date_range(body: &[u8], today: NaiveDate) -> Result<DateRangeSpec, ApiError> {
        let root = JsonObject::parse_body(body)?;
        let start = root.required("startDate")?.report_date(today)?;
        let stop = root.required("stopDate")?.report_date(today)?;
        let split = root.optional("dateSplit")?.map(|v| v.one_of(&DateSplit::NAMES)).transpose()?;
        let mut statuses = Vec::new();
        let list = root.required("clientStatus")?.array_len(1, 3)?;
        for (_, item) in list.iter() {
            let status = item.enum_of(&["new", "active", "lost"])?;
            if statuses.contains(&status) {
                return Err(item.error("repeats an earlier value"));
            }
            statuses.push(status);
        }
        let days_until_lost =
            root.optional("daysUntilDeclaredLost")?.map(|v| v.integer_in(1, 365)).transpose()?.unwrap_or(40);
        root.ignore("globalFilters");
        root.finish()?;
        validate_range(start, stop, d("2020-01-01"), split == Some(DateSplit::Day))?;
        Ok(DateRangeSpec { start, stop, split, statuses, days_until_lost })
    }

    #[test]
    fn date_range_spec_end_to_end() {
        let today = d("2024-03-20");
        let ok = parse_date_range(
            br#"{"startDate":"2024-01-01","stopDate":"NOW","dateSplit":"month","clientStatus":["active","new"],"globalFilters":{"x":1}}"#,
            today,
        );
        assert_eq!(
            ok,
            Ok(DateRangeSpec {
                start: d("2024-01-01"),
                stop: today,
                split: Some(DateSplit::Month),
                statuses: vec!["active", "new"],
                days_until_lost: 40
            })
        );
        let cases: [(&[u8], &str); 6] = [
            (br#"{"stopDate":"NOW","clientStatus":["new"]}"#, "field 'startDate' is required"),
            (
                br#"{"startDate":"NOW","stopDate":"NOW","clientStatus":["new","lost","new"]}"#,
                "field 'clientStatus[2]' repeats an earlier value",
            ),
            (
                br#"{"startDate":"NOW","stopDate":"NOW","clientStatus":[]}"#,
                "field 'clientStatus' must be an array of 1 to 3 items",
            ),
            (
                br#"{"startDate":"NOW","stopDate":"NOW","clientStatus":["new"],"daysUntilDeclaredLost":4e1}"#,
                "field 'daysUntilDeclaredLost' must be an integer",
            ),
            (
                br#"{"startDate":"NOW","stopDate":"NOW","clientStatus":["new"],"groupby":"x"}"#,
                "unknown field 'groupby'",
            ),
            (
                br#"{"startDate":"NOW","stopDate":"NOW-1","clientStatus":["new"]}"#,
                "startDate (2024-03-20) must not be after stopDate (2024-03-19)",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(reason(parse_date_range(body, today)), expected);
        }
    }

    // ---- the parser against serde_json ----

    fn to_serde(v: &JsonValue) -> serde_json::Value {
        match v.kind() {
            JsonKind::Null => serde_json::Value::Null,
            JsonKind::Bool => serde_json::Value::Bool(v.boolean().expect("bool")),
            // Rust's float parser is exact; serde_json's default one is not, so don't use it here.
            JsonKind::Number => {
                let text = v.number_text().expect("number");
                if let Ok(n) = text.parse::<u64>() {
                    serde_json::json!(n)
                } else if let Ok(n) = text.parse::<i64>() {
                    serde_json::json!(n)
                } else {
                    serde_json::json!(text.parse::<f64>().expect("float"))
                }
            }
            JsonKind::String => serde_json::Value::String(v.string().expect("string")),
            JsonKind::Array => {
                serde_json::Value::Array(v.array().expect("array").iter().map(|(_, item)| to_serde(&item)).collect())
            }
            JsonKind::Object => serde_json::Value::Object(
                v.object().expect("object").entries().iter().map(|(k, item)| (k.clone(), to_serde(item))).collect(),
            ),
        }
    }

    fn json_strategy() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            any::<u64>().prop_map(|n| serde_json::json!(n)),
            (-1e12f64..1e12).prop_map(|x| serde_json::json!(x)),
            any::<String>().prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("[a-zé\u{1F600}\"\\\\]{0,6}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parses_what_serde_json_writes(value in json_strategy()) {
            let body = serde_json::json!({ "v": value });
            for text in [serde_json::to_string(&body).expect("ser"), serde_json::to_string_pretty(&body).expect("ser"), crate::json::to_ascii_json(&body)] {
                let root = JsonObject::parse_body(text.as_bytes()).expect("valid JSON");
                let v = root.present("v").expect("present");
                prop_assert_eq!(&to_serde(&v), &body["v"]);
                prop_assert_eq!(root.finish(), Ok(()));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(root) = JsonObject::parse_body(&bytes) {
                let _ = root.finish();
            }
        }

        #[test]
        fn agrees_with_serde_json_on_validity(text in r#"[\[\]{}",:0-9a-z.eE+\- \\]{0,24}"#) {
            let ours = syntax::parse(&text);
            let theirs = serde_json::from_str::<serde_json::Value>(&text);
            // serde_json keeps the last of duplicate keys; we reject them, so skip those.
            if !matches!(ours, Err(SyntaxError::Duplicate(_))) {
                prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{}", text);
            }
        }
    }
}
