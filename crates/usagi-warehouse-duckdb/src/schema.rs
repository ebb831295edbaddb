//! DuckDB DDL, applied as numbered migrations.

/// Ordered migrations; index + 1 is the schema version after applying it.
pub const MIGRATIONS: &[&str] = &[
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

/// Rebuilds the rollups of the installations listed in the temp table `affected`.
///
/// Written as one from-scratch computation per installation so that late, offline
/// or out-of-order batches can never leave a rollup that differs from the facts.
pub const REFRESH_ROLLUPS: &str = r#"
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
)
SELECT product_id, client_id, day, sum(overlap_ms), sum(started)
FROM all_days GROUP BY product_id, client_id, day;

DELETE FROM property_days USING affected a WHERE property_days.product_id = a.product_id AND property_days.client_id = a.client_id;
INSERT INTO property_days
SELECT product_id, client_id, name, day, value FROM (
    -- The last observation of the day wins, by time, then batch seq, then record index (semantics §7.2).
    SELECT product_id, client_id, name, day, value,
           row_number() OVER (PARTITION BY product_id, client_id, name, day ORDER BY t DESC, seq DESC, idx DESC) AS rn
    FROM property_changes JOIN affected USING (product_id, client_id)
) AS ranked WHERE rn = 1;

DELETE FROM clients USING affected a WHERE clients.product_id = a.product_id AND clients.client_id = a.client_id;
INSERT INTO clients
SELECT product_id, client_id, min(day), max(day)
FROM client_days JOIN affected USING (product_id, client_id)
GROUP BY product_id, client_id;
"#;
