//! The logical warehouse schema every backend provides and report SQL reads.
//!
//! Fact tables (append-only, one row per record):
//! - `contacts(product_id, client_id, received_at, day, batch_id, seq, lsn)`
//! - `events(product_id, client_id, t, day, seq, idx, session_id, category, name, num_value, text_value, custom, received_at, batch_id)`
//! - `session_marks(product_id, client_id, t, day, seq, idx, kind, session_id, received_at, batch_id)` — kind 1 start, 2 stop, 3 heartbeat
//! - `exceptions(product_id, client_id, t, day, seq, idx, session_id, class_name, method_name, message, stack_trace, received_at, batch_id)`
//! - `observations(product_id, client_id, t, day, seq, idx, source, evidence, session_id, payload)` — `payload`
//!   holds the envelope, geography, license and opt-out details as JSON; a `properties` group's is `{}`
//!   (its values are its leaves in `property_changes`; warehouses loaded before 2026-11-27 hold a copy)
//! - `property_changes(product_id, client_id, t, day, seq, idx, name, value, received_at)` — one row per property leaf
//!
//! Rollups (rebuilt for the installations each load touches, so they always equal
//! a from-scratch computation over the facts plus the retention base below):
//! - `sessions(product_id, client_id, session_key, grp, start_t, end_t, start_day)` — semantics §8
//! - `client_days(product_id, client_id, day, runtime_ms, sessions, first_day, <standard property columns>)` —
//!   one row per active day (semantics §4), `first_day` on the installation day, and the end-of-day value of
//!   every standard property (`columns`)
//! - `clients(product_id, client_id, date_installed, date_last_seen, lifetime_sessions, lifetime_runtime_ms,
//!   opt_out_historical, opt_out_current, <every property column>, last_sync_at, active_days,
//!   lifetime_exceptions)` — semantics §4, §8.7, §11; standard properties hold their latest value, current
//!   ones their latest known value
//! - `client_events(product_id, client_id, category, name, n, first_day, last_day)` — all-time occurrences per event (§10)
//! - `event_days(product_id, client_id, day, category, name, n, value_sum)` — occurrences per installation,
//!   day and event, with the sum of their numeric values (text and null values count 0)
//! - `event_totals(product_id, day, category, name, n, value_sum)` — the same summed over installations
//! - `property_days(product_id, client_id, name, day, value)` — the end-of-day value of each property
//!   (semantics §7.2) on the first day it was observed and on each day it changed: a day whose last
//!   observation repeats the carried value has no row; the value at the end of day e is the row with
//!   the greatest `day <= e` (carry-forward), NULL before the first
//!
//! Retention base ([`crate::Warehouse::purge_before`]; what purged detail data leaves behind, so
//! lifetime aggregates survive it, semantics §2):
//! - `purged_days(product_id, client_id, day)` — purged active days (disjoint from `client_days`)
//! - `client_base(product_id, client_id, purged_before, sessions, runtime_ms, exceptions, last_sync_at,
//!   last_day, <standard property columns>)` — purged sessions, runtime, exceptions and syncs, and the
//!   end-of-day values of the last purged active day
//! - `client_event_base(product_id, client_id, category, name, n, first_day, last_day)` — purged occurrences
//!
//! Below the cutoff the facts keep only each installation's latest observation per source, its
//! latest value per property leaf, and the start marks of sessions reaching across the cutoff.
//!
//! `product_id` is the product id as an integer, `client_id` the 64-bit installation
//! id, times are epoch milliseconds and `day` the UTC date of the row's time. `received_at` is the
//! server receive time of the sync (or call) that carried a row: export files are partitioned by it.

/// Milliseconds in a day: days are UTC (semantics §2).
pub const MS_PER_DAY: i64 = 86_400_000;
