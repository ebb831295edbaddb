//! DuckDB DDL, applied as numbered migrations, and the rollup refresh.

use usagi_warehouse::columns::{standard_columns, ColumnType, PropertyColumn, CLIENT_COLUMNS, PROPERTY_COLUMNS};
use usagi_warehouse::ObservationSource;

/// Ordered migrations; index + 1 is the schema version after applying it.
pub fn migrations() -> Vec<String> {
    let mut all: Vec<String> = FIXED_MIGRATIONS.iter().map(|s| s.to_string()).collect();
    all.push(wide_rollups_migration());
    all.push(EVENT_DAYS_MIGRATION.to_string());
    all.push(EVENT_TOTALS_MIGRATION.to_string());
    all.push(PROFILE_COLUMNS_MIGRATION.to_string());
    all.push(PERIOD_FLAGS_MIGRATION.to_string());
    all.push(RECEIVE_COLUMNS_MIGRATION.to_string());
    all.push(lifetime_base_migration());
    all.push(AFFECTED_CLIENT_DAYS_MIGRATION.to_string());
    all.push(EVENT_DELTA_MIGRATION.to_string());
    all.push(PROPERTY_CHANGE_DAYS_MIGRATION.to_string());
    all.push(PROPS_FROM_MIGRATION.to_string());
    all.push(
        format!("{EVIDENCE_DAYS_MIGRATION}\nINSERT INTO evidence_days {EVIDENCE_OF_AFFECTED};")
            .replace(" JOIN affected USING (product_id, client_id)", ""),
    );
    all.push(PROPERTY_MARKS_MIGRATION.to_string());
    all
}

/// Migration 15: `property_marks`, per installation the greatest `(t, seq, idx)` of its stored
/// property observations (kept by every load that has some; a missing row means "unknown"),
/// and two scratch tables of a load for installations whose new observations all come after
/// it ([`PROPERTY_DAYS_IN_ORDER`]): each one's last value per property and day, and the
/// marks the load leaves.
const PROPERTY_MARKS_MIGRATION: &str = "CREATE TABLE property_marks (
    product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, t BIGINT NOT NULL, seq BIGINT NOT NULL, idx UINTEGER NOT NULL);
CREATE TABLE load_prop_marks (
    product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, t BIGINT NOT NULL, seq BIGINT NOT NULL, idx UINTEGER NOT NULL);
CREATE TABLE load_prop_days (
    product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, name VARCHAR NOT NULL, day DATE NOT NULL, value VARCHAR);";

/// `property_days` of the installations whose new observations all come after every stored
/// one (`(t, seq, idx)` greater than their `property_marks`), from `load_prop_days` alone.
///
/// For such an installation no stored observation lies on a day after the first day d of a
/// property's new ones, and on d the new ones come last, so the end-of-day value of every day
/// from d on is that of the load's last observation of the day, which the loader computed.
/// The rows from d on are replaced; the value carried into d is the property's last row
/// before it. So the load reads none of the day's earlier observations, which the general
/// rebuild ([`property_days`]) reads again on every load: with installations that sync many
/// times a day that grew with each load.
pub const PROPERTY_DAYS_IN_ORDER: &str = "
DELETE FROM property_days USING (
    SELECT product_id, client_id, name, min(day) AS from_day FROM load_prop_days GROUP BY product_id, client_id, name
) AS f
WHERE property_days.product_id = f.product_id AND property_days.client_id = f.client_id
  AND property_days.name = f.name AND property_days.day >= f.from_day;
INSERT INTO property_days
SELECT product_id, client_id, name, day, daily.value FROM (
    SELECT product_id, client_id, name, day, value, lag(value) OVER w AS before, row_number() OVER w AS nth
    FROM load_prop_days
    WINDOW w AS (PARTITION BY product_id, client_id, name ORDER BY day)
) AS daily
LEFT JOIN (
    SELECT p.product_id, p.client_id, p.name, p.value AS carried_value, true AS has_carried
    FROM property_days p
    SEMI JOIN (SELECT DISTINCT product_id, client_id, name FROM load_prop_days) AS k
        ON k.product_id = p.product_id AND k.client_id = p.client_id AND k.name = p.name
    QUALIFY row_number() OVER (PARTITION BY p.product_id, p.client_id, p.name ORDER BY p.day DESC) = 1
) AS carried USING (product_id, client_id, name)
-- As in the general rebuild: a day is kept when its value differs from the day before it; the
-- first when it differs from the value carried into it, or nothing is.
WHERE CASE WHEN nth = 1 THEN carried.has_carried IS NULL OR carried.carried_value IS DISTINCT FROM daily.value
           ELSE before IS DISTINCT FROM daily.value END;
";

/// Replaces the `property_marks` of the load's installations with `load_prop_marks` (filled
/// by the loader for the in-order ones and by the general rebuild for the others).
pub const PROPERTY_MARKS_OF_LOAD: &str = "
DELETE FROM property_marks USING load_prop_marks m
WHERE property_marks.product_id = m.product_id AND property_marks.client_id = m.client_id;
INSERT INTO property_marks SELECT * FROM load_prop_marks;
";

/// Migration 14: `evidence_days`, the days each installation shows activity on (semantics §4):
/// a contact, an event, a session mark, an exception or an evidence observation. A load adds
/// its own records' days ([`EVIDENCE_DAYS_OF_LOAD`]), so `client_days` reads this table instead
/// of scanning five fact tables for every installation a load touches. `load_days` is the
/// load's scratch list of those days.
const EVIDENCE_DAYS_MIGRATION: &str =
    "CREATE TABLE evidence_days (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL);
CREATE TABLE load_days (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL);";

/// The evidence days of the installations in `affected`, from the facts (and `event_days`,
/// which holds the days of `events` in fewer rows).
const EVIDENCE_OF_AFFECTED: &str = "SELECT product_id, client_id, day FROM contacts JOIN affected USING (product_id, client_id)
    UNION SELECT product_id, client_id, day FROM event_days JOIN affected USING (product_id, client_id)
    UNION SELECT product_id, client_id, day FROM session_marks JOIN affected USING (product_id, client_id)
    UNION SELECT product_id, client_id, day FROM exceptions JOIN affected USING (product_id, client_id)
    UNION SELECT product_id, client_id, day FROM observations JOIN affected USING (product_id, client_id) WHERE evidence";

/// A load's evidence days (`load_days`, written by the loader) that `evidence_days` lacks.
pub const EVIDENCE_DAYS_OF_LOAD: &str = "INSERT INTO evidence_days
SELECT DISTINCT l.product_id, l.client_id, l.day FROM load_days l
ANTI JOIN evidence_days e ON e.product_id = l.product_id AND e.client_id = l.client_id AND e.day = l.day;";

/// Migration 13: scratch table of a load (writer connection only): the first day of each
/// installation's new property observations, from which its `property_days` are rebuilt.
const PROPS_FROM_MIGRATION: &str =
    "CREATE TABLE props_from (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, from_day DATE NOT NULL);";

/// Migration 12: `property_days` keeps only the days on which a value changes
/// ([`property_days`]); the rows that repeat the previous day's value go.
const PROPERTY_CHANGE_DAYS_MIGRATION: &str = "DELETE FROM property_days WHERE rowid IN (
    SELECT rid FROM (
        SELECT rowid AS rid, value,
               lag(value) OVER (PARTITION BY product_id, client_id, name ORDER BY day) AS before,
               row_number() OVER (PARTITION BY product_id, client_id, name ORDER BY day) AS nth
        FROM property_days
    ) AS daily WHERE nth > 1 AND before IS NOT DISTINCT FROM value);";

/// Migration 11: scratch tables of a load (writer connection only): its events aggregated per
/// installation, day and event, which it adds to the event rollups; per installation and
/// session key, the time of its earliest new session record; per installation, the time its
/// sessions are rebuilt from ([`SESSION_BOUNDS`]).
const EVENT_DELTA_MIGRATION: &str = "CREATE TABLE event_delta (
    product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL, category VARCHAR,
    name VARCHAR NOT NULL, n BIGINT NOT NULL, value_sum DOUBLE NOT NULL);
CREATE TABLE load_keys (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, session_key VARCHAR NOT NULL,
    t0 BIGINT NOT NULL);
CREATE TABLE sessions_from (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, from_t BIGINT NOT NULL);";

/// Migration 10: scratch list of the (installation, day) pairs whose events one load adds
/// (writer connection only), so `event_days` was rewritten for those days instead of for every
/// day of every affected installation. Unused since loads add their events' aggregates
/// (migration 11).
const AFFECTED_CLIENT_DAYS_MIGRATION: &str =
    "CREATE TABLE affected_client_days (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL);";

/// Migration 9: what retention keeps of purged detail data (semantics §2), so lifetime
/// aggregates survive it. Per installation, `client_base` holds the sessions, runtime and
/// exceptions of purged days, the last purged sync, and the end-of-day standard values of its
/// last purged active day; `purged_days` its purged active days (the set A(c) of §4, which
/// unions over `groupBy` units need); `client_event_base` its purged occurrences per event.
/// `clients` gains the lifetime exception count, which the profile reads.
fn lifetime_base_migration() -> String {
    let std: String = standard_columns().map(|c| format!(", {} {}", c.column, c.ty.sql())).collect();
    format!(
        "CREATE TABLE client_base (
            product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, purged_before DATE NOT NULL,
            sessions BIGINT NOT NULL, runtime_ms BIGINT NOT NULL, exceptions BIGINT NOT NULL,
            last_sync_at BIGINT, last_day DATE{std});
        CREATE TABLE purged_days (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL);
        CREATE TABLE client_event_base (
            product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, category VARCHAR, name VARCHAR NOT NULL,
            n BIGINT NOT NULL, first_day DATE NOT NULL, last_day DATE NOT NULL);
        ALTER TABLE clients ADD COLUMN lifetime_exceptions BIGINT;
        UPDATE clients SET lifetime_exceptions = (SELECT count(*) FROM exceptions x
            WHERE x.product_id = clients.product_id AND x.client_id = clients.client_id);"
    )
}

/// Migration 8: what the export files (reporting-api §13, §16) need to partition records by
/// server receive date and name their batch: `received_at` / `batch_id` on session marks,
/// `batch_id` on events, and `received_at` on property changes (the end-of-day snapshots of
/// `clientProperties.csv`). Older rows take them from their batch's contact, matched by `seq`
/// (a restored SDK backup can repeat a `seq`: the latest such contact is taken).
const RECEIVE_COLUMNS_MIGRATION: &str = r#"
ALTER TABLE session_marks ADD COLUMN received_at BIGINT;
ALTER TABLE session_marks ADD COLUMN batch_id UUID;
ALTER TABLE events ADD COLUMN batch_id UUID;
ALTER TABLE property_changes ADD COLUMN received_at BIGINT;
CREATE TEMP TABLE batch_of AS
    SELECT product_id, client_id, seq, arg_max(received_at, received_at) AS received_at,
           arg_max(batch_id, received_at) AS batch_id
    FROM contacts GROUP BY product_id, client_id, seq;
UPDATE session_marks SET received_at = b.received_at, batch_id = b.batch_id FROM batch_of b
WHERE session_marks.product_id = b.product_id AND session_marks.client_id = b.client_id AND session_marks.seq = b.seq;
UPDATE session_marks SET received_at = t WHERE received_at IS NULL;
UPDATE events SET batch_id = b.batch_id FROM batch_of b
WHERE events.product_id = b.product_id AND events.client_id = b.client_id AND events.seq = b.seq;
UPDATE property_changes SET received_at = b.received_at FROM batch_of b
WHERE property_changes.product_id = b.product_id AND property_changes.client_id = b.client_id
  AND property_changes.seq = b.seq;
UPDATE property_changes SET received_at = t WHERE received_at IS NULL;
DROP TABLE batch_of;
"#;

/// Migration 7: on each installation's last active day of an ISO week / a month, a flag, so a
/// weekly or monthly report reads one row per installation and period without aggregating.
const PERIOD_FLAGS_MIGRATION: &str = r#"
ALTER TABLE client_days ADD COLUMN week_last BOOLEAN;
ALTER TABLE client_days ADD COLUMN month_last BOOLEAN;
UPDATE client_days SET week_last = f.week_last, month_last = f.month_last
FROM (SELECT product_id, client_id, day,
             day = max(day) OVER (PARTITION BY product_id, client_id, date_trunc('week', day)) AS week_last,
             day = max(day) OVER (PARTITION BY product_id, client_id, date_trunc('month', day)) AS month_last
      FROM client_days) f
WHERE client_days.product_id = f.product_id AND client_days.client_id = f.client_id AND client_days.day = f.day;
"#;

/// Migration 6: what a single-installation profile reads without scanning fact tables —
/// `clients.last_sync_at` / `active_days` and each event's first and last day in `client_events`.
const PROFILE_COLUMNS_MIGRATION: &str = r#"
ALTER TABLE clients ADD COLUMN last_sync_at BIGINT;
ALTER TABLE clients ADD COLUMN active_days BIGINT;
UPDATE clients SET
    last_sync_at = (SELECT max(k.received_at) FROM contacts k WHERE k.product_id = clients.product_id AND k.client_id = clients.client_id),
    active_days = (SELECT count(*) FROM client_days d WHERE d.product_id = clients.product_id AND d.client_id = clients.client_id);
ALTER TABLE client_events ADD COLUMN first_day DATE;
ALTER TABLE client_events ADD COLUMN last_day DATE;
UPDATE client_events SET first_day = e.first_day, last_day = e.last_day
FROM (SELECT product_id, client_id, category, name, min(day) AS first_day, max(day) AS last_day
      FROM events GROUP BY product_id, client_id, category, name) e
WHERE client_events.product_id = e.product_id AND client_events.client_id = e.client_id
  AND client_events.name = e.name AND client_events.category IS NOT DISTINCT FROM e.category;
"#;

/// Migration 5: per product, day and event, the occurrences of every installation together,
/// so unfiltered event timelines read a few rows per day instead of every installation's.
const EVENT_TOTALS_MIGRATION: &str = r#"
CREATE TABLE affected_days (product_id BIGINT NOT NULL, day DATE NOT NULL);
CREATE TABLE event_totals (
    product_id BIGINT NOT NULL, day DATE NOT NULL, category VARCHAR, name VARCHAR NOT NULL,
    n BIGINT NOT NULL, value_sum DOUBLE NOT NULL);
INSERT INTO event_totals
SELECT product_id, day, category, name, sum(n), sum(value_sum) FROM event_days GROUP BY product_id, day, category, name;
"#;

/// Migration 4: per installation, day and event, the occurrences and the sum of numeric values.
const EVENT_DAYS_MIGRATION: &str = r#"
CREATE TABLE event_days (
    product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL, category VARCHAR,
    name VARCHAR NOT NULL, n BIGINT NOT NULL, value_sum DOUBLE NOT NULL);
INSERT INTO event_days
SELECT product_id, client_id, day, category, name, count(*), coalesce(sum(num_value), 0)
FROM events GROUP BY product_id, client_id, day, category, name;
"#;

const FIXED_MIGRATIONS: &[&str] = &[
    // 1: facts, rollups and loader state.
    r#"
    CREATE TABLE loader_state (id INTEGER PRIMARY KEY, applied_lsn UBIGINT NOT NULL);
    -- Scratch list of the installations one load touches (writer connection only).
    CREATE TABLE affected (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL);
    INSERT INTO loader_state VALUES (1, 0);

    CREATE TABLE contacts (
        product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, received_at BIGINT NOT NULL,
        day DATE NOT NULL, batch_id UUID NOT NULL, seq BIGINT NOT NULL, lsn UBIGINT NOT NULL);
    CREATE TABLE events (
        product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, t BIGINT NOT NULL, day DATE NOT NULL,
        seq BIGINT NOT NULL, idx INTEGER NOT NULL, session_id VARCHAR, category VARCHAR, name VARCHAR NOT NULL,
        num_value DOUBLE, text_value VARCHAR, custom VARCHAR, received_at BIGINT NOT NULL);
    CREATE TABLE session_marks (
        product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, t BIGINT NOT NULL, day DATE NOT NULL,
        seq BIGINT NOT NULL, idx INTEGER NOT NULL, kind UTINYINT NOT NULL, session_id VARCHAR);
    CREATE TABLE exceptions (
        product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, t BIGINT NOT NULL, day DATE NOT NULL,
        seq BIGINT NOT NULL, idx INTEGER NOT NULL, session_id VARCHAR, class_name VARCHAR NOT NULL,
        method_name VARCHAR NOT NULL, message VARCHAR, stack_trace VARCHAR, received_at BIGINT NOT NULL,
        batch_id UUID NOT NULL);
    CREATE TABLE observations (
        product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, t BIGINT NOT NULL, day DATE NOT NULL,
        seq BIGINT NOT NULL, idx UINTEGER NOT NULL, source UTINYINT NOT NULL, evidence BOOLEAN NOT NULL,
        session_id VARCHAR, payload VARCHAR NOT NULL);

    CREATE TABLE sessions (
        product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, session_key VARCHAR NOT NULL,
        grp BIGINT NOT NULL, start_t BIGINT NOT NULL, end_t BIGINT NOT NULL, start_day DATE NOT NULL);
    CREATE TABLE client_days (
        product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL,
        runtime_ms BIGINT NOT NULL, sessions INTEGER NOT NULL);
    CREATE TABLE clients (
        product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL,
        date_installed DATE NOT NULL, date_last_seen DATE NOT NULL);
    "#,
    // 2: daily property history.
    r#"
    CREATE TABLE property_changes (
        product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, t BIGINT NOT NULL, day DATE NOT NULL,
        seq BIGINT NOT NULL, idx UINTEGER NOT NULL, name VARCHAR NOT NULL, value VARCHAR);
    CREATE TABLE property_days (
        product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, name VARCHAR NOT NULL, day DATE NOT NULL,
        value VARCHAR);
    "#,
];

/// Migration 3: wide rollups. `client_days` and `clients` gain one column per property
/// (`usagi_warehouse::columns`), `client_events` holds all-time event counts, and every
/// installation's rollups are rebuilt from the facts.
fn wide_rollups_migration() -> String {
    let typed = |cols: &mut dyn Iterator<Item = &PropertyColumn>| {
        cols.map(|c| format!(", {} {}", c.column, c.ty.sql())).collect::<String>()
    };
    let client_extra: String = CLIENT_COLUMNS.iter().map(|(n, t)| format!(", {n} {t}")).collect();
    format!(
        "DROP TABLE client_days;
        CREATE TABLE client_days (
            product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL,
            runtime_ms BIGINT NOT NULL, sessions INTEGER NOT NULL, first_day BOOLEAN NOT NULL{std});
        DROP TABLE clients;
        CREATE TABLE clients (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL{client_extra}{all});
        CREATE TABLE client_events (
            product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, category VARCHAR, name VARCHAR NOT NULL,
            n BIGINT NOT NULL);
        DELETE FROM affected;
        INSERT INTO affected SELECT DISTINCT product_id, client_id FROM contacts
            UNION SELECT DISTINCT product_id, client_id FROM observations;
        {refresh}
        DELETE FROM affected;",
        std = typed(&mut standard_columns()),
        all = typed(&mut PROPERTY_COLUMNS.iter()),
        // The rollups as of this migration (later migrations fill their own tables).
        refresh = [
            &sessions(Scope::Full),
            &client_days(false, None),
            &property_days(Scope::Full),
            &clients(false),
            CLIENT_EVENTS_V3
        ]
        .concat(),
    )
}

/// Rebuilds the rollups of the installations listed in the table `affected`.
///
/// Written as one from-scratch computation per installation so that late, offline
/// or out-of-order batches can never leave a rollup that differs from the facts. Lifetime
/// values combine that computation with what retention folded into the base tables
/// (migration 9; [`purge_before`]).
pub fn refresh_rollups() -> String {
    // `client_days` reads `event_days`, so the event rollups come first.
    let mut all: String = [EVENT_DAYS, CLIENT_EVENTS, EVENT_TOTALS].concat();
    all.push_str(&format!(
        "DELETE FROM evidence_days USING affected a
WHERE evidence_days.product_id = a.product_id AND evidence_days.client_id = a.client_id;
INSERT INTO evidence_days {EVIDENCE_OF_AFFECTED};
"
    ));
    all.extend(installation_steps(Some(Scope::Full), Some(Scope::Full), None).into_iter().map(|(_, sql)| sql));
    all
}

/// The per-installation rollups of the installations in `affected`, rebuilt, by rollup.
/// Without `sessions`, the sessions are left as they are (a load without session records).
/// Without `properties`, `property_days` is left as it is (a load without property records).
///
/// `client_days` and `clients` read `property_days`, so it comes before them.
fn installation_steps(
    sessions: Option<Scope>,
    properties: Option<Scope>,
    days: Option<String>,
) -> Vec<(&'static str, String)> {
    let mut steps: Vec<(&'static str, String)> =
        sessions.map(|scope| ("sessions", self::sessions(scope))).into_iter().collect();
    steps.extend(properties.map(|scope| ("property_days", property_days(scope))));
    let clients = if days.is_some() { clients_of_load() } else { clients(true) };
    steps.extend([("client_days", client_days(true, days)), ("clients", clients)]);
    steps
}

/// Fills `cd_from` with the first `client_days` row a load rebuilds for each installation:
/// the start of the week or month (whichever is earlier) of the first day the load can change,
/// so that no kept row shares a week or month with a rebuilt one (their last-active-day flags
/// stay right). The days a load can change start at its new evidence days (`load_days`), the
/// first day of its new property observations (`props_from`) and, with `sessions`, the first
/// day of the sessions it rebuilds (`sessions_from`, filled only when the load has session
/// records).
fn client_days_from(sessions: bool) -> String {
    let sessions = if sessions {
        "\n        UNION ALL SELECT product_id, client_id, CAST(DATE '1970-01-01' + CAST(from_t // 86400000 AS INTEGER) AS DATE) FROM sessions_from"
    } else {
        ""
    };
    format!(
        "DELETE FROM cd_from;
INSERT INTO cd_from
SELECT product_id, client_id, CAST(least(date_trunc('week', d0), date_trunc('month', d0)) AS DATE) AS ws FROM (
    SELECT product_id, client_id, min(d) AS d0 FROM (
        SELECT product_id, client_id, day AS d FROM load_days
        UNION ALL SELECT product_id, client_id, from_day FROM props_from
        UNION ALL SELECT product_id, client_id, day FROM load_prop_days{sessions}
    ) AS firsts GROUP BY product_id, client_id
) AS bounds;"
    )
}

/// The first and last day of a load's events.
#[derive(Debug, Clone, Copy)]
pub struct DayRange {
    pub first: chrono::NaiveDate,
    pub last: chrono::NaiveDate,
}

/// The statements a load runs, by rollup, so it can time each of them: the per-installation
/// rollups rebuilt for the installations in `affected`, and the event rollups with the load's
/// own events (in `event_delta`, spanning `events`) added to them.
///
/// `sessions` is `None` when the load has no session records (events, marks, exceptions,
/// evidence observations); otherwise `sessions_from` must have been filled
/// ([`SESSION_BOUNDS`]) and `sessions` is its least `from_t`. `properties` says which of
/// `props_from` (installations rebuilt from their stored observations) and `load_prop_days`
/// (installations whose new observations come after their stored ones) the loader filled.
pub fn load_steps(events: Option<DayRange>, sessions: Option<i64>, properties: PropertyLoad) -> Vec<LoadStep> {
    let mut steps: Vec<(&'static str, String)> =
        events.map(|days| event_rollups_of_load(days).into()).unwrap_or_default();
    steps.extend(installation_steps(
        sessions.map(|min_t| Scope::Load { min_t }),
        properties.general.map(|day| Scope::Load { min_t: day_start_ms(day) }),
        Some(client_days_from(sessions.is_some())),
    ));
    // `client_days` and `clients` read `property_days`.
    let at = steps.iter().position(|(rollup, _)| *rollup == "client_days").unwrap_or(steps.len());
    let mut marks = Vec::new();
    if properties.in_order {
        marks.push(("property_days_in_order", PROPERTY_DAYS_IN_ORDER.to_string()));
    }
    if properties.in_order || properties.general.is_some() {
        marks.push(("property_marks", PROPERTY_MARKS_OF_LOAD.to_string()));
    }
    steps.splice(at..at, marks);
    steps
        .into_iter()
        .map(|(rollup, sql)| LoadStep { rollup, sql, reusable: REUSABLE_LOAD_STEPS.contains(&rollup) })
        .collect()
}

/// How a load rebuilds `property_days`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PropertyLoad {
    /// The earliest day in `props_from` (installations rebuilt from their observations,
    /// [`property_days`]), `None` when it is empty.
    pub general: Option<chrono::NaiveDate>,
    /// Whether `load_prop_days` has rows ([`PROPERTY_DAYS_IN_ORDER`]).
    pub in_order: bool,
}

/// One rollup's statements in a load ([`load_steps`]).
#[derive(Debug, Clone)]
pub struct LoadStep {
    pub rollup: &'static str,
    pub sql: String,
    /// The statements are the same text in every load (no constants of the load in them), so
    /// the writer connection keeps them prepared and does not parse them again: on empty
    /// inputs `client_days` and `clients` took 46 and 37 ms run as a batch, 30 and 21 ms
    /// prepared once. DuckDB still binds and plans them on every execution (its optimizer
    /// marks every prepared statement that reads a table "always rebind",
    /// `src/optimizer/optimizer.cpp`), so that part of a load's fixed cost stays. The other
    /// steps inline the load's first day or time, a constant DuckDB skips row groups of older
    /// data with.
    pub reusable: bool,
}

/// The rollups whose load statements hold no constant of the load ([`LoadStep::reusable`]).
const REUSABLE_LOAD_STEPS: &[&str] =
    &["client_events", "property_days_in_order", "property_marks", "client_days", "clients"];

/// Scratch tables of the writer connection's loads, created once per connection (temporary:
/// they hold one load's rows between statements and need no durability), so the prepared
/// statements of [`LoadStep::reusable`] steps can refer to them.
pub const WRITER_SCRATCH: &str = "
CREATE TEMP TABLE cd_from (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, ws DATE NOT NULL);
CREATE TEMP TABLE touched_event_days (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL);
CREATE TEMP TABLE touched_client_events (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL);
CREATE TEMP TABLE touched_event_totals (product_id BIGINT NOT NULL, day DATE NOT NULL);
CREATE TEMP TABLE merged_event_days AS SELECT * FROM event_days LIMIT 0;
CREATE TEMP TABLE merged_client_events AS SELECT * FROM client_events LIMIT 0;
CREATE TEMP TABLE merged_event_totals AS SELECT * FROM event_totals LIMIT 0;
CREATE TEMP TABLE session_delta (
    product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL, runtime_ms BIGINT NOT NULL, sessions BIGINT NOT NULL);
CREATE TEMP TABLE sessions_kept (product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, session_key VARCHAR NOT NULL, n BIGINT NOT NULL);
CREATE TEMP TABLE cd_old (
    product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, day DATE NOT NULL, runtime_ms BIGINT NOT NULL, sessions BIGINT NOT NULL);
CREATE TEMP TABLE load_clients (
    product_id BIGINT NOT NULL, client_id UBIGINT NOT NULL, last_sync_at BIGINT, exceptions BIGINT NOT NULL, opt_from BIGINT);
CREATE TEMP TABLE merged_clients AS SELECT * FROM clients LIMIT 0;
";

/// The statements of `sql`, split at the semicolons outside string literals and `--` comments;
/// pieces with nothing but white space and comments are left out.
pub fn statements(sql: &str) -> Vec<&str> {
    fn push<'a>(piece: &'a str, out: &mut Vec<&'a str>) {
        if piece.lines().map(str::trim).any(|l| !l.is_empty() && !l.starts_with("--")) {
            out.push(piece.trim());
        }
    }
    let bytes = sql.as_bytes();
    let (mut out, mut start, mut quoted, mut comment) = (Vec::new(), 0, false, false);
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'\n' if comment => comment = false,
            b'\'' if !comment => quoted = !quoted,
            b'-' if !quoted && !comment && bytes.get(i + 1) == Some(&b'-') => comment = true,
            b';' if !quoted && !comment => {
                push(&sql[start..i], &mut out);
                start = i + 1;
            }
            _ => {}
        }
    }
    push(&sql[start..], &mut out);
    out
}

/// Midnight UTC of `day`, in ms since the epoch.
fn day_start_ms(day: chrono::NaiveDate) -> i64 {
    (day - chrono::NaiveDate::default()).num_days() * usagi_warehouse::schema::MS_PER_DAY
}

/// Adds `event_delta` to `event_days`, `client_events` and `event_totals`.
///
/// A load only adds events, and all three rollups are sums (counts, value sums) and
/// minimum/maximum days over events, so adding a load's aggregates to the stored rows gives
/// what a rebuild from the facts would (retention and erasure rebuild or delete rows
/// themselves; a load runs at most once, guarded by `loader_state`). Each rollup's rows of the
/// touched keys are merged with the delta in a scratch table, deleted and inserted again (a
/// DuckDB `UPDATE` of the same rows load after load builds up version chains and was several
/// times slower). The day bounds let the scans skip row groups of other days.
fn event_rollups_of_load(days: DayRange) -> [(&'static str, String); 3] {
    let range = |col: &str| {
        format!("{col} BETWEEN DATE '{}' AND DATE '{}'", days.first.format("%Y-%m-%d"), days.last.format("%Y-%m-%d"))
    };
    // Rewrites the rows of `table` whose `key` columns a load touches: `merged` is the stored
    // rows of those keys (`stored` in the query) together with the delta, re-aggregated.
    let rewrite = |table: &str, key: &str, filter: &str, merged: &str| {
        let on: String = key.split(", ").map(|k| format!(" AND {table}.{k} = t.{k}")).collect();
        format!(
            "INSERT INTO touched_{table} SELECT DISTINCT {key} FROM event_delta;
             INSERT INTO merged_{table}
             WITH stored AS (SELECT {table}.* FROM {table} JOIN touched_{table} USING ({key}) WHERE {filter})
             {merged};
             DELETE FROM {table} USING touched_{table} t WHERE {filter}{on};
             INSERT INTO {table} SELECT * FROM merged_{table};
             DELETE FROM merged_{table}; DELETE FROM touched_{table};"
        )
    };
    let event_days = rewrite(
        "event_days",
        "product_id, client_id, day",
        &range("event_days.day"),
        "SELECT product_id, client_id, day, category, name, sum(n), sum(value_sum) FROM (
             SELECT * FROM stored UNION ALL SELECT * FROM event_delta
         ) AS e GROUP BY product_id, client_id, day, category, name",
    );
    let client_events = rewrite(
        "client_events",
        "product_id, client_id",
        "true",
        "SELECT product_id, client_id, category, name, sum(n), min(first_day), max(last_day) FROM (
             SELECT * FROM stored
             UNION ALL SELECT product_id, client_id, category, name, n, day, day FROM event_delta
         ) AS e GROUP BY product_id, client_id, category, name",
    );
    let event_totals = rewrite(
        "event_totals",
        "product_id, day",
        &range("event_totals.day"),
        "SELECT product_id, day, category, name, sum(n), sum(value_sum) FROM (
             SELECT * FROM stored UNION ALL SELECT product_id, day, category, name, n, value_sum FROM event_delta
         ) AS e GROUP BY product_id, day, category, name",
    );
    [("event_days", event_days), ("client_events", client_events), ("event_totals", event_totals)]
}

/// Which rows of a per-installation rollup a statement rebuilds.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Every row of the installations in `affected`.
    Full,
    /// Sessions: those of each installation in `sessions_from` that start at or after its
    /// `from_t` ([`SESSION_BOUNDS`]). Property days: those of each installation in `props_from`
    /// from its `from_day` on. `min_t` is the least bound, a constant the scans of the fact
    /// tables can skip row groups with.
    Load { min_t: i64 },
}

/// Fills `sessions_from` from `load_keys` (the earliest new session record of each
/// installation and session key, written by the loader): a new record can only change the
/// session it falls in and the later ones of its key, so each installation's sessions are
/// rebuilt from the start of the last stored session of a touched key that starts before the
/// key's earliest new record (or from that record when there is none). Sessions of other keys
/// that start after that point are rebuilt too (from the same facts, unchanged).
pub const SESSION_BOUNDS: &str = r#"
DELETE FROM sessions_from;
INSERT INTO sessions_from
SELECT product_id, client_id, min(coalesce(prev_start, t0)) FROM (
    SELECT k.product_id, k.client_id, k.session_key, k.t0, max(s.start_t) AS prev_start
    FROM load_keys k LEFT JOIN sessions s ON s.product_id = k.product_id AND s.client_id = k.client_id
        AND s.session_key = k.session_key AND s.start_t < k.t0
    GROUP BY k.product_id, k.client_id, k.session_key, k.t0
) AS per_key GROUP BY product_id, client_id;
"#;

/// Sessions rebuilt from their marks and member records ([`Scope`]).
///
/// A load's rebuild keeps each installation's sessions that start before its `from_t` and
/// numbers the rebuilt ones of each key after the kept ones: every `sessionStart` opens one
/// session, so the kept ones are exactly the starts before `from_t`. Their number is the
/// number (`grp`, 1, 2, … in start order per key) of the key's first deleted session less
/// one, not a count of all its stored sessions: every key a rebuilt session belongs to has a
/// deleted one unless it has no stored sessions at all. A key with a new record has its last
/// stored session before that record rebuilt, or has none before it and has all of them
/// rebuilt; the sessions of a key without one are rebuilt from their stored starts, which are
/// at or after `from_t`.
fn sessions(scope: Scope) -> String {
    let start_day = "CAST(DATE '1970-01-01' + CAST(start_t // 86400000 AS INTEGER) AS DATE)";
    match scope {
        Scope::Full => format!(
            "DELETE FROM sessions USING affected a WHERE sessions.product_id = a.product_id AND sessions.client_id = a.client_id;
INSERT INTO sessions
{ctes}
SELECT product_id, client_id, session_key, grp, start_t, greatest(start_t, end_t), {start_day} FROM grouped;
",
            ctes = SESSIONS_CTES.replace("@IN@", "JOIN affected USING (product_id, client_id) WHERE true"),
        ),
        // `sessions_kept`: how many sessions of each key stay, read from the first one deleted.
        Scope::Load { min_t } => format!(
            "{removed}
DELETE FROM sessions_kept;
INSERT INTO sessions_kept
SELECT product_id, client_id, session_key, min(grp) - 1 FROM sessions JOIN sessions_from f USING (product_id, client_id)
WHERE sessions.start_t >= f.from_t AND sessions.start_t >= {min_t}
GROUP BY product_id, client_id, session_key;
DELETE FROM sessions USING sessions_from a
WHERE sessions.product_id = a.product_id AND sessions.client_id = a.client_id AND sessions.start_t >= a.from_t;
INSERT INTO sessions
{ctes},
SELECT g.product_id, g.client_id, g.session_key, g.grp + coalesce(k.n, 0), g.start_t, greatest(g.start_t, g.end_t), {start_day}
FROM grouped g LEFT JOIN sessions_kept k USING (product_id, client_id, session_key);
{added}",
            removed = rebuilt_sessions("-", min_t),
            added = rebuilt_sessions("", min_t),
            ctes = SESSIONS_CTES.replace(
                "@IN@",
                &format!("JOIN sessions_from USING (product_id, client_id) WHERE t >= from_t AND t >= {min_t}"),
            ),
        ),
    }
}

/// Adds what the sessions a load rebuilds (those at or after each installation's `from_t`)
/// give each day they cover to `session_delta`: runtime and started sessions, with `sign`
/// ("-" before they are deleted, "" after they are inserted again). The load's `client_days`
/// step adds the difference to the stored days ([`client_days`]) and its `clients` step to
/// the lifetime counters ([`clients_of_load`]), instead of going over every stored session of
/// the installation again. The bound on the least `from_t` (`min_t`; sessions are stored
/// roughly in time order) lets the scan skip row groups of older sessions.
fn rebuilt_sessions(sign: &str, min_t: i64) -> String {
    format!(
        "INSERT INTO session_delta
{};",
        session_day_rows(
            sign,
            &format!(
                "sessions JOIN sessions_from f USING (product_id, client_id)
        WHERE sessions.start_t >= f.from_t AND sessions.start_t >= {min_t}"
            )
        )
    )
}

/// What each session of `source` gives each day its half-open interval [start, end)
/// intersects: `(product_id, client_id, day, overlap_ms, started)`, negated with `sign` "-".
/// A session of no length covers its start day.
fn session_day_rows(sign: &str, source: &str) -> String {
    format!(
        "SELECT product_id, client_id, CAST(DATE '1970-01-01' + CAST(dn AS INTEGER) AS DATE) AS day,
           {sign}(least(end_t, (dn + 1) * 86400000) - greatest(start_t, dn * 86400000)) AS overlap_ms,
           {sign}(CASE WHEN dn = start_t // 86400000 THEN 1 ELSE 0 END) AS started
    FROM (
        SELECT product_id, client_id, start_t, end_t,
               unnest(range(start_t // 86400000,
                            (CASE WHEN end_t > start_t THEN (end_t - 1) // 86400000 ELSE start_t // 86400000 END) + 1)) AS dn
        FROM {source}
    ) AS covered"
    )
}

/// The CTEs of [`sessions`]; `@IN@` joins a fact table with the installations and opens a `WHERE`.
///
/// Events, exceptions and evidence observations only extend the session they fall in, so a
/// batch's members under one session key that have no `sessionStart` between the first and
/// the last of them (in `(t, seq, idx)` order) are represented by the last one: the window
/// that numbers the sessions then sorts about one row per batch instead of one per event.
/// Members of a batch with a start among them (a batch sent out of order) stay individual.
const SESSIONS_CTES: &str = r#"
WITH members AS (
    SELECT product_id, client_id, coalesce(session_id, '') AS session_key, t, seq, idx FROM events @IN@
    UNION ALL SELECT product_id, client_id, coalesce(session_id, ''), t, seq, idx FROM exceptions @IN@
    UNION ALL SELECT product_id, client_id, coalesce(session_id, ''), t, seq, idx FROM observations @IN@ AND evidence
),
spans AS (
    SELECT product_id, client_id, session_key, seq, min({'t': t, 'i': idx}) AS lo, max({'t': t, 'i': idx}) AS hi
    FROM members GROUP BY product_id, client_id, session_key, seq
),
points AS (
    SELECT product_id, client_id, coalesce(session_id, '') AS session_key, {'t': t, 's': seq, 'i': idx} AS o,
           1 AS is_start, CAST(NULL AS BIGINT) AS span_seq, 0 AS side
    FROM session_marks @IN@ AND kind = 1
    UNION ALL SELECT product_id, client_id, session_key, {'t': lo.t, 's': seq, 'i': lo.i}, 0, seq, 1 FROM spans
    UNION ALL SELECT product_id, client_id, session_key, {'t': hi.t, 's': seq, 'i': hi.i}, 0, seq, 2 FROM spans
),
counted AS (
    SELECT product_id, client_id, session_key, span_seq, side,
           sum(is_start) OVER (PARTITION BY product_id, client_id, session_key ORDER BY o
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS starts_before
    FROM points
),
split AS (
    -- Spans with a sessionStart between their first and last member.
    SELECT product_id, client_id, session_key, span_seq AS seq FROM counted WHERE side > 0
    GROUP BY product_id, client_id, session_key, span_seq
    HAVING max(starts_before) FILTER (WHERE side = 2) > max(starts_before) FILTER (WHERE side = 1)
),
tl AS (
    SELECT product_id, client_id, coalesce(session_id, '') AS session_key, t, seq, idx, kind
    FROM session_marks @IN@
    UNION ALL SELECT p.product_id, p.client_id, p.session_key, p.hi.t, p.seq, p.hi.i, 0
    FROM spans p ANTI JOIN split x USING (product_id, client_id, session_key, seq)
    UNION ALL SELECT m.product_id, m.client_id, m.session_key, m.t, m.seq, m.idx, 0
    FROM members m SEMI JOIN split x USING (product_id, client_id, session_key, seq)
),
ordered AS (
    -- Every sessionStart opens a new group per (installation, session key); the
    -- implicit session has the empty key, which no explicit id (10-64 chars) can be.
    SELECT product_id, client_id, session_key, t, kind,
           sum(CASE WHEN kind = 1 THEN 1 ELSE 0 END) OVER (
               PARTITION BY product_id, client_id, session_key
               ORDER BY t, seq, idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS grp
    FROM tl
),
grouped AS (
    -- A session ends at its first stop; without one, at its last member record.
    SELECT product_id, client_id, session_key, grp, min(t) AS start_t,
           coalesce(min(t) FILTER (WHERE kind = 2), max(t)) AS end_t
    FROM ordered WHERE grp > 0
    GROUP BY product_id, client_id, session_key, grp
)"#;

/// `value` (VARCHAR) converted to a column's type.
fn typed_value(expr: &str, ty: ColumnType) -> String {
    match ty {
        ColumnType::Text => expr.to_string(),
        other => format!("TRY_CAST({expr} AS {})", other.sql()),
    }
}

/// One row per active day, with the end-of-day value of every standard property.
///
/// `latest` is false for the version migration 3 applied, before the period flags
/// (migration 7) and the retention base tables (migration 9) existed.
///
/// `window` (a load; `latest` only) is the statement that fills `cd_from` with each touched
/// installation's first day to rebuild ([`client_days_from`]); the rows before it stay. A
/// refresh (`None`) rebuilds every row of the installations in `affected`.
fn client_days(latest: bool, window: Option<String>) -> String {
    // Observed values are wrapped in a struct so that an observed NULL (a struct holding
    // NULL) differs from "not observed that day" (a NULL struct), which carries forward.
    let pivot: String = standard_columns()
        .map(|c| format!(",\n        max(CASE WHEN name = '{}' THEN {{'v': value}} END) AS {}", c.name, c.column))
        .collect();
    let observed_cols: String = standard_columns().map(|c| format!(", o.{}", c.column)).collect();
    let carried: String = standard_columns()
        .map(|c| {
            let v = typed_value(&format!("(last_value(o.{} IGNORE NULLS) OVER w).v", c.column), c.ty);
            match c.default {
                Some(d) => format!(",\n    coalesce({v}, {d})"),
                None => format!(",\n    {v}"),
            }
        })
        .collect();
    // Migration 7 adds the last-active-day-of-the-week/-month flags at the end of the table.
    // Days retention folded into `purged_days` stay purged (a session reaching across the
    // cutoff would re-create them), and no day after a purged one is the installation day.
    let (kept, flags) = if latest {
        (
            ",\npurged AS (SELECT product_id, client_id, day FROM purged_days JOIN affected USING (product_id, client_id)),\n\
             purged_first AS (SELECT product_id, client_id, min(day) AS day FROM purged GROUP BY product_id, client_id),\n\
             kept AS (\n    SELECT b.* REPLACE (b.first_day AND (f.day IS NULL OR f.day > b.day) AS first_day) FROM base b\n    \
             LEFT JOIN purged p ON p.product_id = b.product_id AND p.client_id = b.client_id AND p.day = b.day\n    \
             LEFT JOIN purged_first f ON f.product_id = b.product_id AND f.client_id = b.client_id\n    \
             WHERE p.day IS NULL\n)",
            ",\n    day = max(day) OVER (PARTITION BY product_id, client_id, date_trunc('week', day)) AS week_last,\n    \
             day = max(day) OVER (PARTITION BY product_id, client_id, date_trunc('month', day)) AS month_last",
        )
    } else {
        ("", "")
    };
    let rows = if latest { "kept" } else { "base" };
    // The days with events: from `event_days` (refreshed before this step; one row per
    // installation, day and event instead of one per event), or from the facts as of
    // migration 3, before `event_days` existed.
    // The days with activity: from `evidence_days` (kept up to date by every load and
    // refresh), or from the facts as of migration 3, before it and `event_days` existed.
    let evidence = if window.is_some() {
        "SELECT product_id, client_id, day FROM evidence_days JOIN cd_from USING (product_id, client_id) WHERE day >= ws"
            .to_string()
    } else if latest {
        "SELECT product_id, client_id, day FROM evidence_days JOIN affected USING (product_id, client_id)".to_string()
    } else {
        EVIDENCE_OF_AFFECTED.replace("event_days", "events")
    };
    // The end-of-day values of the days a value changes: `property_days` (refreshed before
    // this step; the days in between carry forward either way), or the observations as of
    // migration 3, before it existed.
    let last_of_day = if window.is_some() {
        // The window's change days, and the value each property carries into the window.
        "SELECT product_id, client_id, day, name, value FROM property_days JOIN cd_from USING (product_id, client_id) WHERE day >= ws
    UNION ALL
    SELECT product_id, client_id, day, name, value FROM property_days JOIN cd_from USING (product_id, client_id) WHERE day < ws
    QUALIFY row_number() OVER (PARTITION BY product_id, client_id, name ORDER BY day DESC) = 1"
    } else if latest {
        "SELECT product_id, client_id, day, name, value FROM property_days JOIN affected USING (product_id, client_id)"
    } else {
        "
    -- The last observation of the day wins, by time, then batch seq, then record index (semantics §7.2).
    SELECT product_id, client_id, day, name, value FROM (
        SELECT product_id, client_id, day, name, value,
               row_number() OVER (PARTITION BY product_id, client_id, name, day ORDER BY t DESC, seq DESC, idx DESC) AS rn
        FROM property_changes JOIN affected USING (product_id, client_id)
    ) AS ranked WHERE rn = 1
"
    };
    // The rows a load rebuilds: those from each installation's `ws` on, and an installation
    // with rows left before the window has no installation day in it. Their runtime and
    // sessions are the stored rows' (`cd_old`, kept before they are deleted) plus what the
    // load's rebuilt sessions changed on each day (`session_delta`, [`rebuilt_sessions`]): every
    // rebuilt session starts in the window. A day stays covered by a session while its runtime
    // or started sessions are above zero (a session of no length starts on the day it covers).
    let (delete, session_days, in_window, had_before, not_before, cleanup) = match &window {
        Some(fill) => (
            format!(
                "{fill}
INSERT INTO cd_old SELECT product_id, client_id, day, runtime_ms, sessions
FROM client_days JOIN cd_from USING (product_id, client_id) WHERE day >= ws;
DELETE FROM client_days USING cd_from f
WHERE client_days.product_id = f.product_id AND client_days.client_id = f.client_id AND client_days.day >= f.ws;"
            ),
            "SELECT product_id, client_id, day, sum(runtime_ms) AS overlap_ms, sum(sessions) AS started FROM (
        SELECT * FROM cd_old UNION ALL SELECT * FROM session_delta
    ) AS changed GROUP BY product_id, client_id, day
    HAVING sum(runtime_ms) > 0 OR sum(sessions) > 0"
                .to_string(),
            "JOIN cd_from USING (product_id, client_id) WHERE day >= ws",
            "\n    LEFT JOIN (SELECT DISTINCT product_id, client_id, true AS had FROM client_days JOIN cd_from USING (product_id, client_id)) AS hb USING (product_id, client_id)",
            " AND hb.had IS NULL",
            "\nDELETE FROM cd_old;",
        ),
        None => (
            "DELETE FROM client_days USING affected a WHERE client_days.product_id = a.product_id AND client_days.client_id = a.client_id;"
                .to_string(),
            session_day_rows("", "sessions JOIN affected USING (product_id, client_id)"),
            "",
            "",
            "",
            "",
        ),
    };
    format!(
        r#"
{delete}
INSERT INTO client_days
WITH evidence AS ({evidence}),
session_days AS (
    {session_days}
),
all_days AS (
    SELECT product_id, client_id, day, 0 AS overlap_ms, 0 AS started FROM evidence
    UNION ALL
    SELECT product_id, client_id, day, overlap_ms, started FROM session_days
),
days AS (
    SELECT product_id, client_id, day, sum(overlap_ms) AS runtime_ms, sum(started) AS sessions
    FROM all_days {in_window} GROUP BY product_id, client_id, day
),
last_of_day AS ({last_of_day}),
observed AS (
    SELECT product_id, client_id, day{pivot}
    FROM last_of_day GROUP BY product_id, client_id, day
),
base AS (
SELECT product_id, client_id, day, runtime_ms, sessions,
    -- The installation day (dateInstalled), so "new" needs no join with `clients`.
    NOT coalesce(bool_or(active) OVER before, false){not_before} AS first_day{carried}
FROM (
    SELECT product_id, client_id, day, d.runtime_ms, d.sessions, d.day IS NOT NULL AS active{observed_cols}
    FROM days d FULL JOIN observed o USING (product_id, client_id, day)
) AS o{had_before}
WINDOW w AS (PARTITION BY product_id, client_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
       before AS (PARTITION BY product_id, client_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
-- An observation on a day without activity still carries forward (license/set, clamping).
QUALIFY active
){kept}
SELECT *{flags} FROM {rows};{cleanup}
"#
    )
}

/// The days on which a property's end-of-day value changes, with the new value.
///
/// A day whose last observation repeats the value carried into it adds no row: the value at
/// the end of day e is the row with the greatest `day <= e` either way, and the SDK reports
/// every property at every start, so most observations repeat (a 1,000-installation fleet: 1.43
/// million observed property-days, 57,673 changes).
///
/// A load rebuilds each installation's rows from the first day of its new observations on
/// (`props_from`): an observation decides its own day and, through carry-forward, whether the
/// days after it change. Earlier rows stay, and the last of them per property is the value
/// carried into the rebuilt days. The bound on `day` lets the scan of `property_changes` skip
/// the row groups of older days, so a load does not read every observation its installations
/// ever sent.
fn property_days(scope: Scope) -> String {
    // The rows to replace, each (installation, property, day)'s last observation from the facts
    // `source` selects, and whether the first of those days is kept: "nothing carried in" is a
    // missing row of `carried` (`has_carried` NULL), so an observed NULL still differs from it.
    let (delete, source, carried, first_kept) = match scope {
        Scope::Full => (
            "DELETE FROM property_days USING affected a
WHERE property_days.product_id = a.product_id AND property_days.client_id = a.client_id;"
                .to_string(),
            "property_changes JOIN affected USING (product_id, client_id)".to_string(),
            "",
            "true",
        ),
        Scope::Load { min_t } => {
            let source = format!(
                "property_changes JOIN props_from USING (product_id, client_id)
        WHERE property_changes.day >= DATE '1970-01-01' + CAST({} AS INTEGER)
          AND property_changes.day >= props_from.from_day",
                min_t.div_euclid(usagi_warehouse::schema::MS_PER_DAY)
            );
            // The greatest observation of each installation lies on or after its `from_day`
            // (its new ones do, and every earlier day is earlier), so it is among `source`.
            let delete = format!(
                "INSERT INTO load_prop_marks
SELECT product_id, client_id, struct_extract(m, 't'), struct_extract(m, 's'), struct_extract(m, 'i') FROM (
    SELECT product_id, client_id, max({{'t': t, 's': seq, 'i': idx}}) AS m FROM {source} GROUP BY product_id, client_id
) AS marks;
DELETE FROM property_days USING props_from f
WHERE property_days.product_id = f.product_id AND property_days.client_id = f.client_id
  AND property_days.day >= f.from_day;"
            );
            (
                delete,
                source,
                // The rows left are those before each installation's `from_day`; the last of them per
                // property is the value carried into the rebuilt days.
                "LEFT JOIN (
    SELECT product_id, client_id, name, value AS carried_value, true AS has_carried
    FROM property_days JOIN props_from USING (product_id, client_id)
    QUALIFY row_number() OVER (PARTITION BY product_id, client_id, name ORDER BY day DESC) = 1
) AS carried USING (product_id, client_id, name)",
                "carried.has_carried IS NULL OR carried.carried_value IS DISTINCT FROM daily.value",
            )
        }
    };
    format!(
        "{delete}
INSERT INTO property_days
SELECT product_id, client_id, name, day, daily.value FROM (
    SELECT product_id, client_id, name, day, value,
           lag(value) OVER w AS before,
           row_number() OVER w AS nth
    FROM (
        -- The last observation of the day wins, by time, then batch seq, then record index (semantics §7.2).
        SELECT product_id, client_id, name, day, value,
               row_number() OVER (PARTITION BY product_id, client_id, name, day ORDER BY t DESC, seq DESC, idx DESC) AS rn
        FROM {source}
    ) AS d WHERE rn = 1
    WINDOW w AS (PARTITION BY product_id, client_id, name ORDER BY day)
) AS daily
{carried}
-- A day is kept when its value differs from the day before it (an observed NULL differs from
-- a value); the first day when it differs from the value carried into it, or nothing is.
WHERE CASE WHEN nth = 1 THEN {first_kept} ELSE before IS DISTINCT FROM daily.value END;
"
    )
}

/// One row per installation with activity: dateInstalled, dateLastSeen, lifetime counters,
/// opt-out state, the latest standard values (those of its last active day) and the
/// latest value of every current property.
///
/// `latest` is false for the version migration 3 applied; the latest one also fills the
/// columns of migrations 6 and 9 and adds what retention folded into `client_base` and
/// `purged_days` (semantics §2: lifetime aggregates survive purging).
fn clients(latest: bool) -> String {
    let (pivot, cur_cols) = current_columns();
    let (opt_out, opt_in) = (ObservationSource::OptOut as u8, ObservationSource::OptIn as u8);
    let lifetime = "SELECT product_id, client_id, count(*) AS n, sum(end_t - start_t) AS ms
    FROM sessions JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id";
    if !latest {
        let std_cols: String = standard_columns().map(|c| format!(", d.{}", c.column)).collect();
        return format!(
            r#"
DELETE FROM clients USING affected a WHERE clients.product_id = a.product_id AND clients.client_id = a.client_id;
INSERT INTO clients
WITH span AS (
    SELECT product_id, client_id, min(day) AS first_day, max(day) AS last_day
    FROM client_days JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id
),
{LATEST_AND_OPT},
life AS ({lifetime})
SELECT span.product_id, span.client_id, span.first_day, span.last_day,
       coalesce(life.n, 0), coalesce(life.ms, 0),
       coalesce(opt.historical, false), coalesce(opt.current, false){std_cols}{cur_cols}
FROM span
JOIN client_days d ON d.product_id = span.product_id AND d.client_id = span.client_id AND d.day = span.last_day
LEFT JOIN cur ON cur.product_id = span.product_id AND cur.client_id = span.client_id
LEFT JOIN life ON life.product_id = span.product_id AND life.client_id = span.client_id
LEFT JOIN opt ON opt.product_id = span.product_id AND opt.client_id = span.client_id;
"#,
            LATEST_AND_OPT = latest_and_opt(&pivot, opt_out, opt_in, false, "affected", ""),
        );
    }
    let std_cols = last_day_columns();
    format!(
        r#"
DELETE FROM clients USING affected a WHERE clients.product_id = a.product_id AND clients.client_id = a.client_id;
INSERT INTO clients
WITH {CLIENT_SPAN},
{LATEST_AND_OPT},
life AS ({lifetime}),
syncs AS (
    SELECT product_id, client_id, max(received_at) AS last_sync_at
    FROM contacts JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id
),
xs AS (
    SELECT product_id, client_id, count(*) AS n
    FROM exceptions JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id
)
SELECT span.product_id, span.client_id, span.first_day, span.last_day,
       coalesce(life.n, 0) + coalesce(b.sessions, 0), coalesce(life.ms, 0) + coalesce(b.runtime_ms, 0),
       coalesce(opt.historical, false), coalesce(opt.current, false){std_cols}{cur_cols},
       {last_sync}, span.active_days, coalesce(xs.n, 0) + coalesce(b.exceptions, 0)
FROM span
LEFT JOIN client_days d ON d.product_id = span.product_id AND d.client_id = span.client_id AND d.day = span.last_day
LEFT JOIN client_base b ON b.product_id = span.product_id AND b.client_id = span.client_id
LEFT JOIN cur ON cur.product_id = span.product_id AND cur.client_id = span.client_id
LEFT JOIN life ON life.product_id = span.product_id AND life.client_id = span.client_id
LEFT JOIN opt ON opt.product_id = span.product_id AND opt.client_id = span.client_id
LEFT JOIN syncs ON syncs.product_id = span.product_id AND syncs.client_id = span.client_id
LEFT JOIN xs ON xs.product_id = span.product_id AND xs.client_id = span.client_id;
"#,
        LATEST_AND_OPT = latest_and_opt(&pivot, opt_out, opt_in, true, "affected", ""),
        last_sync = greatest("syncs.last_sync_at", "b.last_sync_at"),
    )
}

/// The `span` CTE of the installations in `affected`: first and last active day, active days.
const CLIENT_SPAN: &str = "span AS (
    -- Purged and retained active days are disjoint (`client_days` skips purged ones).
    SELECT product_id, client_id, min(day) AS first_day, max(day) AS last_day, count(*) AS active_days FROM (
        SELECT product_id, client_id, day FROM client_days JOIN affected USING (product_id, client_id)
        UNION ALL SELECT product_id, client_id, day FROM purged_days JOIN affected USING (product_id, client_id)
    ) AS days GROUP BY product_id, client_id
)";

/// The pivot of the latest value of every current (non-standard) property into its column,
/// and the `cur.` columns of it in the order of the `clients` table.
fn current_columns() -> (String, String) {
    let current: Vec<&PropertyColumn> = PROPERTY_COLUMNS.iter().filter(|c| !c.standard).collect();
    let pivot: String = current
        .iter()
        .map(|c| {
            let v = typed_value("value", c.ty);
            format!(",\n        max(CASE WHEN name = '{}' THEN {v} END) AS {}", c.name, c.column)
        })
        .collect();
    let cur_cols: String = current.iter().map(|c| format!(", cur.{}", c.column)).collect();
    (pivot, cur_cols)
}

/// The standard values of the last active day: from its `client_days` row (`d`), or from the
/// base (`b`) when retention purged that day.
fn last_day_columns() -> String {
    standard_columns()
        .map(|c| format!(",\n       CASE WHEN d.client_id IS NULL THEN b.{0} ELSE d.{0} END", c.column))
        .collect()
}

/// `clients` of the installations a load touches, from their stored rows and what the load
/// changed, instead of counting every session, contact and exception they ever sent.
///
/// An installation with a stored row (`old`) adds to its lifetime counters the difference the
/// load made to its sessions (`session_delta`, [`rebuilt_sessions`]) and the load's exceptions,
/// and takes the later of its last sync and the load's (`load_clients`, written by the
/// loader). One without a row has no sessions, contacts or exceptions before this load (they
/// all make active days, and an installation with an active day has a row until it is
/// erased), so the same sums start from its retention base (a ClickHouse recomputation loads
/// only the base tables).
/// Opt-out state ([`OPT_OF_LOAD`]): an installation whose load has opt-out or opt-in
/// observations takes the latest of its observations from the least of the load's on (the
/// latest of all is among them, as the load's own are), and has opted out historically if it
/// had or one of those is an opt-out; one without a row is recomputed from all its
/// observations (opt-outs are no activity, so they may come before its first active day);
/// the others keep theirs. The rows are computed before the stored ones are deleted.
fn clients_of_load() -> String {
    let (pivot, cur_cols) = current_columns();
    let (opt_out, opt_in) = (ObservationSource::OptOut as u8, ObservationSource::OptIn as u8);
    format!(
        r#"
INSERT INTO merged_clients
WITH {CLIENT_SPAN},
{LATEST_AND_OPT},
old AS (SELECT clients.* FROM clients JOIN affected USING (product_id, client_id)),
delta AS (
    SELECT product_id, client_id, sum(sessions) AS n, sum(runtime_ms) AS ms FROM session_delta GROUP BY product_id, client_id
)
SELECT span.product_id, span.client_id, span.first_day, span.last_day,
       coalesce(old.lifetime_sessions, b.sessions, 0) + coalesce(delta.n, 0),
       coalesce(old.lifetime_runtime_ms, b.runtime_ms, 0) + coalesce(delta.ms, 0),
       coalesce(opt.historical, false) OR coalesce(old.opt_out_historical, false),
       coalesce(opt.current, old.opt_out_current, false){std_cols}{cur_cols},
       {last_sync}, span.active_days,
       coalesce(old.lifetime_exceptions, b.exceptions, 0) + coalesce(lc.exceptions, 0)
FROM span
LEFT JOIN old ON old.product_id = span.product_id AND old.client_id = span.client_id
LEFT JOIN client_days d ON d.product_id = span.product_id AND d.client_id = span.client_id AND d.day = span.last_day
LEFT JOIN client_base b ON b.product_id = span.product_id AND b.client_id = span.client_id
LEFT JOIN cur ON cur.product_id = span.product_id AND cur.client_id = span.client_id
LEFT JOIN opt ON opt.product_id = span.product_id AND opt.client_id = span.client_id
LEFT JOIN delta ON delta.product_id = span.product_id AND delta.client_id = span.client_id
LEFT JOIN load_clients lc ON lc.product_id = span.product_id AND lc.client_id = span.client_id;
DELETE FROM clients USING affected a WHERE clients.product_id = a.product_id AND clients.client_id = a.client_id;
INSERT INTO clients SELECT * FROM merged_clients;
DELETE FROM merged_clients;
DELETE FROM session_delta;
"#,
        LATEST_AND_OPT = latest_and_opt(
            &pivot,
            opt_out,
            opt_in,
            true,
            OPT_OF_LOAD,
            " AND t >= opt_of.opt_from AND t >= (SELECT min(opt_from) FROM load_clients)",
        ),
        std_cols = last_day_columns(),
        last_sync = greatest("coalesce(old.last_sync_at, b.last_sync_at)", "lc.last_sync_at"),
    )
}

/// The installations whose opt-out state a load recomputes ([`clients_of_load`]), from their
/// opt-out and opt-in observations at or after `opt_from` (written by the loader).
const OPT_OF_LOAD: &str =
    "(SELECT product_id, client_id, opt_from FROM load_clients WHERE opt_from IS NOT NULL) AS opt_of";

/// `greatest` of two nullable expressions, NULL only when both are.
fn greatest(a: &str, b: &str) -> String {
    format!("greatest(coalesce({a}, {b}), coalesce({b}, {a}))")
}

/// The CTEs `latest`, `cur` (latest value of every current property) and `opt` (opt-out state
/// of the installations `opt_of` lists: a table or an aliased subquery).
///
/// With `from_days`, the latest value is that of the last `property_days` row (refreshed
/// before; its value is the end-of-day value of the last day with an observation, which the
/// latest observation decides), not a scan of every observation.
fn latest_and_opt(pivot: &str, opt_out: u8, opt_in: u8, from_days: bool, opt_of: &str, bound: &str) -> String {
    let latest = if from_days {
        "SELECT product_id, client_id, name, value FROM property_days JOIN affected USING (product_id, client_id)
    QUALIFY row_number() OVER (PARTITION BY product_id, client_id, name ORDER BY day DESC) = 1"
    } else {
        "SELECT product_id, client_id, name, value FROM (
        SELECT product_id, client_id, name, value,
               row_number() OVER (PARTITION BY product_id, client_id, name ORDER BY t DESC, seq DESC, idx DESC) AS rn
        FROM property_changes JOIN affected USING (product_id, client_id)
    ) AS ranked WHERE rn = 1"
    };
    format!(
        r#"latest AS (
    {latest}
),
cur AS (
    SELECT product_id, client_id{pivot}
    FROM latest GROUP BY product_id, client_id
),
opt AS (
    -- semantics §11: the later of the last opt-out and the last opt-in decides.
    SELECT product_id, client_id, bool_or(source = {opt_out}) AS historical,
           arg_max(source, [t, seq, idx]) = {opt_out} AS current
    FROM observations JOIN {opt_of} USING (product_id, client_id)
    WHERE source IN ({opt_out}, {opt_in}){bound} GROUP BY product_id, client_id
)"#
    )
}

/// `client_events` as migration 3 created it (no first/last day yet).
const CLIENT_EVENTS_V3: &str = r#"
DELETE FROM client_events USING affected a WHERE client_events.product_id = a.product_id AND client_events.client_id = a.client_id;
INSERT INTO client_events
SELECT product_id, client_id, category, name, count(*)
FROM events JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id, category, name;
"#;

/// All-time occurrences per installation and event: the facts plus what retention folded.
///
/// Read from `event_days` (refreshed just before, and purged and erased with `events`), which
/// holds the same counts per day in a fraction of the rows.
const CLIENT_EVENTS: &str = r#"
DELETE FROM client_events USING affected a WHERE client_events.product_id = a.product_id AND client_events.client_id = a.client_id;
INSERT INTO client_events
SELECT product_id, client_id, category, name, sum(n), min(first_day), max(last_day) FROM (
    SELECT product_id, client_id, category, name, sum(n) AS n, min(day) AS first_day, max(day) AS last_day
    FROM event_days JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id, category, name
    UNION ALL
    SELECT product_id, client_id, category, name, n, first_day, last_day
    FROM client_event_base JOIN affected USING (product_id, client_id)
) AS all_time GROUP BY product_id, client_id, category, name;
"#;

const EVENT_DAYS: &str = r#"
DELETE FROM event_days USING affected a WHERE event_days.product_id = a.product_id AND event_days.client_id = a.client_id;
INSERT INTO event_days
SELECT product_id, client_id, day, category, name, count(*), coalesce(sum(num_value), 0)
FROM events JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id, day, category, name;
"#;

/// Event totals of the days listed in `affected_days` (the days of the batch's events),
/// recomputed from `event_days`; the day bounds let the scan skip other row groups.
pub const EVENT_TOTALS: &str = r#"
DELETE FROM event_totals USING affected_days a WHERE event_totals.product_id = a.product_id AND event_totals.day = a.day;
INSERT INTO event_totals
SELECT ev.product_id, ev.day, ev.category, ev.name, sum(ev.n), sum(ev.value_sum)
FROM event_days ev JOIN affected_days a ON ev.product_id = a.product_id AND ev.day = a.day
WHERE ev.day BETWEEN (SELECT min(day) FROM affected_days) AND (SELECT max(day) FROM affected_days)
GROUP BY ev.product_id, ev.day, ev.category, ev.name;
"#;

/// Fact and per-installation rollup tables, erased row by row for one installation.
pub const INSTALLATION_TABLES: &[&str] = &[
    "contacts",
    "events",
    "session_marks",
    "exceptions",
    "observations",
    "property_changes",
    "sessions",
    "client_days",
    "clients",
    "property_days",
    "client_events",
    "event_days",
    "evidence_days",
    "property_marks",
];

/// The statements of one retention purge of `product` before `cutoff` (semantics §2,
/// callhome §9.4), run in one transaction by the backend.
///
/// DuckDB has no partitions: a range delete on each table's `day` is its equivalent (the
/// scale-out backend drops partitions instead). Before deleting, the purged rows are folded
/// into the base tables of migration 9 and each installation keeps its latest observation of
/// every source and its latest value of every property leaf, so end-of-day values still carry
/// forward past the cutoff and opt-out state and the envelope survive. A session that starts
/// before the cutoff and ends after it keeps its start mark, so it is rebuilt whole from the
/// remaining records; sessions that ended before the cutoff are folded and final.
pub struct PurgeSql {
    /// Lists the installations to fold in `affected` and the sessions reaching across the cutoff.
    pub prepare: String,
    /// Folds what is about to be deleted into the base tables.
    pub fold: String,
    /// One range delete per fact table, by name, whose row counts are reported.
    pub fact_deletes: Vec<(&'static str, String)>,
    /// Range deletes of the rollups, then their refresh for the affected installations.
    pub rollups: String,
}

/// Builds [`PurgeSql`] for one product and cutoff day.
pub fn purge_before(product: i64, cutoff: chrono::NaiveDate) -> PurgeSql {
    let c = format!("DATE '{}'", cutoff.format("%Y-%m-%d"));
    let cms = (cutoff - chrono::NaiveDate::default()).num_days() * usagi_warehouse::schema::MS_PER_DAY;
    let old = format!("product_id = {product} AND day < {c}");
    let prepare = format!(
        r#"
DELETE FROM affected;
DELETE FROM affected_days;
INSERT INTO affected
SELECT DISTINCT product_id, client_id FROM client_days WHERE {old}
UNION SELECT DISTINCT product_id, client_id FROM contacts WHERE {old}
UNION SELECT DISTINCT product_id, client_id FROM events WHERE {old}
UNION SELECT DISTINCT product_id, client_id FROM exceptions WHERE {old}
UNION SELECT DISTINCT product_id, client_id FROM session_marks WHERE {old}
UNION SELECT product_id, client_id FROM observations WHERE {old} GROUP BY product_id, client_id, source HAVING count(*) > 1
UNION SELECT product_id, client_id FROM property_changes WHERE {old} GROUP BY product_id, client_id, name HAVING count(*) > 1;
CREATE OR REPLACE TEMP TABLE kept_starts AS
SELECT product_id, client_id, session_key, start_t FROM sessions JOIN affected USING (product_id, client_id)
WHERE start_day < {c} AND end_t >= {cms};
"#
    );
    // The standard values of the last purged active day: from this purge when it purges a
    // later active day than earlier ones did.
    let newer = "coalesce(lr.day > b.last_day OR (b.last_day IS NULL AND lr.day IS NOT NULL), false)";
    let std_cols: String = standard_columns()
        .map(|col| format!(",\n       CASE WHEN {newer} THEN lr.{0} ELSE b.{0} END AS {0}", col.column))
        .collect();
    let fold = format!(
        r#"
CREATE OR REPLACE TEMP TABLE base_next AS
WITH folded AS (
    SELECT product_id, client_id, count(*) AS n, sum(end_t - start_t) AS ms
    FROM sessions JOIN affected USING (product_id, client_id)
    WHERE start_day < {c} AND end_t < {cms} GROUP BY product_id, client_id
),
xs AS (SELECT product_id, client_id, count(*) AS n FROM exceptions WHERE {old} GROUP BY product_id, client_id),
syncs AS (SELECT product_id, client_id, max(received_at) AS at FROM contacts WHERE {old} GROUP BY product_id, client_id),
last_row AS (
    SELECT * FROM client_days WHERE {old}
    QUALIFY row_number() OVER (PARTITION BY product_id, client_id ORDER BY day DESC) = 1
)
SELECT a.product_id, a.client_id, greatest({c}, coalesce(b.purged_before, {c})) AS purged_before,
       coalesce(b.sessions, 0) + coalesce(f.n, 0) AS sessions,
       coalesce(b.runtime_ms, 0) + coalesce(f.ms, 0) AS runtime_ms,
       coalesce(b.exceptions, 0) + coalesce(xs.n, 0) AS exceptions,
       {last_sync} AS last_sync_at,
       CASE WHEN {newer} THEN lr.day ELSE b.last_day END AS last_day{std_cols}
FROM affected a
LEFT JOIN client_base b ON b.product_id = a.product_id AND b.client_id = a.client_id
LEFT JOIN folded f ON f.product_id = a.product_id AND f.client_id = a.client_id
LEFT JOIN xs ON xs.product_id = a.product_id AND xs.client_id = a.client_id
LEFT JOIN syncs ON syncs.product_id = a.product_id AND syncs.client_id = a.client_id
LEFT JOIN last_row lr ON lr.product_id = a.product_id AND lr.client_id = a.client_id;
DELETE FROM client_base USING affected a WHERE client_base.product_id = a.product_id AND client_base.client_id = a.client_id;
INSERT INTO client_base SELECT * FROM base_next;
DROP TABLE base_next;
INSERT INTO purged_days SELECT product_id, client_id, day FROM client_days WHERE {old};
CREATE OR REPLACE TEMP TABLE event_base_next AS
SELECT product_id, client_id, category, name, sum(n) AS n, min(first_day) AS first_day, max(last_day) AS last_day FROM (
    SELECT product_id, client_id, category, name, n, first_day, last_day
    FROM client_event_base JOIN affected USING (product_id, client_id)
    UNION ALL
    SELECT product_id, client_id, category, name, count(*), min(day), max(day)
    FROM events WHERE {old} GROUP BY product_id, client_id, category, name
) AS e GROUP BY product_id, client_id, category, name;
DELETE FROM client_event_base USING affected a
WHERE client_event_base.product_id = a.product_id AND client_event_base.client_id = a.client_id;
INSERT INTO client_event_base SELECT * FROM event_base_next;
DROP TABLE event_base_next;
"#,
        last_sync = greatest("syncs.at", "b.last_sync_at"),
    );
    // Keeps each installation's latest row per `key` among the old ones.
    let keep_latest = |table: &str, key: &str| {
        format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT rid FROM (
                SELECT rowid AS rid, row_number() OVER (
                    PARTITION BY product_id, client_id, {key} ORDER BY t DESC, seq DESC, idx DESC) AS rn
                FROM {table} WHERE {old}) AS r WHERE rn > 1)"
        )
    };
    let fact_deletes = vec![
        ("contacts", format!("DELETE FROM contacts WHERE {old}")),
        ("events", format!("DELETE FROM events WHERE {old}")),
        ("exceptions", format!("DELETE FROM exceptions WHERE {old}")),
        (
            "session_marks",
            format!(
                "DELETE FROM session_marks WHERE rowid IN (
                    SELECT m.rowid FROM session_marks m
                    LEFT JOIN kept_starts k ON m.kind = 1 AND k.product_id = m.product_id AND k.client_id = m.client_id
                        AND k.session_key = coalesce(m.session_id, '') AND k.start_t = m.t
                    WHERE m.product_id = {product} AND m.day < {c} AND k.client_id IS NULL)"
            ),
        ),
        ("observations", keep_latest("observations", "source")),
        ("property_changes", keep_latest("property_changes", "name")),
    ];
    let rollups = format!(
        "DELETE FROM client_days WHERE {old};
         DELETE FROM event_days WHERE {old};
         DELETE FROM event_totals WHERE {old};
         {refresh}
         DROP TABLE kept_starts;
         DELETE FROM affected;",
        refresh = refresh_rollups(),
    );
    PurgeSql { prepare, fold, fact_deletes, rollups }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_semicolons_outside_literals_and_comments() {
        let sql = "DELETE FROM a;\n-- a comment; not a split\nINSERT INTO a SELECT 'x;y', 1;\n  -- only a comment\n;  ";
        assert_eq!(statements(sql), ["DELETE FROM a", "-- a comment; not a split\nINSERT INTO a SELECT 'x;y', 1"],);
        assert_eq!(statements("SELECT 'it''s; fine'"), ["SELECT 'it''s; fine'"]);
        assert!(statements(" \n-- nothing\n").is_empty());
    }

    #[test]
    fn every_load_step_splits_into_statements_duckdb_prepares() {
        let conn = duckdb::Connection::open_in_memory().expect("duckdb");
        for sql in migrations() {
            conn.execute_batch(&sql).expect("migration");
        }
        conn.execute_batch(WRITER_SCRATCH).expect("scratch tables");
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).expect("date");
        let properties = PropertyLoad { general: Some(day), in_order: true };
        for step in load_steps(Some(DayRange { first: day, last: day }), Some(0), properties) {
            let statements = statements(&step.sql);
            assert!(!statements.is_empty(), "{}", step.rollup);
            for s in statements {
                // Preparing one statement at a time fails on a piece with two statements or none.
                conn.prepare(s).unwrap_or_else(|e| panic!("{}: {e}\n{s}", step.rollup));
            }
        }
    }
}
