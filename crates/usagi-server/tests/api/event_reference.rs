//! Basic event timelines and advanced full reports against a naive reference written from the
//! spec alone (reporting-api §5, §8, §11.2, §11.3; semantics §2, §4, §6, §8, §10, §13).
//!
//! Each proptest case ingests a random small fleet into a fresh server, sets random event
//! flags with `PUT /v3/event-tracking`, and compares the server's answers with [`timeline`] and
//! [`full_report`] for [`TIMELINES_PER_CASE`] + [`FULL_REPORTS_PER_CASE`] random requests:
//! parsed JSON and the exact body text (so member order, integer-vs-float and key order of the
//! periods are checked too).
//!
//! Fleets: 2–6 installations; each has 1–7 implicit sessions on 03-01…03-14: morning,
//! afternoon, over midnight, or over two midnights (covering a whole day that may hold no
//! record and no sync; a night session the same evening overlaps it). Some crash (no
//! `sessionStop`: the next `sessionStart` closes them at their last record, or they stay
//! open), some carry a `heartbeat`, and a stray `sessionStop` at 06:00 is ignored unless a
//! long session is open then. Events of [`KINDS`] fall inside the sessions, sometimes on the
//! very `t` of the start or stop (the batch order decides), now and then two at one `t`, with
//! a numeric, text, null or absent `value`; sometimes a day has only an empty sync. Each
//! day's records go in one sync received at 23:59 that day, sometimes written in reverse.
//!
//! Requests: ranges from 02-24 to 03-25 (some wholly after today), sometimes written relative
//! to today (`NOW-n`); timelines with every valid `dataView` × `divisor` pair (now and then in
//! the older spellings of §1.11) and every `dateSplit`; items are single events (seen, never
//! seen, disabled) and combinations of string and regex members that overlap; a `clientId`
//! filter now and then; full reports with and without `events`, every `sort` × `sortDirection`.
//!
//! The reference reads only the records as sent:
//! - sessions per semantics §8.3 (records ordered by `t`, then batch, then index; a new
//!   implicit start closes the open session at its last record; an unmatched stop is ignored);
//! - active days per §4: sync days, record days, and days a session `[start, end)` covers;
//! - per period P (clipped to the range, keyed by its true start): `U_P` = filtered
//!   installations active in P, `S_P` = their sessions starting in P, runtime hours = exact
//!   overlap ms of their sessions with P / 3,600,000;
//! - items match events per reporting-api §5 (regex unanchored; a null category is `""` for a
//!   category regex; `category: null` selects exactly the uncategorised events), a combination
//!   counts the union of its matches once, restricted to the tier (`basic` for the timeline,
//!   `advanced` for the full report);
//! - numbers are exact rationals rounded once, half away from zero, to 2 decimals; `/ 0` = 0.0.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::helpers::*;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

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

/// The UTC day of an instant in ms.
fn day_of(t: i64) -> NaiveDate {
    Utc.timestamp_millis_opt(t).single().expect("valid ms").date_naive()
}

/// 00:00 UTC of a day, in ms.
fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis()
}

fn hms(t: i64) -> String {
    Utc.timestamp_millis_opt(t).single().expect("valid ms").format("%d %H:%M:%S").to_string()
}

// ---------------------------------------------------------------------------------------------
// The fleet as generated and sent.
// ---------------------------------------------------------------------------------------------

/// The events the fleets send: (category, name).
const KINDS: [(Option<&str>, &str); 4] =
    [(Some("File"), "Open"), (Some("File"), "Save"), (Some("File"), "Export"), (None, "Startup")];
/// Events never sent (one of them may be pre-registered by the PUT).
const UNSEEN: [(Option<&str>, &str); 3] = [(Some("File"), "Print"), (None, "Open"), (Some("Edit"), "Open")];
/// Numeric event values, in quarters (exact in binary floating point).
const QUARTERS: [i64; 6] = [4, 10, 1, 40, -6, 15];
/// Text event values: they count 0 in custom values, even when they look numeric.
const TEXTS: [&str; 2] = ["big", "12"];

/// An event `value` as sent.
#[derive(Debug, Clone, Copy)]
enum Val {
    Absent,
    Null,
    /// A number, in quarters.
    Num(i64),
    Text(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    /// Starts 08:00–10:00, ends by 12:50.
    Morning,
    /// Starts 13:00–15:00, ends by 20:00.
    Afternoon,
    /// Starts 22:00–23:50 and runs past midnight (ends 00:01–04:00 the next day).
    Night,
    /// Starts 20:00–21:50 and ends 00:01–04:00 two days later, so it covers a whole day that
    /// may hold no record and no sync. A night session the same day overlaps it.
    Long,
}

#[derive(Debug, Clone)]
struct EventPlan {
    kind: usize,
    /// Where in the session, in thousandths of its planned length; -1 is exactly the start
    /// and 1001 exactly the planned end (ties: the batch order decides).
    at: i64,
    value: Val,
}

#[derive(Debug, Clone)]
struct SessionPlan {
    day: u32,
    slot: Slot,
    offset_s: i64,
    len_s: i64,
    /// No `sessionStop`: the session ends at its last record.
    crash: bool,
    /// A `heartbeat` 30 s before the planned end (the last record of a crash session).
    heartbeat: bool,
    events: Vec<EventPlan>,
}

impl SessionPlan {
    /// Planned start and end (the end is the stop's `t`; a crash session sends no stop).
    fn bounds(&self) -> (i64, i64) {
        let base = ms(2024, 3, self.day, 0, 0);
        match self.slot {
            Slot::Morning => {
                let start = base + 8 * HOUR_MS + self.offset_s * 1000;
                (start, start + (60 + self.len_s % 10_140) * 1000)
            }
            Slot::Afternoon => {
                let start = base + 13 * HOUR_MS + self.offset_s * 1000;
                (start, start + (60 + self.len_s % 17_940) * 1000)
            }
            Slot::Night => {
                let start = base + 22 * HOUR_MS + (self.offset_s % 6600) * 1000;
                (start, base + DAY_MS + (60 + self.len_s % 14_340) * 1000)
            }
            Slot::Long => {
                let start = base + 20 * HOUR_MS + (self.offset_s % 6600) * 1000;
                (start, base + 2 * DAY_MS + (60 + self.len_s % 14_340) * 1000)
            }
        }
    }

    /// The session's records with their `t`.
    fn records(&self) -> Vec<(i64, Value)> {
        let (start, end) = self.bounds();
        let mut out = vec![(start, json!({"kind": "sessionStart", "t": start}))];
        let mut events: Vec<(i64, Value)> = self
            .events
            .iter()
            .map(|e| {
                let t = match e.at {
                    -1 => start,
                    1001 => end,
                    at => start + 1000 + at * (end - start - 2000) / 1000,
                };
                let (category, name) = KINDS[e.kind];
                let mut r = json!({"kind": "event", "t": t, "category": category, "name": name});
                if category.is_none() && e.at % 2 == 0 {
                    r.as_object_mut().expect("object").remove("category"); // left out = null
                }
                match e.value {
                    Val::Absent => {}
                    Val::Null => r["value"] = Value::Null,
                    Val::Num(q) => r["value"] = json!(q as f64 / 4.0),
                    Val::Text(s) => r["value"] = json!(s),
                }
                (t, r)
            })
            .collect();
        if self.heartbeat {
            events.push((end - 30_000, json!({"kind": "heartbeat", "t": end - 30_000})));
        }
        events.sort_by_key(|e| e.0);
        out.extend(events);
        if !self.crash {
            out.push((end, json!({"kind": "sessionStop", "t": end})));
        }
        out
    }
}

/// One installation: its sessions, the days of extra empty syncs, and whether each batch is
/// written in reverse order.
#[derive(Debug, Clone)]
struct Installation {
    sessions: Vec<SessionPlan>,
    contacts: BTreeSet<u32>,
    /// A `sessionStop` at 06:00 that day: ignored, unless a long session is still open then.
    stray_stop: Option<u32>,
    reversed: bool,
}

impl Installation {
    /// Sessions at most one per (day, slot), in time order, all ending by 03-15; no session
    /// starts the day after a long one.
    fn normalise(mut self) -> Installation {
        for s in &mut self.sessions {
            if s.slot == Slot::Long && s.day >= 13 {
                s.slot = Slot::Night;
            }
            if s.slot == Slot::Night && s.day >= 14 {
                s.slot = Slot::Afternoon;
            }
        }
        self.sessions.sort_by_key(|s| (s.day, s.slot));
        self.sessions.dedup_by_key(|s| (s.day, s.slot));
        let long_days: Vec<u32> = self.sessions.iter().filter(|s| s.slot == Slot::Long).map(|s| s.day).collect();
        self.sessions.retain(|s| !long_days.contains(&(s.day.wrapping_sub(1))));
        self
    }

    /// The syncs, in order: (receive day, records as written in the batch).
    fn syncs(&self) -> Vec<(NaiveDate, Vec<Value>)> {
        let mut by_day: BTreeMap<NaiveDate, Vec<(i64, Value)>> = BTreeMap::new();
        for s in &self.sessions {
            for (t, r) in s.records() {
                by_day.entry(day_of(t)).or_default().push((t, r));
            }
        }
        for d in &self.contacts {
            by_day.entry(day(*d)).or_default();
        }
        if let Some(d) = self.stray_stop {
            let t = ms(2024, 3, d, 6, 0);
            by_day.entry(day(d)).or_default().push((t, json!({"kind": "sessionStop", "t": t})));
        }
        by_day
            .into_iter()
            .map(|(d, recs)| {
                let mut recs: Vec<Value> = recs.into_iter().map(|(_, r)| r).collect();
                if self.reversed {
                    recs.reverse();
                }
                (d, recs)
            })
            .collect()
    }
}

fn client_id(index: usize) -> String {
    format!("{:016X}", 0xE7E7_0000u64 + index as u64)
}

fn val_strategy() -> impl Strategy<Value = Val> {
    prop_oneof![
        3 => Just(Val::Absent),
        1 => Just(Val::Null),
        4 => proptest::sample::select(QUARTERS.to_vec()).prop_map(Val::Num),
        2 => proptest::sample::select(TEXTS.to_vec()).prop_map(Val::Text),
    ]
}

fn session_strategy() -> impl Strategy<Value = SessionPlan> {
    let at = prop_oneof![16 => 0i64..=1000, 2 => Just(500i64), 1 => Just(-1i64), 1 => Just(1001i64)];
    let event = (0..KINDS.len(), at, val_strategy()).prop_map(|(kind, at, value)| EventPlan { kind, at, value });
    (
        1u32..=14,
        prop_oneof![
            4 => Just(Slot::Morning),
            4 => Just(Slot::Afternoon),
            2 => Just(Slot::Night),
            1 => Just(Slot::Long)
        ],
        0i64..7200,
        0i64..20_000,
        proptest::bool::weighted(0.3),
        proptest::bool::weighted(0.2),
        proptest::collection::vec(event, 0..8),
    )
        .prop_map(|(day, slot, offset_s, len_s, crash, heartbeat, events)| SessionPlan {
            day,
            slot,
            offset_s,
            len_s,
            crash,
            heartbeat,
            events,
        })
}

fn fleet_strategy() -> impl Strategy<Value = Vec<Installation>> {
    let installation = (
        proptest::collection::vec(session_strategy(), 1..=7),
        proptest::collection::btree_set(1u32..=14, 0..=2),
        proptest::option::weighted(0.15, 1u32..=14),
        proptest::bool::weighted(0.25),
    )
        .prop_map(|(sessions, contacts, stray_stop, reversed)| {
            Installation { sessions, contacts, stray_stop, reversed }.normalise()
        });
    proptest::collection::vec(installation, 2..=6)
}

/// An event's report flags, as set per case.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tier {
    /// Left out of the PUT: a newly seen event is basic only.
    Default,
    BasicOnly,
    Advanced,
    Off,
}

impl Tier {
    fn basic(self) -> bool {
        self != Tier::Off
    }
    fn advanced(self) -> bool {
        self == Tier::Advanced
    }
}

fn tier_strategy() -> impl Strategy<Value = Tier> {
    prop_oneof![2 => Just(Tier::Default), 2 => Just(Tier::BasicOnly), 4 => Just(Tier::Advanced), 2 => Just(Tier::Off)]
}

/// The flags of [`KINDS`], and of `UNSEEN[0]` (pre-registered unless Default).
#[derive(Debug, Clone)]
struct Flags {
    kinds: [Tier; 4],
    unseen: Tier,
}

impl Flags {
    fn put_body(&self) -> Option<Value> {
        let listed: Vec<Value> = KINDS
            .iter()
            .zip(self.kinds)
            .chain(std::iter::once((&UNSEEN[0], self.unseen)))
            .filter(|(_, t)| *t != Tier::Default)
            .map(|((c, n), t)| json!({"category": c, "name": n, "basic": t.basic(), "advanced": t.advanced()}))
            .collect();
        (!listed.is_empty()).then(|| json!({ "events": listed }))
    }

    /// The tier of an event as the reference sees it (events never sent have no occurrences).
    fn of(&self, key: &EventKey) -> Tier {
        KINDS
            .iter()
            .position(|(c, n)| c.map(str::to_string) == key.0 && *n == key.1)
            .map(|i| self.kinds[i])
            .unwrap_or(Tier::Default)
    }
}

// ---------------------------------------------------------------------------------------------
// The reference model, built from the records as sent.
// ---------------------------------------------------------------------------------------------

type EventKey = (Option<String>, String);

#[derive(Debug, Clone)]
struct Occurrence {
    day: NaiveDate,
    key: EventKey,
    /// The numeric value in quarters; 0 for text, null or no value.
    quarters: i64,
}

#[derive(Debug, Clone, Copy)]
struct Session {
    start: i64,
    end: i64,
}

impl Session {
    /// Overlap in ms with the days [from, to].
    fn overlap(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        let lo = midnight(from).max(self.start);
        let hi = (midnight(to) + DAY_MS).min(self.end);
        (hi - lo).max(0)
    }
}

#[derive(Debug, Clone)]
struct Model {
    id: String,
    active: BTreeSet<NaiveDate>,
    sessions: Vec<Session>,
    occurrences: Vec<Occurrence>,
}

impl Model {
    /// Semantics §4 and §8 over the syncs of one installation (in seq order).
    fn build(id: String, syncs: &[(NaiveDate, Vec<Value>)]) -> Model {
        let mut active = BTreeSet::new();
        let mut records: Vec<(i64, usize, usize, &Value)> = Vec::new();
        for (seq, (received, recs)) in syncs.iter().enumerate() {
            active.insert(*received); // a contact
            for (index, r) in recs.iter().enumerate() {
                records.push((r["t"].as_i64().expect("t"), seq, index, r));
            }
        }
        records.sort_by_key(|r| (r.0, r.1, r.2));
        let mut sessions = Vec::new();
        let mut occurrences = Vec::new();
        // The open implicit session: (start, last record).
        let mut open: Option<(i64, i64)> = None;
        for (t, _, _, r) in records {
            active.insert(day_of(t));
            match r["kind"].as_str().expect("kind") {
                "sessionStart" => {
                    if let Some((start, last)) = open.take() {
                        sessions.push(Session { start, end: last.max(start) });
                    }
                    open = Some((t, t));
                }
                "sessionStop" => {
                    if let Some((start, _)) = open.take() {
                        sessions.push(Session { start, end: t.max(start) });
                    }
                }
                "heartbeat" => {
                    if let Some((_, last)) = open.as_mut() {
                        *last = (*last).max(t);
                    }
                }
                "event" => {
                    if let Some((_, last)) = open.as_mut() {
                        *last = (*last).max(t);
                    }
                    let quarters = r.get("value").and_then(Value::as_f64).map(|v| (v * 4.0) as i64).unwrap_or(0);
                    let key = (
                        r.get("category").and_then(Value::as_str).map(str::to_string),
                        r["name"].as_str().expect("name").to_string(),
                    );
                    occurrences.push(Occurrence { day: day_of(t), key, quarters });
                }
                other => panic!("unexpected record kind {other}"),
            }
        }
        if let Some((start, last)) = open {
            sessions.push(Session { start, end: last.max(start) });
        }
        for s in &sessions {
            if s.end > s.start {
                let mut d = day_of(s.start);
                while d <= day_of(s.end - 1) {
                    active.insert(d);
                    d += Duration::days(1);
                }
            }
        }
        Model { id, active, sessions, occurrences }
    }

    fn active_in(&self, from: NaiveDate, to: NaiveDate) -> bool {
        from <= to && self.active.range(from..=to).next().is_some()
    }

    fn sessions_started_in(&self, from: NaiveDate, to: NaiveDate) -> usize {
        self.sessions.iter().filter(|s| (from..=to).contains(&day_of(s.start))).count()
    }
}

/// A one-installation summary for failure messages.
fn describe(inst: &Installation, m: &Model) -> String {
    let mut lines = vec![format!(
        "  {} active days {:?}{}",
        m.id,
        m.active.iter().map(|d| d.day()).collect::<Vec<_>>(),
        if inst.reversed { " (batches reversed)" } else { "" }
    )];
    for s in &inst.sessions {
        let (start, end) = s.bounds();
        let events: Vec<String> = s
            .records()
            .iter()
            .filter(|(_, r)| r["kind"] == "event")
            .map(|(t, r)| {
                let category = r.get("category").and_then(Value::as_str).unwrap_or("null");
                let value = r.get("value").map(|v| format!(" value={v}")).unwrap_or_default();
                format!("{category}/{}@{}{value}", r["name"].as_str().unwrap_or("?"), hms(*t))
            })
            .collect();
        let stop = if s.crash { "no stop".to_string() } else { format!("stop {}", hms(end)) };
        lines.push(format!("    start {} {stop} [{}]", hms(start), events.join(", ")));
    }
    if !inst.contacts.is_empty() {
        lines.push(format!("    empty syncs on days {:?}", inst.contacts));
    }
    if let Some(d) = inst.stray_stop {
        lines.push(format!("    sessionStop at 03-{d:02} 06:00"));
    }
    let sessions: Vec<String> = m.sessions.iter().map(|s| format!("{}-{}", hms(s.start), hms(s.end))).collect();
    lines.push(format!("    reference sessions: {}", sessions.join(", ")));
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------------
// Requests.
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator for the requests of one case (splitmix64).
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
}

/// A regex of a small family the reference evaluates without a regex engine.
#[derive(Debug, Clone, Copy)]
enum Pat {
    Any,
    Empty,
    Contains(&'static str),
    Prefix(&'static str),
    Suffix(&'static str),
    OneOf(&'static [&'static str]),
}

impl Pat {
    fn source(self) -> String {
        match self {
            Pat::Any => ".*".into(),
            Pat::Empty => "^$".into(),
            Pat::Contains(s) => s.into(),
            Pat::Prefix(s) => format!("^{s}"),
            Pat::Suffix(s) => format!("{s}$"),
            Pat::OneOf(xs) => format!("^({})$", xs.join("|")),
        }
    }
    /// Unanchored, case-sensitive search (reporting-api §3.1).
    fn matches(self, v: &str) -> bool {
        match self {
            Pat::Any => true,
            Pat::Empty => v.is_empty(),
            Pat::Contains(s) => v.contains(s),
            Pat::Prefix(s) => v.starts_with(s),
            Pat::Suffix(s) => v.ends_with(s),
            Pat::OneOf(xs) => xs.contains(&v),
        }
    }
}

const NAME_PATS: [Pat; 7] = [
    Pat::Any,
    Pat::Prefix("S"),
    Pat::Suffix("t"),
    Pat::Contains("e"),
    Pat::OneOf(&["Open", "Save"]),
    Pat::Contains("x"),
    Pat::Contains("o"),
];
const CATEGORY_PATS: [Pat; 5] = [Pat::Any, Pat::Empty, Pat::Contains("Fi"), Pat::Prefix("E"), Pat::Suffix("e")];

#[derive(Debug, Clone)]
enum CatSel {
    /// `"category": null`, optionally with `"categoryType": "regex"` (still exactly null).
    Null {
        regex_type: bool,
    },
    Str(&'static str),
    Regex(Pat),
}

#[derive(Debug, Clone)]
enum NameSel {
    Str(&'static str),
    Regex(Pat),
}

#[derive(Debug, Clone)]
struct Member {
    cat: CatSel,
    name: NameSel,
    /// Writes `"categoryType"`/`"nameType": "string"` explicitly for string selectors.
    explicit_types: bool,
}

impl Member {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        match &self.cat {
            CatSel::Null { regex_type } => {
                if *regex_type {
                    m.insert("categoryType".into(), json!("regex"));
                } else if self.explicit_types {
                    m.insert("categoryType".into(), json!("string"));
                }
                m.insert("category".into(), Value::Null);
            }
            CatSel::Str(c) => {
                if self.explicit_types {
                    m.insert("categoryType".into(), json!("string"));
                }
                m.insert("category".into(), json!(c));
            }
            CatSel::Regex(p) => {
                m.insert("categoryType".into(), json!("regex"));
                m.insert("category".into(), json!(p.source()));
            }
        }
        match &self.name {
            NameSel::Str(n) => {
                if self.explicit_types {
                    m.insert("nameType".into(), json!("string"));
                }
                m.insert("name".into(), json!(n));
            }
            NameSel::Regex(p) => {
                m.insert("nameType".into(), json!("regex"));
                m.insert("name".into(), json!(p.source()));
            }
        }
        Value::Object(m)
    }

    fn matches(&self, key: &EventKey) -> bool {
        let cat = match &self.cat {
            CatSel::Null { .. } => key.0.is_none(),
            CatSel::Str(c) => key.0.as_deref() == Some(*c),
            CatSel::Regex(p) => p.matches(key.0.as_deref().unwrap_or("")),
        };
        let name = match &self.name {
            NameSel::Str(n) => key.1 == *n,
            NameSel::Regex(p) => p.matches(&key.1),
        };
        cat && name
    }
}

#[derive(Debug, Clone)]
enum Item {
    Single(Option<&'static str>, &'static str),
    Combo(String, Vec<Member>),
}

impl Item {
    fn to_json(&self) -> Value {
        match self {
            Item::Single(c, n) => json!({"category": c, "name": n}),
            Item::Combo(label, members) => {
                json!({"combiLabel": label, "combiArray": members.iter().map(Member::to_json).collect::<Vec<_>>()})
            }
        }
    }

    fn matches(&self, key: &EventKey) -> bool {
        match self {
            Item::Single(c, n) => key.0.as_deref() == *c && key.1 == *n,
            Item::Combo(_, members) => members.iter().any(|m| m.matches(key)),
        }
    }

    /// The leading members of a result entry.
    fn echo(&self) -> Map<String, Value> {
        let mut m = Map::new();
        match self {
            Item::Single(c, n) => {
                m.insert("category".into(), json!(c));
                m.insert("name".into(), json!(n));
            }
            Item::Combo(label, _) => {
                m.insert("combiLabel".into(), json!(label));
            }
        }
        m
    }

    /// The `alpha` sort key (reporting-api §11.3).
    fn alpha_key(&self) -> (String, String) {
        match self {
            Item::Single(c, n) => (c.unwrap_or("").to_string(), n.to_string()),
            Item::Combo(label, _) => (label.clone(), String::new()),
        }
    }
}

const LABELS: [&str; 5] = ["Any file op", "Ops \u{2265} 2", "Mixed", "Zeta", "A combo"];

fn gen_single(r: &mut Rng) -> (Option<&'static str>, &'static str) {
    if r.chance(75) {
        r.pick(&KINDS)
    } else {
        r.pick(&UNSEEN)
    }
}

fn gen_member(r: &mut Rng) -> Member {
    let explicit_types = r.chance(25);
    if r.chance(35) {
        let (c, n) = gen_single(r);
        let cat = match c {
            Some(c) => CatSel::Str(c),
            None => CatSel::Null { regex_type: false },
        };
        return Member { cat, name: NameSel::Str(n), explicit_types };
    }
    let cat = match r.below(4) {
        0 => CatSel::Str("File"),
        1 => CatSel::Null { regex_type: r.chance(50) },
        _ => CatSel::Regex(r.pick(&CATEGORY_PATS)),
    };
    let name = if r.chance(75) {
        NameSel::Regex(r.pick(&NAME_PATS))
    } else {
        NameSel::Str(r.pick(&["Open", "Save", "Export", "Startup"]))
    };
    Member { cat, name, explicit_types }
}

/// 1–`max` items: distinct single events and combinations with distinct labels.
fn gen_items(r: &mut Rng, max: usize) -> Vec<Item> {
    let n = 1 + r.below(max);
    let mut items = Vec::new();
    let mut labels = LABELS.to_vec();
    for _ in 0..n {
        if r.chance(55) {
            let (c, n) = gen_single(r);
            if !items.iter().any(|i| matches!(i, Item::Single(c2, n2) if *c2 == c && *n2 == n)) {
                items.push(Item::Single(c, n));
            }
        } else {
            let label = labels.remove(r.below(labels.len()));
            let members = (0..1 + r.below(3)).map(|_| gen_member(r)).collect();
            items.push(Item::Combo(label.into(), members));
        }
    }
    items
}

/// A `globalFilters` on `clientId`: the installations it admits.
#[derive(Debug, Clone)]
struct ClientFilter {
    ids: Vec<String>,
    /// `"type": "string"` with one id instead of a stringArray.
    single: bool,
}

impl ClientFilter {
    fn to_json(&self) -> Value {
        if self.single {
            json!({"clientId": {"type": "string", "value": self.ids[0]}})
        } else {
            json!({"clientId": {"type": "stringArray", "value": self.ids}})
        }
    }
    fn admits(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i == id)
    }
}

fn gen_filter(r: &mut Rng, fleet_size: usize) -> Option<ClientFilter> {
    if !r.chance(30) {
        return None;
    }
    let mut ids: Vec<String> = (0..fleet_size).filter(|_| r.chance(50)).map(client_id).collect();
    if ids.is_empty() || r.chance(15) {
        ids.push("00000000DEADBEEF".into()); // no such installation
    }
    let single = ids.len() == 1 && r.chance(50);
    Some(ClientFilter { ids, single })
}

/// A report range: mostly within the data, sometimes from before it or wholly after today.
fn gen_range(r: &mut Rng) -> (NaiveDate, NaiveDate) {
    let start = match r.below(100) {
        0..=13 => day(1) - Duration::days(r.below(6) as i64),
        14..=21 => day(15 + r.below(8) as u32),
        _ => day(1 + r.below(14) as u32),
    };
    let stop = (start + Duration::days(r.below(16) as i64)).min(day(25));
    (start.min(stop), stop)
}

/// A date as written: absolute, or relative to today (`NOW`, `now-3`) when `relative` and not
/// in the future.
fn date_text(d: NaiveDate, relative: bool) -> Value {
    let back = (today() - d).num_days();
    match (relative, back) {
        (true, 0) => json!("NOW"),
        (true, n) if n > 0 && n % 2 == 0 => json!(format!("NOW-{n}")),
        (true, n) if n > 0 => json!(format!("now-{n}")),
        _ => json!(ymd(d)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
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
            Split::Week => d - Duration::days(d.weekday().num_days_from_monday() as i64),
            Split::Month => d.with_day(1).expect("first of month"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum View {
    UsageCount,
    CustomValues,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Divisor {
    Users,
    Sessions,
    Runtime,
    UsageCounts,
}

impl Divisor {
    fn name(self) -> &'static str {
        match self {
            Divisor::Users => "users",
            Divisor::Sessions => "sessions",
            Divisor::Runtime => "runtime",
            Divisor::UsageCounts => "usageCounts",
        }
    }
}

#[derive(Debug, Clone)]
struct TimelineQ {
    start: NaiveDate,
    stop: NaiveDate,
    split: Split,
    view: View,
    /// Leave `dataView` out (it defaults to usageCount).
    omit_view: bool,
    divisor: Option<Divisor>,
    /// Write a missing divisor as an explicit `null` rather than leaving it out.
    null_divisor: bool,
    items: Vec<Item>,
    filter: Option<ClientFilter>,
    /// Dates relative to today where possible.
    relative: bool,
    /// The older spellings `usageCounts` (dataView) and `usageCount` (divisor), §1.11.
    aliases: bool,
}

impl TimelineQ {
    fn body(&self) -> Value {
        let mut b = json!({"startDate": date_text(self.start, self.relative), "stopDate": date_text(self.stop, self.relative),
                           "dateSplit": self.split.name()});
        if !(self.omit_view && self.view == View::UsageCount) {
            b["dataView"] = json!(match self.view {
                View::UsageCount if self.aliases => "usageCounts",
                View::UsageCount => "usageCount",
                View::CustomValues => "customValues",
            });
        }
        match self.divisor {
            Some(Divisor::UsageCounts) if self.aliases => b["divisor"] = json!("usageCount"),
            Some(d) => b["divisor"] = json!(d.name()),
            None if self.null_divisor => b["divisor"] = Value::Null,
            None => {}
        }
        b["events"] = Value::Array(self.items.iter().map(Item::to_json).collect());
        if let Some(f) = &self.filter {
            b["globalFilters"] = f.to_json();
        }
        b
    }
}

fn gen_timeline(r: &mut Rng, fleet_size: usize) -> TimelineQ {
    let (start, stop) = gen_range(r);
    let (view, divisor) = r.pick(&[
        (View::UsageCount, None),
        (View::UsageCount, Some(Divisor::Users)),
        (View::UsageCount, Some(Divisor::Sessions)),
        (View::UsageCount, Some(Divisor::Runtime)),
        (View::CustomValues, None),
        (View::CustomValues, Some(Divisor::Users)),
        (View::CustomValues, Some(Divisor::Sessions)),
        (View::CustomValues, Some(Divisor::Runtime)),
        (View::CustomValues, Some(Divisor::UsageCounts)),
    ]);
    TimelineQ {
        start,
        stop,
        split: r.pick(&[Split::Day, Split::Day, Split::Week, Split::Month]),
        view,
        omit_view: r.chance(30),
        divisor,
        null_divisor: r.chance(30),
        items: gen_items(r, 4),
        filter: gen_filter(r, fleet_size),
        relative: r.chance(15),
        aliases: r.chance(15),
    }
}

#[derive(Debug, Clone)]
struct FullQ {
    start: NaiveDate,
    stop: NaiveDate,
    items: Option<Vec<Item>>,
    /// None = left out (alpha); Some(true) = eventCounts.
    sort: Option<bool>,
    /// None = left out; Some(true) = desc.
    desc: Option<bool>,
    filter: Option<ClientFilter>,
    /// Dates relative to today where possible.
    relative: bool,
}

impl FullQ {
    fn body(&self) -> Value {
        let mut b =
            json!({"startDate": date_text(self.start, self.relative), "stopDate": date_text(self.stop, self.relative)});
        if let Some(items) = &self.items {
            b["events"] = Value::Array(items.iter().map(Item::to_json).collect());
        }
        if let Some(s) = self.sort {
            b["sort"] = json!(if s { "eventCounts" } else { "alpha" });
        }
        if let Some(d) = self.desc {
            b["sortDirection"] = json!(if d { "desc" } else { "asc" });
        }
        if let Some(f) = &self.filter {
            b["globalFilters"] = f.to_json();
        }
        b
    }
}

fn gen_full(r: &mut Rng, fleet_size: usize) -> FullQ {
    let (start, stop) = gen_range(r);
    FullQ {
        start,
        stop,
        items: r.chance(60).then(|| gen_items(r, 5)),
        sort: r.pick(&[None, Some(false), Some(true), Some(true)]),
        desc: r.pick(&[None, None, Some(false), Some(true)]),
        filter: gen_filter(r, fleet_size),
        relative: r.chance(15),
    }
}

// ---------------------------------------------------------------------------------------------
// The reference.
// ---------------------------------------------------------------------------------------------

/// `num / den` rounded half away from zero to 2 decimals, as a JSON float; `/ 0` gives 0.0.
fn ratio(num: i128, den: i128) -> Value {
    if den == 0 {
        return json!(0.0);
    }
    let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
    let hundredths = (200 * num.abs() + den) / (2 * den) * num.signum();
    json!(hundredths as f64 / 100.0)
}

/// The periods of a range: (key, first counted day, last counted day).
fn periods(start: NaiveDate, stop: NaiveDate, split: Split) -> Vec<(NaiveDate, NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate, NaiveDate)> = Vec::new();
    let mut d = start;
    while d <= stop {
        let k = split.key(d);
        match out.last_mut() {
            Some(p) if p.0 == k => p.2 = d,
            _ => out.push((k, d, d)),
        }
        d += Duration::days(1);
    }
    out
}

/// The expected basic timeline.
fn timeline(q: &TimelineQ, fleet: &[Model], flags: &Flags) -> Value {
    let pass: Vec<&Model> = fleet.iter().filter(|m| q.filter.as_ref().is_none_or(|f| f.admits(&m.id))).collect();
    let mut result = Map::new();
    for (key, from, to) in periods(q.start, q.stop, q.split) {
        // Days after today hold no data.
        let to = to.min(today());
        let users = pass.iter().filter(|m| m.active_in(from, to)).count() as i128;
        let sessions = pass.iter().map(|m| m.sessions_started_in(from, to)).sum::<usize>() as i128;
        let runtime_ms: i128 =
            pass.iter().flat_map(|m| m.sessions.iter()).map(|s| s.overlap(from, to) as i128).sum::<i128>();
        let mut entries = Vec::new();
        for item in &q.items {
            let occurrences: Vec<&Occurrence> = pass
                .iter()
                .flat_map(|m| m.occurrences.iter())
                .filter(|o| (from..=to).contains(&o.day) && flags.of(&o.key).basic() && item.matches(&o.key))
                .collect();
            let n = occurrences.len() as i128;
            let quarters: i128 = occurrences.iter().map(|o| o.quarters as i128).sum();
            let value = match (q.view, q.divisor) {
                (View::UsageCount, None) => json!(n),
                (View::UsageCount, Some(Divisor::Users)) => ratio(n, users),
                (View::UsageCount, Some(Divisor::Sessions)) => ratio(n, sessions),
                (View::UsageCount, Some(Divisor::Runtime)) => ratio(n * HOUR_MS as i128, runtime_ms),
                (View::UsageCount, Some(Divisor::UsageCounts)) => unreachable!("not generated"),
                (View::CustomValues, None) => ratio(quarters, 4),
                (View::CustomValues, Some(Divisor::Users)) => ratio(quarters, 4 * users),
                (View::CustomValues, Some(Divisor::Sessions)) => ratio(quarters, 4 * sessions),
                (View::CustomValues, Some(Divisor::Runtime)) => ratio(quarters * HOUR_MS as i128, 4 * runtime_ms),
                (View::CustomValues, Some(Divisor::UsageCounts)) => ratio(quarters, 4 * n),
            };
            let mut entry = item.echo();
            entry.insert("value".into(), value);
            entries.push(Value::Object(entry));
        }
        result.insert(ymd(key), Value::Array(entries));
    }
    json!({ "result": Value::Object(result) })
}

/// usageFrequency bins (semantics §9.3): (low, high, label).
const FREQUENCY_BINS: [(usize, usize, &str); 10] = [
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 3, "3"),
    (4, 5, "4 - 5"),
    (6, 10, "6 - 10"),
    (11, 20, "11 - 20"),
    (21, 50, "21 - 50"),
    (51, 100, "51 - 100"),
    (101, 500, "101 - 500"),
    (501, usize::MAX, "\u{2265} 501"),
];

/// The expected advanced fullReport.
fn full_report(q: &FullQ, fleet: &[Model], flags: &Flags) -> Value {
    let (from, to) = (q.start, q.stop.min(today()));
    let population: Vec<&Model> =
        fleet.iter().filter(|m| q.filter.as_ref().is_none_or(|f| f.admits(&m.id)) && m.active_in(from, to)).collect();
    let in_range = |o: &&Occurrence| (from..=to).contains(&o.day) && flags.of(&o.key).advanced();
    let items: Vec<Item> = match &q.items {
        Some(items) => items.clone(),
        None => {
            let keys: BTreeSet<(String, String)> = population
                .iter()
                .flat_map(|m| m.occurrences.iter())
                .filter(in_range)
                .map(|o| (o.key.0.clone().unwrap_or_default(), o.key.1.clone()))
                .collect();
            // Only the events of KINDS are sent; map each key back to its static names.
            let mut items: Vec<Item> = keys
                .iter()
                .map(|(c, n)| {
                    let (cat, name) =
                        *KINDS.iter().find(|(kc, kn)| kc.unwrap_or("") == c && kn == n).expect("only KINDS are sent");
                    Item::Single(cat, name)
                })
                .collect();
            items.sort_by_key(Item::alpha_key);
            items
        }
    };
    let all_sessions = population.iter().map(|m| m.sessions_started_in(from, to)).sum::<usize>() as i128;
    let users = population.len() as i128;
    let mut rows: Vec<(Item, i128, Value)> = Vec::new();
    for item in items {
        let per_user: Vec<(usize, &Model)> = population
            .iter()
            .map(|m| (m.occurrences.iter().filter(in_range).filter(|o| item.matches(&o.key)).count(), *m))
            .collect();
        let n = per_user.iter().map(|(c, _)| *c).sum::<usize>() as i128;
        let used: Vec<&(usize, &Model)> = per_user.iter().filter(|(c, _)| *c > 0).collect();
        let used_sessions = used.iter().map(|(_, m)| m.sessions_started_in(from, to)).sum::<usize>() as i128;
        let mut frequency = Map::new();
        for (lo, hi, label) in FREQUENCY_BINS {
            frequency.insert(label.into(), json!(used.iter().filter(|(c, _)| (lo..=hi).contains(c)).count()));
        }
        let mut e = item.echo();
        e.insert("eventCounts".into(), json!(n));
        e.insert("uniqueUsersUsedAtLeastOnce".into(), json!(used.len()));
        e.insert("uniqueUsersNeverUsed".into(), json!(users - used.len() as i128));
        e.insert("averageEventCountPerUserAtLeastOnce".into(), ratio(n, used.len() as i128));
        e.insert("averageEventCountPerUserAll".into(), ratio(n, users));
        e.insert("averageEventCountPerSessionUsedAtLeastOnce".into(), ratio(n, used_sessions));
        e.insert("averageEventCountPerSessionAll".into(), ratio(n, all_sessions));
        e.insert("usageFrequency".into(), Value::Object(frequency));
        rows.push((item, n, Value::Object(e)));
    }
    let by_counts = q.sort == Some(true);
    let desc = q.desc.unwrap_or(by_counts);
    // A stable sort: ties keep request order in both directions.
    rows.sort_by(|a, b| {
        let o: Ordering = if by_counts { a.1.cmp(&b.1) } else { a.0.alpha_key().cmp(&b.0.alpha_key()) };
        if desc {
            o.reverse()
        } else {
            o
        }
    });
    json!({ "result": rows.into_iter().map(|r| r.2).collect::<Vec<_>>() })
}

// ---------------------------------------------------------------------------------------------
// The property test.
// ---------------------------------------------------------------------------------------------

/// Timeline requests per case.
const TIMELINES_PER_CASE: usize = 16;
/// fullReport requests per case.
const FULL_REPORTS_PER_CASE: usize = 6;

const TIMELINE: &str = "/v3/reporting/eventTracking/basic/timeline";
const FULL_REPORT: &str = "/v3/reporting/eventTracking/advanced/fullReport";

async fn ingest(app: &TestApp, fleet: &[Installation]) -> Vec<Model> {
    let mut syncs = Vec::new();
    let mut models = Vec::new();
    for (i, inst) in fleet.iter().enumerate() {
        let batches = inst.syncs();
        models.push(Model::build(client_id(i), &batches));
        for (d, records) in batches {
            let received = d.and_hms_opt(23, 59, i as u32).expect("time").and_utc();
            syncs.push((received, client_id(i), records));
        }
    }
    syncs.sort_by_key(|s| s.0);
    for (received, client, records) in syncs {
        app.sync_at(received, &client, records).await;
    }
    app.settle().await;
    app.set_now(at(2024, 3, 20, 12, 0, 0));
    models
}

async fn check_case(fleet: Vec<Installation>, flags: Flags, seed: u64) -> Result<(), TestCaseError> {
    let app = TestApp::spawn().await;
    let models = ingest(&app, &fleet).await;
    app.login().await;
    if let Some(body) = flags.put_body() {
        let resp = app
            .client
            .put(format!("{}/v3/event-tracking/{PRODUCT}", app.base))
            .headers(TestApp::origin_headers())
            .json(&body)
            .send()
            .await
            .expect("request");
        prop_assert_eq!(resp.status().as_u16(), 200, "PUT event-tracking {}", body);
    }
    let mut rng = Rng(seed);
    let mut requests: Vec<(&str, Value, Value)> = Vec::new();
    for _ in 0..TIMELINES_PER_CASE {
        let q = gen_timeline(&mut rng, models.len());
        requests.push((TIMELINE, q.body(), timeline(&q, &models, &flags)));
    }
    for _ in 0..FULL_REPORTS_PER_CASE {
        let q = gen_full(&mut rng, models.len());
        requests.push((FULL_REPORT, q.body(), full_report(&q, &models, &flags)));
    }
    let mut mismatches = Vec::new();
    for (path, body, expected) in &requests {
        let resp = app.post_json(&format!("{path}/{PRODUCT}"), body).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let expected_text = usagi_types::to_ascii_json(expected);
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        if status != 200 || parsed.as_ref() != Some(expected) || text != expected_text {
            let why =
                if status == 200 && parsed.as_ref() == Some(expected) { " (same JSON, other text/order)" } else { "" };
            mismatches.push(format!(
                "POST {path}/{PRODUCT}{why}\n  request:  {body}\n  expected: 200 {expected_text}\n  actual:   {status} {text}"
            ));
        }
    }
    if !mismatches.is_empty() {
        let described: Vec<String> = fleet.iter().zip(&models).map(|(inst, m)| describe(inst, m)).collect();
        let shown = mismatches.len().min(3);
        return Err(TestCaseError::fail(format!(
            "{} of {} requests differ from the reference (today 2024-03-20); the first {shown}:\nflags: {:?} \
             (UNSEEN[0] {:?})\nfleet:\n{}\n{}",
            mismatches.len(),
            requests.len(),
            KINDS.iter().zip(flags.kinds).collect::<Vec<_>>(),
            flags.unseen,
            described.join("\n"),
            mismatches[..shown].join("\n")
        )));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES overrides the default of 40 cases (each with a fleet and 22 requests).
        cases: if std::env::var_os("PROPTEST_CASES").is_some() { ProptestConfig::default().cases } else { 40 },
        max_shrink_iters: 64,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Random fleets, flags and requests: basic timelines and advanced full reports.
    #[test]
    fn event_reports_match_the_reference(
        fleet in fleet_strategy(),
        kinds in proptest::array::uniform4(tier_strategy()),
        unseen in tier_strategy(),
        seed in any::<u64>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(check_case(fleet, Flags { kinds, unseen }, seed))?;
    }
}

/// The reference itself on Example 3 of semantics.md (with Q's explicit session written as an
/// implicit one, which changes nothing there), so a wrong reference cannot hide behind
/// agreeing with a wrong server.
#[test]
fn reference_reproduces_example_3() {
    let start = |t| json!({"kind": "sessionStart", "t": t});
    let stop = |t| json!({"kind": "sessionStop", "t": t});
    let open = |t| json!({"kind": "event", "t": t, "category": "File", "name": "Open"});
    let save = |t| json!({"kind": "event", "t": t, "category": "File", "name": "Save", "value": 2.5});
    let p = Model::build(
        "1111111111111111".into(),
        &[
            (day(1), vec![start(ms(2024, 3, 1, 9, 0)), open(ms(2024, 3, 1, 9, 10)), stop(ms(2024, 3, 1, 9, 30))]),
            (day(2), vec![start(ms(2024, 3, 2, 10, 0)), open(ms(2024, 3, 2, 10, 5)), open(ms(2024, 3, 2, 10, 20))]),
            (day(3), vec![start(ms(2024, 3, 3, 8, 0)), stop(ms(2024, 3, 3, 8, 5))]),
        ],
    );
    let q = Model::build(
        "2222222222222222".into(),
        &[
            (day(4), vec![start(ms(2024, 3, 4, 22, 0)), open(ms(2024, 3, 4, 23, 0))]),
            (day(5), vec![save(ms(2024, 3, 5, 1, 0)), save(ms(2024, 3, 5, 1, 0)), stop(ms(2024, 3, 5, 2, 0))]),
        ],
    );
    assert_eq!(p.sessions.iter().map(|s| (s.end - s.start) / 60_000).collect::<Vec<_>>(), [30, 20, 5]);
    assert_eq!(q.active, [day(4), day(5)].into_iter().collect());
    let fleet = [p, q];
    let flags = Flags { kinds: [Tier::Advanced; 4], unseen: Tier::Default };
    let open_item = Item::Single(Some("File"), "Open");
    let tl = |divisor| TimelineQ {
        start: day(1),
        stop: day(7),
        split: Split::Day,
        view: View::UsageCount,
        omit_view: false,
        divisor,
        null_divisor: false,
        items: vec![open_item.clone()],
        filter: None,
        relative: false,
        aliases: false,
    };
    let values = |v: Value| -> Vec<Value> {
        v["result"].as_object().expect("periods").values().map(|e| e[0]["value"].clone()).collect()
    };
    let f = |x: f64| json!(x);
    assert_eq!(
        values(timeline(&tl(Some(Divisor::Users)), &fleet, &flags)),
        [f(1.0), f(2.0), f(0.0), f(1.0), f(0.0), f(0.0), f(0.0)]
    );
    let runtime = values(timeline(&tl(Some(Divisor::Runtime)), &fleet, &flags));
    assert_eq!((&runtime[0], &runtime[1], &runtime[3]), (&f(2.0), &f(6.0), &f(0.5)));
    assert_eq!(
        values(timeline(&tl(None), &fleet, &flags)),
        [json!(1), json!(2), json!(0), json!(1), json!(0), json!(0), json!(0)]
    );
    let week = TimelineQ { split: Split::Week, ..tl(None) };
    assert_eq!(
        serde_json::to_string(&timeline(&week, &fleet, &flags)).expect("json"),
        r#"{"result":{"2024-02-26":[{"category":"File","name":"Open","value":3}],"2024-03-04":[{"category":"File","name":"Open","value":1}]}}"#
    );
    let save_custom = TimelineQ {
        start: day(4),
        stop: day(5),
        view: View::CustomValues,
        divisor: Some(Divisor::UsageCounts),
        items: vec![Item::Single(Some("File"), "Save")],
        ..tl(None)
    };
    assert_eq!(values(timeline(&save_custom, &fleet, &flags)), [f(0.0), f(2.5)]);
    let full = FullQ {
        start: day(1),
        stop: day(7),
        items: None,
        sort: Some(false),
        desc: None,
        filter: None,
        relative: false,
    };
    let expected = r#"{"result":[
 {"category":"File","name":"Open","eventCounts":4,"uniqueUsersUsedAtLeastOnce":2,"uniqueUsersNeverUsed":0,
  "averageEventCountPerUserAtLeastOnce":2.0,"averageEventCountPerUserAll":2.0,
  "averageEventCountPerSessionUsedAtLeastOnce":1.0,"averageEventCountPerSessionAll":1.0,
  "usageFrequency":{"1":1,"2":0,"3":1,"4 - 5":0,"6 - 10":0,"11 - 20":0,"21 - 50":0,"51 - 100":0,"101 - 500":0,"\u2265 501":0}},
 {"category":"File","name":"Save","eventCounts":2,"uniqueUsersUsedAtLeastOnce":1,"uniqueUsersNeverUsed":1,
  "averageEventCountPerUserAtLeastOnce":2.0,"averageEventCountPerUserAll":1.0,
  "averageEventCountPerSessionUsedAtLeastOnce":2.0,"averageEventCountPerSessionAll":0.5,
  "usageFrequency":{"1":0,"2":1,"3":0,"4 - 5":0,"6 - 10":0,"11 - 20":0,"21 - 50":0,"51 - 100":0,"101 - 500":0,"\u2265 501":0}}]}"#;
    assert_eq!(usagi_types::to_ascii_json(&full_report(&full, &fleet, &flags)), compact_ascii(expected));
    // A combination of both events counts each occurrence once; sorted by eventCounts.
    let any = Item::Combo(
        "Any file op".into(),
        vec![
            Member { cat: CatSel::Str("File"), name: NameSel::Str("Open"), explicit_types: false },
            Member { cat: CatSel::Str("File"), name: NameSel::Regex(Pat::Any), explicit_types: false },
        ],
    );
    let by_counts = FullQ {
        items: Some(vec![Item::Single(Some("File"), "Save"), any, open_item]),
        sort: Some(true),
        ..full.clone()
    };
    let v = full_report(&by_counts, &fleet, &flags);
    let order: Vec<(Value, Value)> = v["result"]
        .as_array()
        .expect("array")
        .iter()
        .map(|e| (e["combiLabel"].clone(), e["eventCounts"].clone()))
        .collect();
    assert_eq!(order, [(json!("Any file op"), json!(6)), (Value::Null, json!(4)), (Value::Null, json!(2))]);
    // Rounding: half away from zero on exact values.
    assert_eq!((ratio(1, 8), ratio(-1, 8), ratio(2, 3), ratio(5, 0)), (f(0.13), f(-0.13), f(0.67), f(0.0)));
}

/// Compacts a JSON text and writes it as the server does (pure ASCII).
fn compact_ascii(text: &str) -> String {
    let v: Value = serde_json::from_str(text).expect("valid JSON");
    usagi_types::to_ascii_json(&v)
}
