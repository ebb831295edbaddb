//! Output conventions shared by every response (spec §1.8, semantics §13).
//!
//! - Bodies are compact JSON in pure ASCII: every non-ASCII character is written as
//!   `\uXXXX` (a surrogate pair beyond the BMP), so clients that decode as Latin-1 still
//!   read correct strings.
//! - Member order is the struct field order, or insertion order for maps (the workspace
//!   builds `serde_json` with `preserve_order`), because the documented order is part of
//!   the contract.
//! - Floats are written without exponent and with at least one fractional digit; report
//!   numbers go through [`Float2`] (or [`Float3`]) which also rounds them half away from zero.

use std::io;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::ser::Formatter;

/// How a NULL property value is written in output and accepted in filters (§1.8, §3.2).
pub const NULL_TEXT: &str = "<NULL>";

/// Serialises `value` as compact, pure-ASCII JSON with the float conventions of §1.8.
///
/// Serialising a derived struct, a `serde_json::Value` or a map with string keys cannot
/// fail. Should a hand-written `Serialize` fail anyway (a programming error), this
/// returns the `SERVER ERROR` envelope instead of panicking inside a request; use
/// [`try_to_ascii_json`] to handle that case explicitly.
pub fn to_ascii_json<T: Serialize + ?Sized>(value: &T) -> String {
    match try_to_ascii_json(value) {
        Ok(text) => text,
        Err(err) => {
            debug_assert!(false, "response serialisation failed: {err}");
            r#"{"status":"SERVER ERROR","reason":"the response could not be serialised"}"#.to_owned()
        }
    }
}

/// Like [`to_ascii_json`], but reports a failing `Serialize` implementation.
pub fn try_to_ascii_json<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, AsciiFormatter);
    value.serialize(&mut ser)?;
    // The formatter only ever writes ASCII, so this conversion cannot fail; the lossy
    // fallback merely avoids an unwrap.
    Ok(String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// A `serde_json` formatter: compact (the trait's defaults), ASCII-only strings, exponent-free floats.
///
/// Escaping happens while writing (not by post-processing the text) so that only string
/// contents are touched and the work is done once.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsciiFormatter;

impl Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut run_start = 0;
        for (i, ch) in fragment.char_indices() {
            if ch.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[run_start..i])?;
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            run_start = i + ch.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[run_start..])
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        // serde_json writes NaN and infinity as `null` before reaching the formatter, so
        // only finite values arrive here.
        writer.write_all(plain_float_text(&value.to_string()).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(plain_float_text(&value.to_string()).as_bytes())
    }
}

/// Appends `.0` to Rust's shortest float text when it has no fractional part.
///
/// Rust's `Display` for floats is the shortest text that round-trips and never uses an
/// exponent, which is exactly the "shortest form" of §1.8 minus the mandatory fraction.
fn plain_float_text(shortest: &str) -> String {
    if shortest.contains('.') || !shortest.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        shortest.to_owned()
    } else {
        format!("{shortest}.0")
    }
}

/// Rounds `x` half away from zero to `decimals` decimal places, in decimal arithmetic.
///
/// Binary arithmetic such as `(x * 100.0).round() / 100.0` gets ties wrong because `1.005`
/// is stored as 1.00499999…; the API promises the rounding a person does on the printed
/// number, so the digits of the shortest round-trip text are rounded instead.
/// NaN and infinity give `0.0`, as does anything that rounds to zero (never `-0.0`).
pub fn round_half_away(x: f64, decimals: usize) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let text = x.abs().to_string();
    let (int_part, frac_part) = text.split_once('.').unwrap_or((text.as_str(), ""));
    if frac_part.len() <= decimals {
        return if x == 0.0 { 0.0 } else { x };
    }
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes().take(decimals)).collect();
    let first_dropped = frac_part.as_bytes().get(decimals).copied().unwrap_or(b'0');
    if first_dropped >= b'5' {
        // Decimal increment with carry; a carry out of the top digit prepends a 1.
        let mut carry = true;
        for d in digits.iter_mut().rev() {
            if *d == b'9' {
                *d = b'0';
            } else {
                *d += 1;
                carry = false;
                break;
            }
        }
        if carry {
            digits.insert(0, b'1');
        }
    }
    let split = digits.len() - decimals;
    let mut rounded = String::with_capacity(digits.len() + 2);
    rounded.extend(digits[..split].iter().map(|&b| char::from(b)));
    rounded.push('.');
    rounded.extend(digits[split..].iter().map(|&b| char::from(b)));
    let magnitude: f64 = rounded.parse().unwrap_or(0.0);
    if magnitude == 0.0 {
        0.0
    } else if x < 0.0 {
        -magnitude
    } else {
        magnitude
    }
}

/// A report float (average, ratio, percentage, sum, hours): rounded half away from zero
/// to 2 decimals when serialised, written as `2.0`, `0.5`, `1.01`; NaN/inf become `0.0`.
///
/// Rounding happens on output so that intermediate arithmetic stays exact (semantics §13:
/// round once, on the final value).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Float2(pub f64);

impl Float2 {
    /// The value exactly as it will be written.
    pub fn rounded(&self) -> f64 {
        round_half_away(self.0, 2)
    }
}

impl From<f64> for Float2 {
    fn from(x: f64) -> Self {
        Self(x)
    }
}

impl Serialize for Float2 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.rounded())
    }
}

impl<'de> Deserialize<'de> for Float2 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        f64::deserialize(d).map(Self)
    }
}

/// A size in KB: like [`Float2`] but with 3 decimals (§1.8).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Float3(pub f64);

impl Float3 {
    /// The value exactly as it will be written.
    pub fn rounded(&self) -> f64 {
        round_half_away(self.0, 3)
    }
}

impl From<f64> for Float3 {
    fn from(x: f64) -> Self {
        Self(x)
    }
}

impl Serialize for Float3 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.rounded())
    }
}

impl<'de> Deserialize<'de> for Float3 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        f64::deserialize(d).map(Self)
    }
}

/// `num / den` as a report float; division by zero gives `0.0` (semantics §13).
pub fn ratio(num: f64, den: f64) -> Float2 {
    if den == 0.0 {
        Float2(0.0)
    } else {
        Float2(num / den)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn f2(x: f64) -> String {
        to_ascii_json(&Float2(x))
    }

    #[test]
    fn ties_round_away_from_zero_in_decimal() {
        assert_eq!(f2(1.005), "1.01");
        assert_eq!(f2(2.675), "2.68");
        assert_eq!(f2(-1.005), "-1.01");
        assert_eq!(f2(0.125), "0.13");
        assert_eq!(f2(-0.125), "-0.13");
        assert_eq!(f2(1.0049999), "1.0");
        assert_eq!(f2(9.995), "10.0");
        assert_eq!(f2(-99.999), "-100.0");
    }

    #[test]
    fn shortest_form_with_one_fractional_digit() {
        assert_eq!(f2(2.0), "2.0");
        assert_eq!(f2(0.5), "0.5");
        assert_eq!(f2(0.50), "0.5");
        assert_eq!(f2(1.01), "1.01");
        assert_eq!(f2(100.0), "100.0");
        assert_eq!(f2(1e20), "100000000000000000000.0");
        assert_eq!(f2(1e-7), "0.0");
    }

    #[test]
    fn zero_nan_and_infinity_are_zero() {
        assert_eq!(f2(f64::NAN), "0.0");
        assert_eq!(f2(f64::INFINITY), "0.0");
        assert_eq!(f2(f64::NEG_INFINITY), "0.0");
        assert_eq!(f2(-0.0), "0.0");
        assert_eq!(f2(-0.004), "0.0");
    }

    #[test]
    fn ratio_handles_zero_divisor() {
        assert_eq!(to_ascii_json(&ratio(1.0, 0.0)), "0.0");
        assert_eq!(to_ascii_json(&ratio(0.0, 0.0)), "0.0");
        assert_eq!(to_ascii_json(&ratio(2.0, 3.0)), "0.67");
        assert_eq!(to_ascii_json(&ratio(10.0, 4.0)), "2.5");
    }

    #[test]
    fn float3_for_kilobytes() {
        assert_eq!(to_ascii_json(&Float3(1.0005)), "1.001");
        assert_eq!(to_ascii_json(&Float3(12.0)), "12.0");
        assert_eq!(to_ascii_json(&Float3(0.1234)), "0.123");
    }

    #[test]
    fn plain_floats_have_no_exponent() {
        assert_eq!(to_ascii_json(&1e21_f64), "1000000000000000000000.0");
        assert_eq!(to_ascii_json(&3.0_f32), "3.0");
        assert_eq!(to_ascii_json(&json!({"x": 1.5})), r#"{"x":1.5}"#);
    }

    #[test]
    fn non_ascii_is_escaped() {
        assert_eq!(to_ascii_json("\u{2264} 1"), r#""\u2264 1""#);
        assert_eq!(to_ascii_json("caf\u{e9}"), r#""caf\u00e9""#);
        assert_eq!(to_ascii_json("\u{1F600}"), r#""\ud83d\ude00""#);
        assert_eq!(to_ascii_json("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(to_ascii_json(&json!({"\u{e9}": "\u{e9}"})), r#"{"\u00e9":"\u00e9"}"#);
    }

    #[test]
    fn member_order_is_kept() {
        #[derive(Serialize)]
        struct Out {
            result: u32,
            reached_end: bool,
        }
        assert_eq!(to_ascii_json(&Out { result: 1, reached_end: true }), r#"{"result":1,"reached_end":true}"#);
        let mut map = serde_json::Map::new();
        map.insert("z".into(), json!(1));
        map.insert("a".into(), json!(2));
        assert_eq!(to_ascii_json(&map), r#"{"z":1,"a":2}"#);
    }

    /// Reference rounding on integers: `thousandths` / 1000 rounded half away to hundredths.
    fn reference_text(thousandths: i64) -> String {
        let mut q = thousandths.unsigned_abs() / 10;
        if thousandths.unsigned_abs() % 10 >= 5 {
            q += 1;
        }
        let sign = if thousandths < 0 && q != 0 { "-" } else { "" };
        let (int, frac) = (q / 100, q % 100);
        if frac == 0 {
            format!("{sign}{int}.0")
        } else if frac % 10 == 0 {
            format!("{sign}{int}.{}", frac / 10)
        } else {
            format!("{sign}{int}.{frac:02}")
        }
    }

    proptest! {
        #[test]
        fn output_parses_with_at_most_two_decimals(x in any::<f64>()) {
            let text = f2(x);
            let (int, frac) = text.split_once('.').expect("always a fractional part");
            prop_assert!(!frac.is_empty() && frac.len() <= 2, "{}", text);
            prop_assert!(frac.bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(int.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()));
            let parsed: f64 = text.parse().expect("a float");
            prop_assert_eq!(parsed, Float2(x).rounded());
        }

        #[test]
        fn matches_decimal_reference(thousandths in -10_000_000_000i64..10_000_000_000) {
            let abs = thousandths.unsigned_abs();
            let sign = if thousandths < 0 { "-" } else { "" };
            let x: f64 = format!("{sign}{}.{:03}", abs / 1000, abs % 1000).parse().expect("a float");
            prop_assert_eq!(f2(x), reference_text(thousandths));
        }

        #[test]
        fn output_is_always_ascii(s in any::<String>()) {
            let text = to_ascii_json(&s);
            prop_assert!(text.is_ascii());
            let back: String = serde_json::from_str(&text).expect("valid JSON");
            prop_assert_eq!(back, s);
        }
    }
}
