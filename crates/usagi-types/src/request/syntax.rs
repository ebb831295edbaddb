//! A strict JSON parser producing the document tree the request reader walks.
//!
//! Our own parser rather than `serde_json::Value` because the API needs what serde's data
//! model loses or hides:
//! - duplicate keys must be rejected, naming their path (`Value` silently keeps the last);
//! - integers must be told from `40.0` and `4e1` by their text, and huge integers must not
//!   silently become floats;
//! - errors must come in document order, which a single left-to-right pass gives for free.
//!
//! Nodes are stored in pre-order, so a node's index is its position in the document.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;

/// Deepest nesting of arrays and objects accepted; serde_json uses the same limit, and it
/// keeps the recursive parser and tree walks far from the stack's end.
pub(crate) const MAX_DEPTH: usize = 128;

/// One JSON value; containers refer to their children by node index.
#[derive(Debug)]
pub(crate) enum Node {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, kept as written so integers can be told from `40.0` or `4e1`.
    Number(Box<str>),
    /// A string, unescaped.
    String(String),
    /// Item node indices in order.
    Array(Vec<usize>),
    /// Members (key, value node index) in document order; keys are unique.
    Object(Vec<(String, usize)>),
}

/// A parsed document: nodes in pre-order plus a "read" flag per node.
///
/// The flags are atomics only so that the reader types are `Send + Sync` and can live in
/// async handlers; there is no concurrent access in practice, so ordering is relaxed.
#[derive(Debug)]
pub(crate) struct Doc {
    /// All nodes; index 0 is the root.
    pub(crate) nodes: Vec<Node>,
    /// Whether the request reader has consumed each node.
    pub(crate) read: Vec<AtomicBool>,
}

/// Why a text is not an acceptable JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyntaxError {
    /// Malformed JSON: what was expected and where (1-based line and character column).
    Malformed { expected: &'static str, line: usize, column: usize },
    /// The same key twice in one object; the path of the second occurrence.
    Duplicate(String),
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// Parses `text` as one JSON value with nothing but whitespace around it.
pub(crate) fn parse(text: &str) -> Result<Doc, SyntaxError> {
    let mut parser = Parser { text, pos: 0, nodes: Vec::new() };
    parser.skip_ws();
    let mut path = String::new();
    parser.value(&mut path, 0)?;
    parser.skip_ws();
    if parser.pos < text.len() {
        return Err(parser.malformed("end of input after the JSON value"));
    }
    let read = parser.nodes.iter().map(|_| AtomicBool::new(false)).collect();
    Ok(Doc { nodes: parser.nodes, read })
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    nodes: Vec<Node>,
}

impl<'a> Parser<'a> {
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// An error at the current position.
    fn malformed(&self, expected: &'static str) -> SyntaxError {
        let before = self.text.get(..self.pos).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        SyntaxError::Malformed { expected, line, column }
    }

    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Parses one value (after leading whitespace) and returns its node index.
    fn value(&mut self, path: &mut String, depth: usize) -> Result<usize, SyntaxError> {
        match self.peek() {
            Some(b'{') => self.object(path, depth + 1),
            Some(b'[') => self.array(path, depth + 1),
            Some(b'"') => {
                let s = self.string()?;
                Ok(self.push(Node::String(s)))
            }
            Some(b'-' | b'0'..=b'9') => {
                let raw = self.number()?;
                Ok(self.push(Node::Number(raw.into())))
            }
            Some(b't') => self.literal("true", Node::Bool(true)),
            Some(b'f') => self.literal("false", Node::Bool(false)),
            Some(b'n') => self.literal("null", Node::Null),
            _ => Err(self.malformed("a value")),
        }
    }

    fn literal(&mut self, word: &'static str, node: Node) -> Result<usize, SyntaxError> {
        if self.bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(self.push(node))
        } else {
            Err(self.malformed("a value"))
        }
    }

    fn object(&mut self, path: &mut String, depth: usize) -> Result<usize, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError::TooDeep);
        }
        // Reserve the object's slot first so that indices stay in document order.
        let id = self.push(Node::Null);
        self.pos += 1; // '{'
        let mut members: Vec<(String, usize)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.nodes[id] = Node::Object(members);
            return Ok(id);
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.malformed("a string key"));
            }
            let key = self.string()?;
            let base_len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&key);
            // Reported as soon as the second key is read, so it precedes any later error.
            if !seen.insert(key.clone()) {
                return Err(SyntaxError::Duplicate(path.clone()));
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.malformed("':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let child = self.value(path, depth)?;
            path.truncate(base_len);
            members.push((key, child));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.malformed("',' or '}'")),
            }
        }
        self.nodes[id] = Node::Object(members);
        Ok(id)
    }

    fn array(&mut self, path: &mut String, depth: usize) -> Result<usize, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError::TooDeep);
        }
        let id = self.push(Node::Null);
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.nodes[id] = Node::Array(items);
            return Ok(id);
        }
        loop {
            self.skip_ws();
            let base_len = path.len();
            path.push_str(&format!("[{}]", items.len()));
            let child = self.value(path, depth)?;
            path.truncate(base_len);
            items.push(child);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.malformed("',' or ']'")),
            }
        }
        self.nodes[id] = Node::Array(items);
        Ok(id)
    }

    /// Parses a string starting at its opening quote.
    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.malformed("a closing '\"'"));
            };
            match b {
                b'"' => {
                    // Quotes and backslashes are ASCII, so these slices fall on char boundaries.
                    out.push_str(&self.text[run_start..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run_start..self.pos]);
                    self.pos += 1;
                    out.push(self.escape()?);
                    run_start = self.pos;
                }
                0x00..=0x1f => return Err(self.malformed("no control character inside a string")),
                _ => self.pos += 1,
            }
        }
    }

    /// Parses the escape after a backslash.
    fn escape(&mut self) -> Result<char, SyntaxError> {
        let Some(b) = self.peek() else {
            return Err(self.malformed("an escape sequence"));
        };
        self.pos += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                match first {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by an escaped low surrogate.
                        if self.peek() != Some(b'\\') || self.bytes().get(self.pos + 1) != Some(&b'u') {
                            return Err(self.malformed("a low surrogate escape after a high surrogate"));
                        }
                        self.pos += 2;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(self.malformed("a low surrogate escape after a high surrogate"));
                        }
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code).ok_or_else(|| self.malformed("a valid unicode escape"))?
                    }
                    0xDC00..=0xDFFF => return Err(self.malformed("a high surrogate before a low surrogate escape")),
                    _ => char::from_u32(first).ok_or_else(|| self.malformed("a valid unicode escape"))?,
                }
            }
            _ => {
                self.pos -= 1;
                return Err(self.malformed("a valid escape sequence"));
            }
        })
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = self.peek().and_then(|b| char::from(b).to_digit(16));
            let Some(digit) = digit else {
                return Err(self.malformed("four hexadecimal digits"));
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    /// Checks the JSON number grammar and returns the number's text.
    fn number(&mut self) -> Result<&'a str, SyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.malformed("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.malformed("a digit after the decimal point"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.malformed("a digit in the exponent"));
            }
            self.digits();
        }
        let text: &'a str = self.text;
        Ok(&text[start..self.pos])
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn malformed(text: &str) -> (&'static str, usize, usize) {
        match parse(text) {
            Err(SyntaxError::Malformed { expected, line, column }) => (expected, line, column),
            other => panic!("expected a syntax error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn nodes_are_in_document_order() {
        let doc = parse(r#"{"a":[1,{"b":null}],"c":"x"}"#).expect("valid");
        assert_eq!(doc.nodes.len(), 6);
        assert!(
            matches!(&doc.nodes[0], Node::Object(m) if m.iter().map(|(k, i)| (k.as_str(), *i)).eq([("a", 1), ("c", 5)]))
        );
        assert!(matches!(&doc.nodes[1], Node::Array(items) if items == &[2, 3]));
        assert!(matches!(&doc.nodes[2], Node::Number(n) if &**n == "1"));
        assert!(matches!(&doc.nodes[3], Node::Object(m) if m.len() == 1));
        assert!(matches!(&doc.nodes[4], Node::Null));
        assert!(matches!(&doc.nodes[5], Node::String(s) if s == "x"));
    }

    #[test]
    fn strings_unescape() {
        let doc = parse(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00é""#).expect("valid");
        assert!(matches!(&doc.nodes[0], Node::String(s) if s == "a\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{1F600}\u{e9}"));
    }

    #[test]
    fn numbers_keep_their_text() {
        for text in ["0", "-0", "40", "40.0", "4e1", "4E+1", "1.5e-3", "123456789012345678901234567890"] {
            let doc = parse(text).expect("valid");
            assert!(matches!(&doc.nodes[0], Node::Number(n) if &**n == text), "{text}");
        }
    }

    #[test]
    fn malformed_documents() {
        assert_eq!(malformed(""), ("a value", 1, 1));
        assert_eq!(malformed("{"), ("a string key", 1, 2));
        assert_eq!(malformed(r#"{"a" 1}"#), ("':'", 1, 6));
        assert_eq!(malformed("{\"a\":1,\n \"b\":2 \"c\"}"), ("',' or '}'", 2, 8));
        assert_eq!(malformed(r#"{"a":1,}"#), ("a string key", 1, 8));
        assert_eq!(malformed("[1,]"), ("a value", 1, 4));
        assert_eq!(malformed("[1 2]"), ("',' or ']'", 1, 4));
        assert_eq!(malformed("{} x"), ("end of input after the JSON value", 1, 4));
        assert_eq!(malformed("01"), ("end of input after the JSON value", 1, 2));
        assert_eq!(malformed("1."), ("a digit after the decimal point", 1, 3));
        assert_eq!(malformed(".5"), ("a value", 1, 1));
        assert_eq!(malformed("1e"), ("a digit in the exponent", 1, 3));
        assert_eq!(malformed("+1"), ("a value", 1, 1));
        assert_eq!(malformed("-"), ("a digit", 1, 2));
        assert_eq!(malformed("tru"), ("a value", 1, 1));
        assert_eq!(malformed("NaN"), ("a value", 1, 1));
        assert_eq!(malformed("\"abc"), ("a closing '\"'", 1, 5));
        assert_eq!(malformed("\"a\tb\""), ("no control character inside a string", 1, 3));
        assert_eq!(malformed(r#""\x""#), ("a valid escape sequence", 1, 3));
        assert_eq!(malformed(r#""\u12""#), ("four hexadecimal digits", 1, 6));
        assert_eq!(malformed(r#""\ud83d""#), ("a low surrogate escape after a high surrogate", 1, 8));
        assert_eq!(malformed(r#""\ud83d\u0041""#), ("a low surrogate escape after a high surrogate", 1, 14));
        assert_eq!(malformed(r#""\ude00""#), ("a high surrogate before a low surrogate escape", 1, 8));
        assert_eq!(malformed("\u{feff}{}"), ("a value", 1, 1));
        // Columns count characters, not bytes.
        assert_eq!(malformed(r#"{"é":1 x}"#), ("',' or '}'", 1, 8));
    }

    #[test]
    fn duplicates_name_their_path() {
        assert_eq!(parse(r#"{"a":1,"a":2}"#).err(), Some(SyntaxError::Duplicate("a".into())));
        assert_eq!(
            parse(r#"{"levels":{"level1":{"property":"x","segments":[{"type":"a","type":"b"}]}}}"#).err(),
            Some(SyntaxError::Duplicate("levels.level1.segments[0].type".into()))
        );
        // The duplicate comes first in document order, so it wins over the later syntax error.
        assert_eq!(parse(r#"{"a":1,"a":2,}"#).err(), Some(SyntaxError::Duplicate("a".into())));
        // The same key in sibling objects is fine.
        assert!(parse(r#"[{"a":1},{"a":2}]"#).is_ok());
    }

    #[test]
    fn depth_is_limited() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&deep).err(), Some(SyntaxError::TooDeep));
        let very_deep = "[".repeat(100_000);
        assert_eq!(parse(&very_deep).err(), Some(SyntaxError::TooDeep));
    }
}
