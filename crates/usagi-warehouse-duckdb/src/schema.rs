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
    all
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
        refresh = [SESSIONS, &client_days(false), PROPERTY_DAYS, &clients(false), CLIENT_EVENTS_V3].concat(),
    )
}

/// Rebuilds the rollups of the installations listed in the table `affected`.
///
/// Written as one from-scratch computation per installation so that late, offline
/// or out-of-order batches can never leave a rollup that differs from the facts.
pub fn refresh_rollups() -> String {
    [SESSIONS, &client_days(true), PROPERTY_DAYS, &clients(true), CLIENT_EVENTS, EVENT_DAYS, EVENT_TOTALS].concat()
}

const SESSIONS: &str = r#"
DELETE FROM sessions USING affected a WHERE sessions.product_id = a.product_id AND sessions.client_id = a.client_id;
INSERT INTO sessions
WITH tl AS (
    SELECT product_id, client_id, t, seq, idx, kind, session_id FROM session_marks JOIN affected USING (product_id, client_id)
    UNION ALL SELECT product_id, client_id, t, seq, idx, 0, session_id FROM events JOIN affected USING (product_id, client_id)
    UNION ALL SELECT product_id, client_id, t, seq, idx, 0, session_id FROM exceptions JOIN affected USING (product_id, client_id)
    UNION ALL SELECT product_id, client_id, t, seq, idx, 0, session_id FROM observations JOIN affected USING (product_id, client_id) WHERE evidence
),
ordered AS (
    -- Every sessionStart opens a new group per (installation, session key); the
    -- implicit session has the empty key, which no explicit id (10-64 chars) can be.
    SELECT product_id, client_id, coalesce(session_id, '') AS session_key, t, kind,
           sum(CASE WHEN kind = 1 THEN 1 ELSE 0 END) OVER (
               PARTITION BY product_id, client_id, coalesce(session_id, '')
               ORDER BY t, seq, idx ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS grp
    FROM tl
),
grouped AS (
    -- A session ends at its first stop; without one, at its last member record.
    SELECT product_id, client_id, session_key, grp, min(t) AS start_t,
           coalesce(min(t) FILTER (WHERE kind = 2), max(t)) AS end_t
    FROM ordered WHERE grp > 0
    GROUP BY product_id, client_id, session_key, grp
)
SELECT product_id, client_id, session_key, grp, start_t, greatest(start_t, end_t),
       CAST(DATE '1970-01-01' + CAST(start_t // 86400000 AS INTEGER) AS DATE)
FROM grouped;
"#;

/// `value` (VARCHAR) converted to a column's type.
fn typed_value(expr: &str, ty: ColumnType) -> String {
    match ty {
        ColumnType::Text => expr.to_string(),
        other => format!("TRY_CAST({expr} AS {})", other.sql()),
    }
}

/// One row per active day, with the end-of-day value of every standard property.
fn client_days(period_flags: bool) -> String {
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
    let flags = if period_flags {
        ",\n    day = max(day) OVER (PARTITION BY product_id, client_id, date_trunc('week', day)) AS week_last,\n    \
         day = max(day) OVER (PARTITION BY product_id, client_id, date_trunc('month', day)) AS month_last"
    } else {
        ""
    };
    format!(
        r#"
DELETE FROM client_days USING affected a WHERE client_days.product_id = a.product_id AND client_days.client_id = a.client_id;
INSERT INTO client_days
WITH evidence AS (
    SELECT product_id, client_id, day FROM contacts JOIN affected USING (product_id, client_id)
    UNION SELECT product_id, client_id, day FROM events JOIN affected USING (product_id, client_id)
    UNION SELECT product_id, client_id, day FROM session_marks JOIN affected USING (product_id, client_id)
    UNION SELECT product_id, client_id, day FROM exceptions JOIN affected USING (product_id, client_id)
    UNION SELECT product_id, client_id, day FROM observations JOIN affected USING (product_id, client_id) WHERE evidence
),
session_days AS (
    -- A session covers the days its half-open interval [start, end) intersects.
    SELECT product_id, client_id, dn,
           least(end_t, (dn + 1) * 86400000) - greatest(start_t, dn * 86400000) AS overlap_ms,
           CASE WHEN dn = start_t // 86400000 THEN 1 ELSE 0 END AS started
    FROM (
        SELECT product_id, client_id, start_t, end_t,
               unnest(range(start_t // 86400000,
                            (CASE WHEN end_t > start_t THEN (end_t - 1) // 86400000 ELSE start_t // 86400000 END) + 1)) AS dn
        FROM sessions JOIN affected USING (product_id, client_id)
    )
),
all_days AS (
    SELECT product_id, client_id, day, 0 AS overlap_ms, 0 AS started FROM evidence
    UNION ALL
    SELECT product_id, client_id, CAST(DATE '1970-01-01' + CAST(dn AS INTEGER) AS DATE), overlap_ms, started FROM session_days
),
days AS (
    SELECT product_id, client_id, day, sum(overlap_ms) AS runtime_ms, sum(started) AS sessions
    FROM all_days GROUP BY product_id, client_id, day
),
last_of_day AS (
    -- The last observation of the day wins, by time, then batch seq, then record index (semantics §7.2).
    SELECT product_id, client_id, day, name, value FROM (
        SELECT product_id, client_id, day, name, value,
               row_number() OVER (PARTITION BY product_id, client_id, name, day ORDER BY t DESC, seq DESC, idx DESC) AS rn
        FROM property_changes JOIN affected USING (product_id, client_id)
    ) AS ranked WHERE rn = 1
),
observed AS (
    SELECT product_id, client_id, day{pivot}
    FROM last_of_day GROUP BY product_id, client_id, day
),
base AS (
SELECT product_id, client_id, day, runtime_ms, sessions,
    -- The installation day (dateInstalled), so "new" needs no join with `clients`.
    NOT coalesce(bool_or(active) OVER before, false){carried}
FROM (
    SELECT product_id, client_id, day, d.runtime_ms, d.sessions, d.day IS NOT NULL AS active{observed_cols}
    FROM days d FULL JOIN observed o USING (product_id, client_id, day)
) AS o
WINDOW w AS (PARTITION BY product_id, client_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
       before AS (PARTITION BY product_id, client_id ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
-- An observation on a day without activity still carries forward (license/set, clamping).
QUALIFY active
)
SELECT *{flags} FROM base;
"#
    )
}

const PROPERTY_DAYS: &str = r#"
DELETE FROM property_days USING affected a WHERE property_days.product_id = a.product_id AND property_days.client_id = a.client_id;
INSERT INTO property_days
SELECT product_id, client_id, name, day, value FROM (
    -- The last observation of the day wins, by time, then batch seq, then record index (semantics §7.2).
    SELECT product_id, client_id, name, day, value,
           row_number() OVER (PARTITION BY product_id, client_id, name, day ORDER BY t DESC, seq DESC, idx DESC) AS rn
    FROM property_changes JOIN affected USING (product_id, client_id)
) AS ranked WHERE rn = 1;
"#;

/// One row per installation with activity: dateInstalled, dateLastSeen, lifetime counters,
/// opt-out state, the latest standard values (those of its last active day) and the
/// latest value of every current property.
fn clients(extras: bool) -> String {
    let current: Vec<&PropertyColumn> = PROPERTY_COLUMNS.iter().filter(|c| !c.standard).collect();
    let pivot: String = current
        .iter()
        .map(|c| {
            let v = typed_value("value", c.ty);
            format!(",\n        max(CASE WHEN name = '{}' THEN {v} END) AS {}", c.name, c.column)
        })
        .collect();
    let std_cols: String = standard_columns().map(|c| format!(", d.{}", c.column)).collect();
    let cur_cols: String = current.iter().map(|c| format!(", cur.{}", c.column)).collect();
    let (opt_out, opt_in) = (ObservationSource::OptOut as u8, ObservationSource::OptIn as u8);
    // Columns added by migration 6, at the end of the table.
    let (extra_cte, extra_cols, extra_join) = if extras {
        (
            ",\nsyncs AS (\n    SELECT product_id, client_id, max(received_at) AS last_sync_at\n    FROM contacts JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id\n)",
            ", syncs.last_sync_at, span.active_days",
            "\nLEFT JOIN syncs ON syncs.product_id = span.product_id AND syncs.client_id = span.client_id",
        )
    } else {
        ("", "", "")
    };
    format!(
        r#"
DELETE FROM clients USING affected a WHERE clients.product_id = a.product_id AND clients.client_id = a.client_id;
INSERT INTO clients
WITH span AS (
    SELECT product_id, client_id, min(day) AS first_day, max(day) AS last_day, count(*) AS active_days
    FROM client_days JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id
),
latest AS (
    SELECT product_id, client_id, name, value FROM (
        SELECT product_id, client_id, name, value,
               row_number() OVER (PARTITION BY product_id, client_id, name ORDER BY t DESC, seq DESC, idx DESC) AS rn
        FROM property_changes JOIN affected USING (product_id, client_id)
    ) AS ranked WHERE rn = 1
),
cur AS (
    SELECT product_id, client_id{pivot}
    FROM latest GROUP BY product_id, client_id
),
life AS (
    SELECT product_id, client_id, count(*) AS n, sum(end_t - start_t) AS ms
    FROM sessions JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id
),
opt AS (
    -- semantics §11: the later of the last opt-out and the last opt-in decides.
    SELECT product_id, client_id, bool_or(source = {opt_out}) AS historical,
           arg_max(source, [t, seq, idx]) = {opt_out} AS current
    FROM observations JOIN affected USING (product_id, client_id)
    WHERE source IN ({opt_out}, {opt_in}) GROUP BY product_id, client_id
){extra_cte}
SELECT span.product_id, span.client_id, span.first_day, span.last_day,
       coalesce(life.n, 0), coalesce(life.ms, 0),
       coalesce(opt.historical, false), coalesce(opt.current, false){std_cols}{cur_cols}{extra_cols}
FROM span
JOIN client_days d ON d.product_id = span.product_id AND d.client_id = span.client_id AND d.day = span.last_day
LEFT JOIN cur ON cur.product_id = span.product_id AND cur.client_id = span.client_id
LEFT JOIN life ON life.product_id = span.product_id AND life.client_id = span.client_id
LEFT JOIN opt ON opt.product_id = span.product_id AND opt.client_id = span.client_id{extra_join};
"#
    )
}

/// `client_events` as migration 3 created it (no first/last day yet).
const CLIENT_EVENTS_V3: &str = r#"
DELETE FROM client_events USING affected a WHERE client_events.product_id = a.product_id AND client_events.client_id = a.client_id;
INSERT INTO client_events
SELECT product_id, client_id, category, name, count(*)
FROM events JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id, category, name;
"#;

const CLIENT_EVENTS: &str = r#"
DELETE FROM client_events USING affected a WHERE client_events.product_id = a.product_id AND client_events.client_id = a.client_id;
INSERT INTO client_events
SELECT product_id, client_id, category, name, count(*), min(day), max(day)
FROM events JOIN affected USING (product_id, client_id) GROUP BY product_id, client_id, category, name;
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
];
