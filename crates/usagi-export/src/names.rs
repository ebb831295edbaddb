//! Export file names (reporting-api §13.2, §14, §16.1): what a name means and back.
//!
//! - raw data: `<productId>_<YYYY-MM-DD>.zip`
//! - custom events: `<productId>_cust_<YYYY-MM-DD>.zip`, monthly `<productId>_cust_<start>_to_<stop>.zip`
//! - exceptions: the same with `exc`

use std::fmt;

use chrono::NaiveDate;
use usagi_types::ProductId;

/// The three file families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Raw data exports (§16): sessions, events, exceptions and client properties.
    Raw,
    /// Custom events (§13).
    CustomEvents,
    /// Exceptions (§14).
    Exceptions,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 3] = [Family::Raw, Family::CustomEvents, Family::Exceptions];

    /// The tag in file names, none for raw data.
    fn tag(self) -> Option<&'static str> {
        match self {
            Family::Raw => None,
            Family::CustomEvents => Some("cust"),
            Family::Exceptions => Some("exc"),
        }
    }

    /// The store's directory name.
    pub fn dir(self) -> &'static str {
        match self {
            Family::Raw => "raw",
            Family::CustomEvents => "cust",
            Family::Exceptions => "exc",
        }
    }
}

/// What period a file covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Span {
    /// One receive day.
    Day(NaiveDate),
    /// The receive days `start..=stop` of one month (custom events and exceptions only).
    Month {
        /// First day (the 1st).
        start: NaiveDate,
        /// Last day.
        stop: NaiveDate,
    },
}

/// A parsed export file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileName {
    /// Product.
    pub product: ProductId,
    /// Family.
    pub family: Family,
    /// Period.
    pub span: Span,
}

impl FileName {
    /// A daily file.
    pub fn day(product: ProductId, family: Family, day: NaiveDate) -> Self {
        Self { product, family, span: Span::Day(day) }
    }

    /// A monthly file (custom events and exceptions).
    pub fn month(product: ProductId, family: Family, start: NaiveDate, stop: NaiveDate) -> Self {
        Self { product, family, span: Span::Month { start, stop } }
    }

    /// Parses a file name; `None` for anything that is not one of ours.
    pub fn parse(name: &str) -> Option<Self> {
        let stem = name.strip_suffix(".zip")?;
        let (pid, rest) = stem.split_once('_')?;
        let product = ProductId::parse(pid).ok()?;
        let (family, rest) = match rest.split_once('_') {
            Some(("cust", r)) => (Family::CustomEvents, r),
            Some(("exc", r)) => (Family::Exceptions, r),
            _ => (Family::Raw, rest),
        };
        let date = |s: &str| {
            // Exactly YYYY-MM-DD: chrono alone would also take unpadded fields.
            (s.len() == 10).then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).flatten()
        };
        let span = match rest.split_once("_to_") {
            Some((a, b)) if family != Family::Raw => {
                let (start, stop) = (date(a)?, date(b)?);
                let same_month = start.format("%Y-%m").to_string() == stop.format("%Y-%m").to_string();
                if start.format("%d").to_string() != "01" || stop < start || !same_month {
                    return None;
                }
                Span::Month { start, stop }
            }
            Some(_) => return None,
            None => Span::Day(date(rest)?),
        };
        let parsed = Self { product, family, span };
        // Only the canonical spelling names a file.
        (parsed.to_string() == name).then_some(parsed)
    }

    /// The name of the one CSV inside a custom-event or exception zip.
    pub fn csv_name(&self) -> String {
        let name = self.to_string();
        format!("{}.csv", name.trim_end_matches(".zip"))
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_", self.product.as_str())?;
        if let Some(tag) = self.family.tag() {
            write!(f, "{tag}_")?;
        }
        match self.span {
            Span::Day(d) => write!(f, "{}.zip", d.format("%Y-%m-%d")),
            Span::Month { start, stop } => write!(f, "{}_to_{}.zip", start.format("%Y-%m-%d"), stop.format("%Y-%m-%d")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn names_round_trip() {
        let p = ProductId::parse("2376158762").unwrap();
        for (name, parsed) in [
            ("2376158762_2024-03-19.zip", FileName::day(p, Family::Raw, d("2024-03-19"))),
            ("2376158762_cust_2024-03-19.zip", FileName::day(p, Family::CustomEvents, d("2024-03-19"))),
            ("2376158762_exc_2024-03-19.zip", FileName::day(p, Family::Exceptions, d("2024-03-19"))),
            (
                "2376158762_cust_2024-03-01_to_2024-03-19.zip",
                FileName::month(p, Family::CustomEvents, d("2024-03-01"), d("2024-03-19")),
            ),
        ] {
            assert_eq!(FileName::parse(name), Some(parsed), "{name}");
            assert_eq!(parsed.to_string(), name);
        }
        assert_eq!(
            FileName::parse("2376158762_exc_2024-03-19.zip").unwrap().csv_name(),
            "2376158762_exc_2024-03-19.csv"
        );
    }

    #[test]
    fn rejects_anything_else() {
        for name in [
            "",
            "2376158762_2024-03-19",
            "2376158762_2024-3-19.zip",
            "2376158762_2024-02-30.zip",
            "237615876_2024-03-19.zip",
            "2376158762_raw_2024-03-19.zip",
            "2376158762_2024-03-01_to_2024-03-19.zip",
            "2376158762_cust_2024-03-02_to_2024-03-19.zip",
            "2376158762_cust_2024-03-01_to_2024-04-01.zip",
            "2376158762_cust_2024-03-19_to_2024-03-01.zip",
            "../2376158762_2024-03-19.zip",
            "2376158762_2024-03-19.zip/..",
            "2376158762_cust_2024-03-19.zip.zip",
        ] {
            assert_eq!(FileName::parse(name), None, "{name}");
        }
    }
}
