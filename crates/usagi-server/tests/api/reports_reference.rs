//! Generic reports with `globalFilters` and `levels` against a naive reference written from
//! the spec alone (reporting-api §3, §4, §9.1–§9.2; semantics §5–§7).
//!
//! Each proptest case ingests a random small fleet into a fresh server and compares the
//! server's answers to [`reference`] for 14 random queries (dateRange and current), raw body
//! text included, so key order (statuses, periods, segments, split values) is checked too.
//!
//! Fleets: 2–9 installations active on random days of 03-01…03-19 (one sync per active day,
//! with an event), `properties` records (product version/edition with explicit or left-out
//! nulls, C01 including `""`, `"<NULL>"` and padded values, machine.cpuCores) and partial
//! `licenseData` records, several per day, sometimes written out of `t` order, sometimes all
//! with one `t` (batch index decides), and sometimes with the earliest one uploaded days later
//! in a batch of its own (a higher seq must not beat an earlier `t`; the upload day is a
//! contact). Queries: random statuses, N, dateReportedLost, split, ranges reaching past today,
//! 0–3 globalFilters and 0–3 levels (0–1 with a split), flag aliases `blacklisted`/`whitelisted`.
//!
//! Reference rules, in short:
//! - new/active/lost per period as in semantics §5–§6 (periods keyed by their start, clipped
//!   to the range, zero-filled; days after today hold no data);
//! - an installation is classified once per period P, with every standard property
//!   (prodVersion, prodEdition, C01, licenseType, licenseStatus flags) taken at the end of the
//!   reference day e(P) = min(last day of P ∩ [start, stop], today), carried forward from the
//!   last observation; current properties (cpuCores, dateInstalled) use the latest value;
//! - NULL compares as the string `<NULL>` in string, stringArray, regex and split segments;
//!   numberRange never matches NULL; licenseType is `unknown` and the flags false before any
//!   licenseData, and licenseData fields that are null or absent leave the value unchanged;
//! - segment keys: non-split keys always appear, split keys only when a requested status
//!   counts a client for them; split values sorted by code point; keys reached twice merge
//!   (each client counted once); nested non-split keys appear under every parent key.
//!
//! The generator writes the non-split segments of a level before its split segments, so a
//! split key that merges into an explicit key always finds that key already in place; the
//! spec does not say where a merged key goes when the split comes first.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::helpers::*;

/// A day of March 2024.
fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, d).expect("a day of March 2024")
}

/// The pinned server date (helpers pin 2024-03-20T12:00Z).
fn today() -> NaiveDate {
    day(20)
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

// ---------------------------------------------------------------------------------------------
// The fleet: what is sent, and the model the reference reads.
// ---------------------------------------------------------------------------------------------

/// `product.version` values sent; None is an explicit JSON null (or a left-out field).
const VERSIONS: [Option<&str>; 4] = [Some("1.0"), Some("1.1"), Some("2.0"), None];
/// `product.edition` values sent.
const EDITIONS: [Option<&str>; 3] = [Some("Pro"), Some("Home"), None];
/// `custom."1"` values as sent: `" web "` is trimmed, `""` and `"<NULL>"` are stored as NULL.
const CUSTOMS: [Option<&str>; 6] = [Some("web"), Some("store"), Some(" web "), Some(""), Some("<NULL>"), None];
/// `machine.cpuCores` values sent.
const CORES: [Option<i64>; 5] = [Some(2), Some(4), Some(8), Some(16), None];
/// `licenseData.licenseType` values sent (the default `unknown` is never sent).
const LICENSE_TYPES: [&str; 4] = ["evaluation", "purchased", "freeware", "nfr"];
/// The license flags, in the order of [`Snapshot::flags`].
const FLAGS: [&str; 4] = ["activated", "expired", "blocked", "allowed"];

/// One property observation of an active day.
#[derive(Debug, Clone)]
enum Obs {
    /// A `properties` record; each group is present when Some (indexes into the pools above).
    /// `omit_nulls` leaves null fields out of the group instead of writing `null`.
    Props { product: Option<(usize, usize)>, custom: Option<usize>, cores: Option<usize>, omit_nulls: bool },
    /// A `licenseData` record; None fields are absent (or an explicit null when `explicit_nulls`).
    License { license_type: Option<usize>, flags: [Option<bool>; 4], explicit_nulls: bool },
}

impl Obs {
    fn to_record(&self, t: i64) -> Value {
        match self {
            Obs::Props { product, custom, cores, omit_nulls } => {
                let mut r = json!({"kind": "properties", "t": t});
                let put = |m: &mut Map<String, Value>, k: &str, v: Value| {
                    if !(v.is_null() && *omit_nulls) {
                        m.insert(k.into(), v);
                    }
                };
                if let Some((v, e)) = product {
                    let mut g = Map::new();
                    put(&mut g, "edition", json!(EDITIONS[*e]));
                    g.insert("language".into(), json!("en"));
                    put(&mut g, "version", json!(VERSIONS[*v]));
                    r["product"] = Value::Object(g);
                }
                if let Some(c) = custom {
                    let mut g = Map::new();
                    put(&mut g, "1", json!(CUSTOMS[*c]));
                    r["custom"] = Value::Object(g);
                }
                if let Some(c) = cores {
                    let mut g = Map::new();
                    put(&mut g, "cpuCores", json!(CORES[*c]));
                    g.insert("ram".into(), json!(8192));
                    r["machine"] = Value::Object(g);
                }
                r
            }
            Obs::License { license_type, flags, explicit_nulls } => {
                let mut r = json!({"kind": "licenseData", "t": t});
                match license_type {
                    Some(i) => r["licenseType"] = json!(LICENSE_TYPES[*i]),
                    None if *explicit_nulls => r["licenseType"] = Value::Null,
                    None => {}
                }
                for (name, flag) in FLAGS.iter().zip(flags) {
                    match flag {
                        Some(b) => r[*name] = json!(b),
                        None if *explicit_nulls => r[*name] = Value::Null,
                        None => {}
                    }
                }
                r
            }
        }
    }
}

/// One active day: one sync received that day, with an event and the observations.
#[derive(Debug, Clone)]
struct DayPlan {
    obs: Vec<Obs>,
    /// Writes the records in reverse order (the server orders by `t`, then seq, then index).
    reversed: bool,
    /// All observations share one `t`, so their index in the batch decides.
    same_t: bool,
    /// When > 0 (and not `same_t`), the day's first observation is uploaded `late` days later
    /// (at most on 03-19) in a batch of its own: a higher seq, an earlier `t`, so it must not win.
    late: u32,
}

impl DayPlan {
    /// A plain day: every record on time, in `t` order.
    fn plain(obs: Vec<Obs>) -> DayPlan {
        DayPlan { obs, reversed: false, same_t: false, late: 0 }
    }

    /// The day the late batch is received, if there is one.
    fn late_day(&self, d: u32) -> Option<u32> {
        (self.late > 0 && !self.same_t && !self.obs.is_empty()).then(|| (d + self.late).min(19))
    }

    /// The observations in the order the server must apply them.
    fn applied(&self) -> Vec<&Obs> {
        let mut obs: Vec<&Obs> = self.obs.iter().collect();
        if self.same_t && self.reversed {
            obs.reverse(); // one t: the batch index decides
        }
        obs
    }
}

/// An installation: its active days of March 2024 (1–19).
type Installation = BTreeMap<u32, DayPlan>;

fn obs_strategy() -> impl Strategy<Value = Obs> {
    let flag = proptest::option::of(any::<bool>());
    prop_oneof![
        3 => (
            proptest::option::of((0..VERSIONS.len(), 0..EDITIONS.len())),
            proptest::option::of(0..CUSTOMS.len()),
            proptest::option::of(0..CORES.len()),
            any::<bool>(),
        )
            .prop_map(|(product, custom, cores, omit_nulls)| {
                let product = if product.is_none() && custom.is_none() && cores.is_none() { Some((0, 0)) } else { product };
                Obs::Props { product, custom, cores, omit_nulls }
            }),
        2 => (proptest::option::of(0..LICENSE_TYPES.len()), proptest::array::uniform4(flag), any::<bool>())
            .prop_map(|(license_type, flags, explicit_nulls)| Obs::License { license_type, flags, explicit_nulls }),
    ]
}

fn fleet_strategy() -> impl Strategy<Value = Vec<Installation>> {
    let plan = (
        proptest::collection::vec(obs_strategy(), 0..4),
        any::<bool>(),
        proptest::bool::weighted(0.15),
        prop_oneof![3 => Just(0u32), 1 => 1u32..=3],
    )
        .prop_map(|(obs, reversed, same_t, late)| DayPlan { obs, reversed, same_t, late });
    proptest::collection::vec(proptest::collection::btree_map(1u32..=19, plan, 1..10), 2..=9)
}

/// The standard property values of one installation at the end of one day.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    version: Option<String>,
    edition: Option<String>,
    c01: Option<String>,
    license_type: String,
    /// activated, expired, blocked, allowed.
    flags: [bool; 4],
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot { version: None, edition: None, c01: None, license_type: "unknown".into(), flags: [false; 4] }
    }
}

/// What the reference knows about an installation.
#[derive(Debug, Clone)]
struct Model {
    id: String,
    days: BTreeSet<NaiveDate>,
    /// End-of-day values on the days with observations (carried forward in between).
    eod: BTreeMap<NaiveDate, Snapshot>,
    /// The latest cpuCores.
    cores: Option<i64>,
}

/// SDK strings as stored: trimmed, `""` and `"<NULL>"` become NULL.
fn stored(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|s| !s.is_empty() && *s != "<NULL>").map(str::to_string)
}

impl Model {
    fn build(index: usize, inst: &Installation) -> Model {
        let mut s = Snapshot::default();
        let mut cores = None;
        let mut eod = BTreeMap::new();
        let mut days: BTreeSet<NaiveDate> = BTreeSet::new();
        for (d, plan) in inst {
            days.insert(day(*d));
            if let Some(r) = plan.late_day(*d) {
                days.insert(day(r)); // the late batch is a contact
            }
            for o in plan.applied() {
                match o {
                    Obs::Props { product, custom, cores: c, .. } => {
                        if let Some((v, e)) = product {
                            s.version = stored(VERSIONS[*v]);
                            s.edition = stored(EDITIONS[*e]);
                        }
                        if let Some(c) = custom {
                            s.c01 = stored(CUSTOMS[*c]);
                        }
                        if let Some(c) = c {
                            cores = CORES[*c];
                        }
                    }
                    Obs::License { license_type, flags, .. } => {
                        if let Some(i) = license_type {
                            s.license_type = LICENSE_TYPES[*i].into();
                        }
                        for (slot, f) in s.flags.iter_mut().zip(flags) {
                            if let Some(b) = f {
                                *slot = *b;
                            }
                        }
                    }
                }
            }
            eod.insert(day(*d), s.clone());
        }
        Model { id: client_id(index), days, eod, cores }
    }

    /// The standard values at the end of day `d`.
    fn at(&self, d: NaiveDate) -> Snapshot {
        self.eod.range(..=d).next_back().map(|(_, s)| s.clone()).unwrap_or_default()
    }

    fn installed(&self) -> NaiveDate {
        *self.days.iter().next().expect("at least one active day")
    }

    fn last_seen(&self) -> NaiveDate {
        *self.days.iter().next_back().expect("at least one active day")
    }

    /// A one-line summary for failure messages.
    fn describe(&self) -> String {
        let days: Vec<String> = self.days.iter().map(|d| d.format("%d").to_string()).collect();
        let mut changes = Vec::new();
        let mut prev = Snapshot::default();
        for (d, s) in &self.eod {
            if *s != prev {
                changes.push(format!(
                    "{}: v={} ed={} C01={} lt={} flags={:?}",
                    d.format("%d"),
                    s.version.as_deref().unwrap_or("<NULL>"),
                    s.edition.as_deref().unwrap_or("<NULL>"),
                    s.c01.as_deref().unwrap_or("<NULL>"),
                    s.license_type,
                    s.flags
                ));
                prev = s.clone();
            }
        }
        format!(
            "{} days {} cpuCores {:?}; end-of-day changes [{}]",
            self.id,
            days.join(","),
            self.cores,
            changes.join("; ")
        )
    }
}

fn client_id(index: usize) -> String {
    format!("{:016X}", 0xC0FFEE00 + index)
}

/// The records of one active day; the sync is received at 20:00 that day.
/// The records of one active day, and those of its late batch (empty without one).
fn day_records(d: u32, plan: &DayPlan) -> (Vec<Value>, Vec<Value>) {
    let mut records = vec![json!({"kind": "event", "t": ms(2024, 3, d, 12, 30), "name": "Tick"})];
    let mut late = Vec::new();
    for (i, o) in plan.obs.iter().enumerate() {
        let hour = if plan.same_t { 6 } else { 6 + 3 * i as u32 };
        let record = o.to_record(ms(2024, 3, d, hour, 1));
        if i == 0 && plan.late_day(d).is_some() {
            late.push(record);
        } else {
            records.push(record);
        }
    }
    if plan.reversed {
        records.reverse();
    }
    (records, late)
}

// ---------------------------------------------------------------------------------------------
// Queries.
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator for the queries of one case (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
    /// The items in random order.
    fn shuffled<T: Clone>(&mut self, xs: &[T]) -> Vec<T> {
        let mut out = xs.to_vec();
        for i in (1..out.len()).rev() {
            out.swap(i, self.below(i + 1));
        }
        out
    }
    /// A non-empty random subset of at most `max` items, in random order.
    fn subset<T: Clone>(&mut self, xs: &[T], max: usize) -> Vec<T> {
        let n = 1 + self.below(max.min(xs.len()));
        self.shuffled(xs)[..n].to_vec()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prop {
    Version,
    Edition,
    C01,
    LicenseType,
    Cores,
    LicenseStatus,
    DateInstalled,
}

impl Prop {
    fn name(self) -> &'static str {
        match self {
            Prop::Version => "prodVersion",
            Prop::Edition => "prodEdition",
            Prop::C01 => "C01",
            Prop::LicenseType => "licenseType",
            Prop::Cores => "cpuCores",
            Prop::LicenseStatus => "licenseStatus",
            Prop::DateInstalled => "dateInstalled",
        }
    }

    /// The value as string matching sees it (NULL is `<NULL>`, numbers as decimal text).
    fn text(self, m: &Model, s: &Snapshot) -> String {
        let or_null = |v: &Option<String>| v.clone().unwrap_or_else(|| "<NULL>".into());
        match self {
            Prop::Version => or_null(&s.version),
            Prop::Edition => or_null(&s.edition),
            Prop::C01 => or_null(&s.c01),
            Prop::LicenseType => s.license_type.clone(),
            Prop::Cores => m.cores.map(|c| c.to_string()).unwrap_or_else(|| "<NULL>".into()),
            Prop::LicenseStatus | Prop::DateInstalled => unreachable!("not a string property"),
        }
    }

    /// Values for string / stringArray operators: mostly ones that occur, now and then the
    /// last one of the list, which never does.
    fn values(self, r: &mut Rng) -> &'static [&'static str] {
        let all = self.all_values();
        if r.chance(80) {
            &all[..all.len() - 1]
        } else {
            all
        }
    }

    fn all_values(self) -> &'static [&'static str] {
        match self {
            Prop::Version => &["1.0", "1.1", "2.0", "<NULL>", "3.0"],
            Prop::Edition => &["Pro", "Home", "<NULL>", "Ultimate"],
            Prop::C01 => &["web", "store", "<NULL>", "other"],
            Prop::LicenseType => &["unknown", "evaluation", "purchased", "freeware", "nfr", "custom1"],
            _ => &[],
        }
    }

    fn patterns(self) -> Vec<Pat> {
        use Pat::*;
        match self {
            Prop::Version => {
                vec![Any, Contains("1"), Prefix("1."), Suffix(".0"), OneOf(&["1.1", "<NULL>"]), Contains("NULL")]
            }
            Prop::Edition => vec![Any, Contains("o"), Suffix("e"), OneOf(&["Pro", "<NULL>"]), Prefix("H")],
            Prop::C01 => vec![Any, Contains("e"), Prefix("w"), OneOf(&["store", "<NULL>"]), Prefix("<")],
            Prop::LicenseType => vec![Any, Contains("e"), Prefix("p"), OneOf(&["unknown", "nfr"]), Suffix("ion")],
            Prop::Cores => vec![Any, Prefix("1"), Contains("6"), OneOf(&["2", "4"]), Suffix("8"), Contains("NULL")],
            _ => vec![],
        }
    }
}

/// A regex pattern of a small family the reference can evaluate without a regex engine.
#[derive(Debug, Clone)]
enum Pat {
    Any,
    Contains(&'static str),
    Prefix(&'static str),
    Suffix(&'static str),
    OneOf(&'static [&'static str]),
}

impl Pat {
    fn source(&self) -> String {
        let esc = |s: &str| s.replace('.', "\\.");
        match self {
            Pat::Any => ".*".into(),
            Pat::Contains(s) => esc(s),
            Pat::Prefix(s) => format!("^{}", esc(s)),
            Pat::Suffix(s) => format!("{}$", esc(s)),
            Pat::OneOf(xs) => format!("^({})$", xs.iter().map(|s| esc(s)).collect::<Vec<_>>().join("|")),
        }
    }
    /// Unanchored, case-sensitive search semantics (reporting-api §3.1).
    fn matches(&self, v: &str) -> bool {
        match self {
            Pat::Any => true,
            Pat::Contains(s) => v.contains(s),
            Pat::Prefix(s) => v.starts_with(s),
            Pat::Suffix(s) => v.ends_with(s),
            Pat::OneOf(xs) => xs.contains(&v),
        }
    }
}

#[derive(Debug, Clone)]
enum Filter {
    Str(String),
    StrArr(Vec<String>),
    Regex(Pat),
    /// None = `"<NULL>"`.
    Num(Option<i64>),
    NumRange(Option<i64>, Option<i64>),
    /// OR of ANDs of (flag index, value); `single` writes a lone object instead of an array;
    /// `aliases` writes the older flag names.
    Status {
        any_of: Vec<Vec<(usize, bool)>>,
        single: bool,
        aliases: bool,
    },
    DateRange(Option<NaiveDate>, Option<NaiveDate>),
    Date(NaiveDate),
}

/// The older spellings `blacklisted` / `whitelisted` of `blocked` / `allowed` (§1.11).
const FLAG_ALIASES: [&str; 4] = ["activated", "expired", "blacklisted", "whitelisted"];

fn status_object(flags: &[(usize, bool)], aliases: bool) -> Map<String, Value> {
    let mut m = Map::new();
    for (i, b) in flags {
        m.insert(if aliases { FLAG_ALIASES[*i] } else { FLAGS[*i] }.into(), json!(b));
    }
    m
}

impl Filter {
    fn to_json(&self) -> Value {
        match self {
            Filter::Str(v) => json!({"type": "string", "value": v}),
            Filter::StrArr(v) => json!({"type": "stringArray", "value": v}),
            Filter::Regex(p) => json!({"type": "regex", "value": p.source()}),
            Filter::Num(Some(v)) => json!({"type": "number", "value": v}),
            Filter::Num(None) => json!({"type": "number", "value": "<NULL>"}),
            Filter::NumRange(min, max) => {
                let mut m = json!({"type": "numberRange"});
                if let Some(v) = min {
                    m["min"] = json!(v);
                }
                if let Some(v) = max {
                    m["max"] = json!(v);
                }
                m
            }
            Filter::Status { any_of, single, aliases } => {
                if *single {
                    Value::Object(status_object(&any_of[0], *aliases))
                } else {
                    Value::Array(any_of.iter().map(|o| Value::Object(status_object(o, *aliases))).collect())
                }
            }
            Filter::DateRange(min, max) => {
                let mut m = json!({"type": "dateRange"});
                if let Some(v) = min {
                    m["min"] = json!(ymd(*v));
                }
                if let Some(v) = max {
                    m["max"] = json!(ymd(*v));
                }
                m
            }
            Filter::Date(v) => json!({"type": "date", "value": ymd(*v)}),
        }
    }

    fn matches(&self, prop: Prop, m: &Model, s: &Snapshot) -> bool {
        match self {
            Filter::Str(v) => prop.text(m, s) == *v,
            Filter::StrArr(vs) => vs.contains(&prop.text(m, s)),
            Filter::Regex(p) => p.matches(&prop.text(m, s)),
            Filter::Num(v) => m.cores == *v,
            Filter::NumRange(min, max) => {
                m.cores.is_some_and(|c| min.is_none_or(|lo| c >= lo) && max.is_none_or(|hi| c <= hi))
            }
            Filter::Status { any_of, .. } => any_of.iter().any(|all| all.iter().all(|(i, b)| s.flags[*i] == *b)),
            Filter::DateRange(min, max) => {
                let i = m.installed();
                min.is_none_or(|lo| i >= lo) && max.is_none_or(|hi| i <= hi)
            }
            Filter::Date(v) => m.installed() == *v,
        }
    }
}

#[derive(Debug, Clone)]
enum Seg {
    Str {
        value: String,
        label: Option<String>,
    },
    /// `split_field`: Some(false) writes `"split":false`, None leaves it out (default false).
    StrArr {
        values: Vec<String>,
        split: bool,
        label: Option<String>,
        split_field: Option<bool>,
    },
    Regex {
        pat: Pat,
        split: bool,
        label: Option<String>,
        split_field: Option<bool>,
    },
    Num {
        value: i64,
        label: Option<String>,
    },
    NumRange {
        min: Option<i64>,
        max: Option<i64>,
        label: String,
    },
    Status {
        label: String,
        flags: Vec<(usize, bool)>,
        aliases: bool,
    },
}

impl Seg {
    fn is_split(&self) -> bool {
        matches!(self, Seg::StrArr { split: true, .. } | Seg::Regex { split: true, .. })
    }

    /// The key of a non-split segment.
    fn explicit_key(&self) -> Option<String> {
        match self {
            Seg::Str { value, label } => Some(label.clone().unwrap_or_else(|| value.clone())),
            Seg::Num { value, label } => Some(label.clone().unwrap_or_else(|| value.to_string())),
            Seg::StrArr { split: false, label, .. } | Seg::Regex { split: false, label, .. } => label.clone(),
            Seg::NumRange { label, .. } | Seg::Status { label, .. } => Some(label.clone()),
            _ => None,
        }
    }

    /// The key this segment puts the installation in, if any.
    fn key_of(&self, prop: Prop, m: &Model, s: &Snapshot) -> Option<String> {
        let hit = match self {
            Seg::Str { value, .. } => prop.text(m, s) == *value,
            Seg::StrArr { values, .. } => values.contains(&prop.text(m, s)),
            Seg::Regex { pat, .. } => pat.matches(&prop.text(m, s)),
            Seg::Num { value, .. } => m.cores == Some(*value),
            Seg::NumRange { min, max, .. } => {
                m.cores.is_some_and(|c| min.is_none_or(|lo| c >= lo) && max.is_none_or(|hi| c <= hi))
            }
            Seg::Status { flags, .. } => flags.iter().all(|(i, b)| s.flags[*i] == *b),
        };
        if !hit {
            None
        } else if self.is_split() {
            Some(prop.text(m, s))
        } else {
            self.explicit_key()
        }
    }

    fn to_json(&self) -> Value {
        let with = |mut v: Value, label: &Option<String>, split_field: &Option<bool>, split: bool| {
            if split {
                v["split"] = json!(true);
            } else if let Some(f) = split_field {
                v["split"] = json!(f);
            }
            if let Some(l) = label {
                v["segmentLabel"] = json!(l);
            }
            v
        };
        match self {
            Seg::Str { value, label } => with(json!({"type": "string", "value": value}), label, &None, false),
            Seg::StrArr { values, split, label, split_field } => {
                with(json!({"type": "stringArray", "value": values}), label, split_field, *split)
            }
            Seg::Regex { pat, split, label, split_field } => {
                with(json!({"type": "regex", "value": pat.source()}), label, split_field, *split)
            }
            Seg::Num { value, label } => with(json!({"type": "number", "value": value}), label, &None, false),
            Seg::NumRange { min, max, label } => {
                let mut v = json!({"type": "numberRange"});
                if let Some(x) = min {
                    v["min"] = json!(x);
                }
                if let Some(x) = max {
                    v["max"] = json!(x);
                }
                v["segmentLabel"] = json!(label);
                v
            }
            Seg::Status { label, flags, aliases } => {
                let mut v = Map::new();
                v.insert("segmentLabel".into(), json!(label));
                v.extend(status_object(flags, *aliases));
                Value::Object(v)
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Level {
    prop: Prop,
    segments: Vec<Seg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    New,
    Active,
    Lost,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Active => "active",
            Status::Lost => "lost",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    Day,
    Week,
    Month,
}

impl Split {
    fn name(self) -> &'static str {
        match self {
            Split::Day => "day",
            Split::Week => "week",
            Split::Month => "month",
        }
    }
    fn key(self, d: NaiveDate) -> NaiveDate {
        match self {
            Split::Day => d,
            Split::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
            Split::Month => d.with_day(1).expect("the 1st exists"),
        }
    }
}

#[derive(Debug, Clone)]
struct Query {
    /// `generic/current`: stop = today, no split.
    current: bool,
    start: NaiveDate,
    /// Write `startDate` as `NOW-n`.
    relative_start: bool,
    stop: NaiveDate,
    split: Option<Split>,
    /// Write `"dateSplit": null` when there is no split.
    null_split: bool,
    statuses: Vec<Status>,
    days_until_lost: Option<i64>,
    /// None = absent; Some(true) = dateDeclaredLost.
    declared: Option<bool>,
    filters: Vec<(Prop, Filter)>,
    levels: Vec<Level>,
}

impl Query {
    fn path(&self) -> String {
        let kind = if self.current { "current" } else { "dateRange" };
        format!("/v3/reporting/generic/{kind}/{PRODUCT}")
    }

    fn body(&self) -> Value {
        let mut b = Map::new();
        let start =
            if self.relative_start { format!("NOW-{}", (today() - self.start).num_days()) } else { ymd(self.start) };
        b.insert("startDate".into(), json!(start));
        if !self.current {
            b.insert("stopDate".into(), json!(ymd(self.stop)));
        }
        match self.split {
            Some(s) => {
                b.insert("dateSplit".into(), json!(s.name()));
            }
            None if self.null_split => {
                b.insert("dateSplit".into(), Value::Null);
            }
            None => {}
        }
        b.insert("clientStatus".into(), json!(self.statuses.iter().map(|s| s.name()).collect::<Vec<_>>()));
        if let Some(n) = self.days_until_lost {
            b.insert("daysUntilDeclaredLost".into(), json!(n));
        }
        if let Some(d) = self.declared {
            b.insert("dateReportedLost".into(), json!(if d { "dateDeclaredLost" } else { "dateLastSeen" }));
        }
        if !self.filters.is_empty() {
            let mut f = Map::new();
            for (p, filter) in &self.filters {
                f.insert(p.name().into(), filter.to_json());
            }
            b.insert("globalFilters".into(), Value::Object(f));
        }
        if !self.levels.is_empty() {
            let mut l = Map::new();
            for (i, level) in self.levels.iter().enumerate() {
                l.insert(
                    format!("level{}", i + 1),
                    json!({"property": level.prop.name(),
                           "segments": level.segments.iter().map(Seg::to_json).collect::<Vec<_>>()}),
                );
            }
            b.insert("levels".into(), Value::Object(l));
        }
        Value::Object(b)
    }
}

const FILTER_PROPS: [Prop; 7] =
    [Prop::Version, Prop::Edition, Prop::C01, Prop::LicenseType, Prop::Cores, Prop::LicenseStatus, Prop::DateInstalled];
const LEVEL_PROPS: [Prop; 6] =
    [Prop::Version, Prop::Edition, Prop::C01, Prop::LicenseType, Prop::Cores, Prop::LicenseStatus];

fn gen_flags(r: &mut Rng) -> Vec<(usize, bool)> {
    let idx = r.subset(&[0usize, 1, 2, 3], 2);
    idx.into_iter().map(|i| (i, r.chance(50))).collect()
}

fn gen_filter(r: &mut Rng, p: Prop) -> Filter {
    match p {
        Prop::Cores => match r.below(3) {
            0 => Filter::Num(r.pick(&CORES)),
            _ => {
                let (min, max) = match r.below(3) {
                    0 => (Some(r.pick(&[1, 2, 4, 8])), None),
                    1 => (None, Some(r.pick(&[2, 4, 8, 20]))),
                    _ => (Some(r.pick(&[1, 2, 4])), Some(r.pick(&[4, 8, 16]))),
                };
                Filter::NumRange(min, max)
            }
        },
        Prop::LicenseStatus => {
            let n = 1 + r.below(2);
            let any_of: Vec<_> = (0..n).map(|_| gen_flags(r)).collect();
            Filter::Status { single: n == 1 && r.chance(30), any_of, aliases: r.chance(20) }
        }
        Prop::DateInstalled => {
            let d = |r: &mut Rng| day(1 + r.below(19) as u32);
            match r.below(4) {
                0 => Filter::Date(d(r)),
                1 => Filter::DateRange(Some(d(r)), None),
                2 => Filter::DateRange(None, Some(d(r))),
                _ => {
                    let (a, b) = (d(r), d(r));
                    Filter::DateRange(Some(a.min(b)), Some(a.max(b)))
                }
            }
        }
        _ => match r.below(3) {
            0 => {
                let vals = p.values(r);
                Filter::Str(r.pick(vals).to_string())
            }
            1 => {
                let vals = p.values(r);
                Filter::StrArr(r.subset(vals, 3).into_iter().map(str::to_string).collect())
            }
            _ => Filter::Regex(r.pick(&p.patterns())),
        },
    }
}

/// Segments of one level: non-split ones first (see the module comment), distinct explicit keys.
fn gen_level(r: &mut Rng, prop: Prop) -> Level {
    let mut explicit: Vec<Seg> = Vec::new();
    let mut split: Vec<Seg> = Vec::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    let mut label_no = 0;
    let mut label = |r: &mut Rng, keys: &mut BTreeSet<String>| {
        // Now and then a label equal to a value, so a split key merges into it.
        if prop != Prop::LicenseStatus && prop != Prop::Cores && r.chance(15) {
            let vals = prop.values(r);
            let v = r.pick(vals).to_string();
            if v != "<NULL>" && !keys.contains(&v) {
                return v;
            }
        }
        label_no += 1;
        format!("seg {label_no}")
    };
    let n = 1 + r.below(4);
    for _ in 0..n {
        let seg = match prop {
            Prop::LicenseStatus => {
                Seg::Status { label: label(r, &mut keys), flags: gen_flags(r), aliases: r.chance(20) }
            }
            Prop::Cores => match r.below(4) {
                0 => Seg::Num { value: r.pick(&[2, 4, 8, 16, 3]), label: r.chance(30).then(|| label(r, &mut keys)) },
                1 => {
                    let (min, max) = match r.below(3) {
                        0 => (Some(r.pick(&[2, 4, 8])), None),
                        1 => (None, Some(r.pick(&[2, 4, 8]))),
                        _ => (Some(r.pick(&[1, 2, 4])), Some(r.pick(&[4, 8, 16]))),
                    };
                    Seg::NumRange { min, max, label: label(r, &mut keys) }
                }
                _ => {
                    let split = r.chance(60);
                    Seg::Regex {
                        pat: r.pick(&prop.patterns()),
                        split,
                        label: (!split).then(|| label(r, &mut keys)),
                        split_field: if split { None } else { r.pick(&[None, Some(false)]) },
                    }
                }
            },
            _ => match r.below(3) {
                0 => {
                    let vals = prop.values(r);
                    let value = r.pick(vals).to_string();
                    Seg::Str { label: r.chance(30).then(|| label(r, &mut keys)), value }
                }
                1 => {
                    let vals = prop.values(r);
                    let values: Vec<String> = r.subset(vals, 3).into_iter().map(str::to_string).collect();
                    let split = r.chance(50);
                    Seg::StrArr {
                        values,
                        split,
                        label: (!split).then(|| label(r, &mut keys)),
                        split_field: if split { None } else { r.pick(&[None, Some(false)]) },
                    }
                }
                _ => {
                    let split = r.chance(60);
                    Seg::Regex {
                        pat: r.pick(&prop.patterns()),
                        split,
                        label: (!split).then(|| label(r, &mut keys)),
                        split_field: if split { None } else { r.pick(&[None, Some(false)]) },
                    }
                }
            },
        };
        match seg.explicit_key() {
            Some(k) if keys.contains(&k) => continue, // duplicate explicit keys are a 400 (bad_input.rs)
            Some(k) => {
                keys.insert(k);
                explicit.push(seg);
            }
            None => split.push(seg),
        }
    }
    explicit.extend(split);
    Level { prop, segments: explicit }
}

fn gen_query(r: &mut Rng) -> Query {
    let current = r.chance(15);
    let start = if r.chance(10) { day(1) - Duration::days(r.below(6) as i64) } else { day(1 + r.below(18) as u32) };
    let stop = if current { today() } else { (start + Duration::days(r.below(22) as i64)).min(day(27)) };
    let split = if current || r.chance(35) { None } else { Some(r.pick(&[Split::Day, Split::Week, Split::Month])) };
    let statuses = r.subset(&[Status::New, Status::Active, Status::Lost], 3);
    let days_until_lost = if r.chance(10) { None } else { Some(1 + r.below(12) as i64) };
    let declared = r.pick(&[None, Some(false), Some(true)]);
    let n_filters = r.pick(&[0, 0, 1, 1, 1, 1, 2, 2, 3]);
    let filters = r.shuffled(&FILTER_PROPS)[..n_filters].iter().map(|p| (*p, gen_filter(r, *p))).collect();
    let n_levels = if split.is_some() { r.pick(&[0, 1, 1]) } else { r.pick(&[0, 1, 1, 2, 2, 3]) };
    let levels = (0..n_levels)
        .map(|_| {
            let prop = r.pick(&LEVEL_PROPS);
            gen_level(r, prop)
        })
        .collect();
    Query {
        current,
        start,
        relative_start: r.chance(15),
        stop,
        split,
        null_split: r.chance(30),
        statuses,
        days_until_lost,
        declared,
        filters,
        levels,
    }
}

// ---------------------------------------------------------------------------------------------
// The reference.
// ---------------------------------------------------------------------------------------------

/// The expected response of `q` over `fleet`, in the documented member order.
fn reference(q: &Query, fleet: &[Model]) -> Value {
    let today = today();
    let n = q.days_until_lost.unwrap_or(40);
    let declared = q.declared == Some(true);
    let mut wanted = q.statuses.clone();
    wanted.sort();
    // One period: its key and the days [from, to] it counts (clipped to the range).
    let mut periods: Vec<(NaiveDate, NaiveDate, NaiveDate)> = Vec::new();
    match q.split {
        None => periods.push((q.start, q.start, q.stop)),
        Some(s) => {
            let mut d = q.start;
            while d <= q.stop {
                let k = s.key(d);
                match periods.last_mut() {
                    Some(p) if p.0 == k => p.2 = d,
                    _ => periods.push((k, d, d)),
                }
                d += Duration::days(1);
            }
        }
    }
    let mut result = Map::new();
    for (key, from, to) in periods {
        let e = to.min(today);
        let snaps: Vec<Snapshot> = fleet.iter().map(|m| m.at(e)).collect();
        let has = |c: usize, st: Status| {
            let m = &fleet[c];
            match st {
                Status::New => (from..=to).contains(&m.installed()) && m.installed() <= today,
                Status::Active => m.days.iter().any(|d| (from..=to.min(today)).contains(d)),
                Status::Lost => {
                    let l = m.last_seen();
                    let d = l + Duration::days(n);
                    let reported = if declared { d } else { l };
                    d <= today && (from..=to).contains(&reported)
                }
            }
        };
        let totals = |members: &[usize]| {
            let mut t = Map::new();
            for st in &wanted {
                t.insert(st.name().into(), json!(members.iter().filter(|c| has(**c, *st)).count()));
            }
            t
        };
        let passing: Vec<usize> =
            (0..fleet.len()).filter(|c| q.filters.iter().all(|(p, f)| f.matches(*p, &fleet[*c], &snaps[*c]))).collect();
        let body = if q.levels.is_empty() {
            Value::Object(totals(&passing))
        } else {
            let mut m = Map::new();
            m.insert("level1".into(), level_object(q, fleet, &snaps, 0, &passing, &totals));
            Value::Object(m)
        };
        if q.split.is_none() {
            if q.levels.is_empty() {
                result.insert("totals".into(), body);
            } else {
                result = body.as_object().expect("object").clone();
            }
        } else {
            result.insert(ymd(key), body);
        }
    }
    json!({ "result": Value::Object(result) })
}

/// The object of level `k` (0-based) over the installations `members` of its parent key.
fn level_object(
    q: &Query,
    fleet: &[Model],
    snaps: &[Snapshot],
    k: usize,
    members: &[usize],
    totals: &dyn Fn(&[usize]) -> Map<String, Value>,
) -> Value {
    let level = &q.levels[k];
    // Every key each member falls in, over all segments (a key reached twice is one key).
    let keys_of: Vec<(usize, BTreeSet<String>)> = members
        .iter()
        .map(|c| (*c, level.segments.iter().filter_map(|s| s.key_of(level.prop, &fleet[*c], &snaps[*c])).collect()))
        .collect();
    let in_key =
        |key: &str| -> Vec<usize> { keys_of.iter().filter(|(_, ks)| ks.contains(key)).map(|(c, _)| *c).collect() };
    let mut out = Map::new();
    for seg in &level.segments {
        let candidates: Vec<String> = match seg.explicit_key() {
            Some(key) => vec![key],
            None => {
                let vals: BTreeSet<String> = members
                    .iter()
                    .filter(|c| seg.key_of(level.prop, &fleet[**c], &snaps[**c]).is_some())
                    .map(|c| level.prop.text(&fleet[*c], &snaps[*c]))
                    .collect();
                vals.into_iter().collect() // BTreeSet of String: code-point order
            }
        };
        for key in candidates {
            if out.contains_key(&key) {
                continue;
            }
            let inside = in_key(&key);
            let t = totals(&inside);
            if seg.is_split() && t.values().all(|v| v.as_u64() == Some(0)) {
                continue;
            }
            let mut obj = Map::new();
            obj.insert("totals".into(), Value::Object(t));
            if k + 1 < q.levels.len() {
                obj.insert(format!("level{}", k + 2), level_object(q, fleet, snaps, k + 1, &inside, totals));
            }
            out.insert(key, Value::Object(obj));
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// The property test.
// ---------------------------------------------------------------------------------------------

/// Queries per case.
const QUERIES_PER_CASE: usize = 14;

async fn ingest(app: &TestApp, fleet: &[Installation]) {
    let mut syncs = Vec::new();
    for (i, inst) in fleet.iter().enumerate() {
        for (d, plan) in inst {
            let (records, late) = day_records(*d, plan);
            syncs.push((at(2024, 3, *d, 20, 0, i as u32), client_id(i), records));
            if let Some(r) = plan.late_day(*d) {
                syncs.push((at(2024, 3, r, 21, *d, i as u32), client_id(i), late));
            }
        }
    }
    syncs.sort_by_key(|s| s.0);
    for (received, client, records) in syncs {
        app.sync_at(received, &client, records).await;
    }
    app.settle().await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
}

async fn check_case(fleet: Vec<Installation>, seed: u64) -> Result<(), TestCaseError> {
    let app = TestApp::spawn().await;
    ingest(&app, &fleet).await;
    app.login().await;
    let models: Vec<Model> = fleet.iter().enumerate().map(|(i, inst)| Model::build(i, inst)).collect();
    let mut rng = Rng(seed);
    let mut mismatches = Vec::new();
    for _ in 0..QUERIES_PER_CASE {
        let q = gen_query(&mut rng);
        let body = q.body();
        let resp = app.post_json(&q.path(), &body).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let expected = serde_json::to_string(&reference(&q, &models)).expect("json");
        if status != 200 || text != expected {
            mismatches.push(format!(
                "POST {}\n  request:  {body}\n  expected: 200 {expected}\n  actual:   {status} {text}",
                q.path()
            ));
        }
    }
    if !mismatches.is_empty() {
        let fleet: Vec<String> = models.iter().map(|m| format!("  {}", m.describe())).collect();
        return Err(TestCaseError::fail(format!(
            "{} of {QUERIES_PER_CASE} queries differ from the reference (today 2024-03-20)\nfleet:\n{}\n{}",
            mismatches.len(),
            fleet.join("\n"),
            mismatches.join("\n")
        )));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES overrides the default of 48 cases (each with a fleet and 14 queries).
        cases: if std::env::var_os("PROPTEST_CASES").is_some() { ProptestConfig::default().cases } else { 48 },
        max_shrink_iters: 64,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Random fleets with property histories; random filtered, segmented queries.
    #[test]
    fn filtered_segmented_generic_reports_match_the_reference(fleet in fleet_strategy(), seed in any::<u64>()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(check_case(fleet, seed))?;
    }
}

/// The reference itself on Example 2 of semantics.md (Queries A–C), so a wrong reference
/// cannot hide behind agreeing with a wrong server.
#[test]
fn reference_reproduces_example_2() {
    let x: Installation = (1..=7)
        .map(|d| {
            let obs = match d {
                1 => vec![Obs::Props { product: Some((0, 0)), custom: None, cores: None, omit_nulls: false }],
                5 => vec![
                    Obs::Props { product: Some((2, 0)), custom: None, cores: None, omit_nulls: false },
                    Obs::Props { product: Some((1, 0)), custom: None, cores: None, omit_nulls: false },
                ],
                _ => vec![],
            };
            (d, DayPlan::plain(obs))
        })
        .collect();
    let version_null_home = Obs::Props { product: Some((3, 1)), custom: None, cores: None, omit_nulls: false };
    let y: Installation =
        [(2, DayPlan::plain(vec![version_null_home])), (6, DayPlan::plain(vec![]))].into_iter().collect();
    let fleet = vec![Model::build(0, &x), Model::build(1, &y)];
    let level = Level {
        prop: Prop::Version,
        segments: vec![Seg::Regex { pat: Pat::Any, split: true, label: None, split_field: None }],
    };
    let q = Query {
        current: false,
        start: day(1),
        relative_start: false,
        stop: day(7),
        split: None,
        null_split: false,
        statuses: vec![Status::Active],
        days_until_lost: None,
        declared: None,
        filters: vec![],
        levels: vec![level],
    };
    // X ends the range on "1.1" here (pool index 1), standing in for the spec's "2.1".
    assert_eq!(
        serde_json::to_string(&reference(&q, &fleet)).expect("json"),
        r#"{"result":{"level1":{"1.1":{"totals":{"active":1}},"<NULL>":{"totals":{"active":1}}}}}"#,
        "Query B shape: X by its value at the end of the range, Y as <NULL>"
    );
    let qa = Query { split: Some(Split::Day), ..q.clone() };
    let a = reference(&qa, &fleet);
    assert_eq!(
        serde_json::to_string(&a["result"]["2024-03-05"]).expect("json"),
        r#"{"level1":{"1.1":{"totals":{"active":1}}}}"#,
        "Query A: only the last value of 03-05 counts"
    );
    assert_eq!(
        serde_json::to_string(&a["result"]["2024-03-06"]).expect("json"),
        r#"{"level1":{"1.1":{"totals":{"active":1}},"<NULL>":{"totals":{"active":1}}}}"#,
        "Query A on 03-06: both keys, <NULL> last"
    );
    let qc = Query { levels: vec![], filters: vec![(Prop::Version, Filter::Str("1.0".into()))], ..q.clone() };
    assert_eq!(
        serde_json::to_string(&reference(&qc, &fleet)).expect("json"),
        r#"{"result":{"totals":{"active":0}}}"#,
        "Query C"
    );
    let qc_day = Query { split: Some(Split::Day), ..qc };
    let c = reference(&qc_day, &fleet);
    let actives: Vec<u64> = (1..=7).map(|d| c["result"][ymd(day(d))]["active"].as_u64().unwrap_or(99)).collect();
    assert_eq!(actives, vec![1, 1, 1, 1, 0, 0, 0], "Query C by day");
}
