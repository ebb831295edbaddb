//! The ClickHouse half of the dialect layer: report SQL is written once, in the portable
//! subset of SQL both engines read, plus a few spellings only DuckDB (and the standard) know.
//! [`normalize`] rewrites those to what ClickHouse 18.16 reads, before parameters are bound
//! (so no user data is in the text it works on):
//!
//! - `WITH a AS (…), b AS (…) SELECT …` — 18.16 has no common table expressions: each
//!   reference `FROM a` / `JOIN a` becomes `(…) AS a`, or `(…)` when an alias follows;
//! - `GROUP BY 1, 2` — positions become the expressions of the matching select list;
//! - `TRUE` / `FALSE` — `1` / `0`;
//! - `CAST(NULL AS T)` — `CAST(NULL AS Nullable(T))`;
//! - `DATE 'yyyy-mm-dd'` — `toDate('yyyy-mm-dd')`;
//! - `bool_or(x)` / `bool_and(x)` — `max(x)` / `min(x)`;
//! - `agg(args) FILTER (WHERE cond)` — the `-If` combinator, `aggIf(args, cond)`;
//! - `a IS NOT DISTINCT FROM b` — `ifNull(a, '\0') = ifNull(b, '\0')` (text operands: the one
//!   use is the nullable event category, and the form is allowed in `JOIN … ON`).
//!
//! What cannot be rewritten mechanically (window functions, correlated subqueries, several
//! joins in one `SELECT`, joins on inequalities) is kept out of report SQL that must run on
//! ClickHouse.

/// Rewrites portable report SQL for ClickHouse 18.16. `booleans` names the columns that are
/// BOOLEAN in the logical schema (UInt8 here): their text form is `true`/`false`, as DuckDB's.
pub fn normalize_with(sql: &str, booleans: &std::collections::HashSet<String>) -> String {
    normalize(&bool_text(sql, booleans))
}

/// `CAST(x AS VARCHAR)` → `CAST(x AS Nullable(String))`: 18.16 refuses to cast a NULL to a
/// non-nullable type, where standard SQL keeps the NULL.
fn nullable_text_casts(sql: &str) -> String {
    let toks = lex(sql);
    let mut out = toks.clone();
    for i in 0..toks.len() {
        if !toks[i].is_word("CAST") {
            continue;
        }
        let Some(o) = next_solid(&toks, i + 1).filter(|&o| toks[o] == Tok::Punct('(')) else { continue };
        let Some(c) = closing(&toks, o) else { continue };
        let Some(ty) = (o + 1..c).rev().find(|&j| !matches!(toks[j], Tok::Space(_))) else { continue };
        let Some(as_kw) = (o + 1..ty).rev().find(|&j| !matches!(toks[j], Tok::Space(_))) else { continue };
        if toks[as_kw].is_word("AS") && (toks[ty].is_word("VARCHAR") || toks[ty].is_word("String")) {
            out[ty] = Tok::Word("Nullable(String)".into());
        }
    }
    join(&out)
}

/// `CAST(x.flag AS VARCHAR)` of a boolean column → `'true'`/`'false'` (NULL stays NULL):
/// ClickHouse would print the UInt8 as `1`/`0`.
fn bool_text(sql: &str, booleans: &std::collections::HashSet<String>) -> String {
    if booleans.is_empty() {
        return sql.to_string();
    }
    let toks = lex(sql);
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < toks.len() {
        if toks[i].is_word("CAST") {
            if let Some(o) = next_solid(&toks, i + 1).filter(|&o| toks[o] == Tok::Punct('(')) {
                if let Some(c) = closing(&toks, o) {
                    let inner: Vec<&Tok> = toks[o + 1..c].iter().filter(|t| !matches!(t, Tok::Space(_))).collect();
                    let n = inner.len();
                    let is_text = n >= 3
                        && inner[n - 2].is_word("AS")
                        && (inner[n - 1].is_word("VARCHAR") || inner[n - 1].is_word("String"));
                    let expr: Vec<&Tok> = if is_text { inner[..n - 2].to_vec() } else { Vec::new() };
                    let plain = !expr.is_empty()
                        && expr.iter().all(|t| matches!(t, Tok::Word(_) | Tok::Punct('.')))
                        && matches!(expr.last(), Some(Tok::Word(w)) if booleans.contains(w.as_str()));
                    if plain {
                        let x: String = expr.iter().map(|t| t.text()).collect();
                        out.push_str(&format!("multiIf(isNull({x}), NULL, {x} = 1, 'true', 'false')"));
                        i = c + 1;
                        continue;
                    }
                }
            }
        }
        out.push_str(&toks[i].text());
        i += 1;
    }
    out
}

/// Rewrites portable report SQL for ClickHouse 18.16 (without schema knowledge).
pub fn normalize(sql: &str) -> String {
    let sql = inline_ctes(sql);
    let sql = rewrite_filters(&sql);
    let sql = rewrite_tokens(&sql);
    let sql = positional_group_by(&sql);
    let sql = nullable_text_casts(&sql);
    let sql = rewrite_calls(&sql);
    rewrite_int_div(&sql)
}

/// Calls respelled whole: counts become signed (`toInt64(count(…))`: ClickHouse's UInt64
/// counts have no common type with Int64 sums in a `UNION ALL`), `printf('%016X', x)` (the
/// hexadecimal installation id) becomes a padded `hex`, `date_diff` becomes `dateDiff`.
fn rewrite_calls(sql: &str) -> String {
    let toks = lex(sql);
    let mut out = String::with_capacity(sql.len() + 64);
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let open = next_solid(&toks, i + 1).filter(|&o| toks[o] == Tok::Punct('('));
        match (t, open) {
            (Tok::Word(w), Some(o)) if w.eq_ignore_ascii_case("count") || w == "countIf" => {
                if let Some(c) = closing(&toks, o) {
                    out.push_str(&format!("toInt64({})", join(&toks[i..=c])));
                    i = c + 1;
                    continue;
                }
            }
            (Tok::Word(w), Some(o)) if w.eq_ignore_ascii_case("printf") => {
                let fmt = next_solid(&toks, o + 1);
                let comma = fmt.and_then(|f| next_solid(&toks, f + 1));
                if let (Some(f), Some(comma), Some(c)) = (fmt, comma, closing(&toks, o)) {
                    if toks[f] == Tok::Str("'%016X'".into()) && toks[comma] == Tok::Punct(',') {
                        let x = join(&toks[comma + 1..c]).trim().to_string();
                        out.push_str(&format!(
                            "substring(concat('0000000000000000', hex({x})), length(hex({x})) + 1, 16)"
                        ));
                        i = c + 1;
                        continue;
                    }
                }
            }
            (Tok::Word(w), Some(_)) if w.eq_ignore_ascii_case("date_diff") => {
                out.push_str("dateDiff");
                i += 1;
                continue;
            }
            // strftime(date, '%Y-%m'): the same format letters for dates.
            (Tok::Word(w), Some(_)) if w.eq_ignore_ascii_case("strftime") => {
                out.push_str("formatDateTime");
                i += 1;
                continue;
            }
            _ => {}
        }
        out.push_str(&t.text());
        i += 1;
    }
    out
}

/// `a // b` (DuckDB's integer division; a comment in ClickHouse) → `intDiv(a, b)`, where each
/// operand is one primary: a (qualified) name, a number or placeholder, a call or a
/// parenthesised expression, so `x - a // b` stays `x - intDiv(a, b)` as precedence wants.
fn rewrite_int_div(sql: &str) -> String {
    let mut toks = lex(sql);
    while let Some(at) =
        (0..toks.len().saturating_sub(1)).find(|&i| toks[i] == Tok::Punct('/') && toks[i + 1] == Tok::Punct('/'))
    {
        // Left primary.
        let Some(l_end) = (0..at).rev().find(|&i| !matches!(toks[i], Tok::Space(_))) else { break };
        let mut l_start = l_end;
        if toks[l_end] == Tok::Punct(')') {
            let mut depth = 0;
            for i in (0..=l_end).rev() {
                match toks[i] {
                    Tok::Punct(')') => depth += 1,
                    Tok::Punct('(') => {
                        depth -= 1;
                        if depth == 0 {
                            l_start = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            if l_start > 0 && matches!(toks[l_start - 1], Tok::Word(_)) {
                l_start -= 1;
            }
        } else {
            while l_start >= 2 && toks[l_start - 1] == Tok::Punct('.') && matches!(toks[l_start - 2], Tok::Word(_)) {
                l_start -= 2;
            }
        }
        // Right primary.
        let Some(r_start) = next_solid(&toks, at + 2) else { break };
        let mut r_end = r_start;
        if toks[r_start] == Tok::Punct('(') {
            r_end = closing(&toks, r_start).unwrap_or(r_start);
        } else {
            while r_end + 2 < toks.len()
                && toks[r_end + 1] == Tok::Punct('.')
                && matches!(toks[r_end + 2], Tok::Word(_))
            {
                r_end += 2;
            }
            if let Some(o) = next_solid(&toks, r_end + 1).filter(|&o| toks[o] == Tok::Punct('(')) {
                if o == r_end + 1 {
                    r_end = closing(&toks, o).unwrap_or(o);
                }
            }
        }
        let call = format!("intDiv({}, {})", join(&toks[l_start..=l_end]).trim(), join(&toks[r_start..=r_end]).trim());
        let mut next = toks[..l_start].to_vec();
        next.push(Tok::Word(call));
        next.extend_from_slice(&toks[r_end + 1..]);
        toks = lex(&join(&next));
    }
    join(&toks)
}

/// A lexical token: identifiers/keywords/numbers, strings, punctuation, whitespace.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Punct(char),
    Space(String),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Word(s) | Tok::Str(s) | Tok::Space(s) => s.clone(),
            Tok::Punct(c) => c.to_string(),
        }
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self, Tok::Word(s) if s.eq_ignore_ascii_case(w))
    }
}

fn lex(sql: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            let start = i;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            out.push(Tok::Space(chars[start..i].iter().collect()));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        } else if c == '\'' {
            let start = i;
            i += 1;
            while i < chars.len() {
                if chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            out.push(Tok::Str(chars[start..i.min(chars.len())].iter().collect()));
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

fn join(toks: &[Tok]) -> String {
    toks.iter().map(Tok::text).collect()
}

/// Index of the `)` closing the `(` at `open`.
fn closing(toks: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn next_solid(toks: &[Tok], from: usize) -> Option<usize> {
    (from..toks.len()).find(|&i| !matches!(toks[i], Tok::Space(_)))
}

const KEYWORDS: &[&str] = &[
    "ON", "WHERE", "JOIN", "LEFT", "RIGHT", "INNER", "FULL", "CROSS", "GROUP", "ORDER", "LIMIT", "UNION", "HAVING",
    "USING", "AS", "ANY", "ALL", "SEMI", "ANTI", "SETTINGS", "PREWHERE", "FINAL", "SAMPLE", "ARRAY", "OUTER",
];

/// Inlines the common table expressions of a leading `WITH`, and of any `WITH` directly
/// inside parentheses.
fn inline_ctes(sql: &str) -> String {
    let toks = lex(sql);
    let Some(first) = next_solid(&toks, 0) else { return sql.to_string() };
    if !toks[first].is_word("WITH") {
        return sql.to_string();
    }
    // Parse `name AS ( … )` entries separated by commas.
    let mut ctes: Vec<(String, String)> = Vec::new();
    let mut i = first + 1;
    loop {
        let Some(n) = next_solid(&toks, i) else { return sql.to_string() };
        let Tok::Word(name) = &toks[n] else { return sql.to_string() };
        let Some(a) = next_solid(&toks, n + 1) else { return sql.to_string() };
        if !toks[a].is_word("AS") {
            return sql.to_string();
        }
        let Some(o) = next_solid(&toks, a + 1) else { return sql.to_string() };
        if toks[o] != Tok::Punct('(') {
            return sql.to_string();
        }
        let Some(c) = closing(&toks, o) else { return sql.to_string() };
        let body = join(&toks[o + 1..c]);
        // Earlier names may be used in later bodies.
        let body = substitute_refs(&body, &ctes);
        ctes.push((name.clone(), body));
        let Some(next) = next_solid(&toks, c + 1) else { return sql.to_string() };
        if toks[next] == Tok::Punct(',') {
            i = next + 1;
            continue;
        }
        i = next;
        break;
    }
    substitute_refs(&join(&toks[i..]), &ctes)
}

/// Replaces table references `FROM name` / `JOIN name` of the given CTEs with subqueries.
fn substitute_refs(sql: &str, ctes: &[(String, String)]) -> String {
    if ctes.is_empty() {
        return sql.to_string();
    }
    let toks = lex(sql);
    let mut out = String::with_capacity(sql.len() * 2);
    let mut last_solid: Option<&Tok> = None;
    for (i, t) in toks.iter().enumerate() {
        if let Tok::Word(w) = t {
            let after_from = last_solid.is_some_and(|p| p.is_word("FROM") || p.is_word("JOIN"));
            if let Some((name, body)) = ctes.iter().find(|(n, _)| n == w).filter(|_| after_from) {
                let alias_follows = next_solid(&toks, i + 1).is_some_and(|j| match &toks[j] {
                    Tok::Word(a) => !KEYWORDS.iter().any(|k| a.eq_ignore_ascii_case(k)) || a.eq_ignore_ascii_case("AS"),
                    _ => false,
                });
                if alias_follows {
                    out.push_str(&format!("({body})"));
                } else {
                    out.push_str(&format!("({body}) AS {name}"));
                }
                last_solid = Some(t);
                continue;
            }
        }
        out.push_str(&t.text());
        if !matches!(t, Tok::Space(_)) {
            last_solid = Some(t);
        }
    }
    out
}

/// `agg(args) FILTER (WHERE cond)` → `aggIf(args, cond)`; `count(*)` → `countIf(cond)`.
fn rewrite_filters(sql: &str) -> String {
    let mut toks = lex(sql);
    while let Some(f) = (0..toks.len()).find(|&i| {
        toks[i].is_word("FILTER")
            && next_solid(&toks, i + 1).is_some_and(|o| {
                toks[o] == Tok::Punct('(') && next_solid(&toks, o + 1).is_some_and(|w| toks[w].is_word("WHERE"))
            })
    }) {
        let Some(open) = next_solid(&toks, f + 1) else { break };
        let Some(close) = closing(&toks, open) else { break };
        let Some(where_kw) = next_solid(&toks, open + 1) else { break };
        let cond = join(&toks[where_kw + 1..close]).trim().to_string();
        // The call before FILTER: `name ( … )`.
        let Some(call_close) = (0..f).rev().find(|&i| !matches!(toks[i], Tok::Space(_))) else { break };
        if toks[call_close] != Tok::Punct(')') {
            break;
        }
        let mut depth = 0;
        let mut call_open = None;
        for i in (0..=call_close).rev() {
            match toks[i] {
                Tok::Punct(')') => depth += 1,
                Tok::Punct('(') => {
                    depth -= 1;
                    if depth == 0 {
                        call_open = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(call_open) = call_open else { break };
        let Some(name_at) = (0..call_open).rev().find(|&i| !matches!(toks[i], Tok::Space(_))) else { break };
        let Tok::Word(name) = toks[name_at].clone() else { break };
        let args = join(&toks[call_open + 1..call_close]).trim().to_string();
        let call = if args == "*" || args.is_empty() {
            format!("{name}If({cond})")
        } else {
            format!("{name}If({args}, {cond})")
        };
        let mut next = toks[..name_at].to_vec();
        next.push(Tok::Word(call));
        next.extend_from_slice(&toks[close + 1..]);
        toks = lex(&join(&next));
    }
    join(&toks)
}

/// Keyword-level spellings: TRUE/FALSE, CAST(NULL AS T), bool_or/bool_and,
/// IS NOT DISTINCT FROM.
fn rewrite_tokens(sql: &str) -> String {
    let toks = lex(sql);
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.is_word("TRUE") {
            out.push(Tok::Word("1".into()));
        } else if t.is_word("FALSE") {
            out.push(Tok::Word("0".into()));
        } else if let Some(n) =
            t.is_word("DATE").then(|| next_solid(&toks, i + 1)).flatten().filter(|n| matches!(toks[*n], Tok::Str(_)))
        {
            // DATE 'yyyy-mm-dd'
            out.push(Tok::Word(format!("toDate({})", toks[n].text())));
            i = n + 1;
            continue;
        } else if t.is_word("bool_or") {
            out.push(Tok::Word("max".into()));
        } else if t.is_word("bool_and") {
            out.push(Tok::Word("min".into()));
        } else if t.is_word("CAST") {
            // CAST ( NULL AS T ) with a one-word T.
            let o = next_solid(&toks, i + 1);
            let n = o.and_then(|o| next_solid(&toks, o + 1));
            let a = n.and_then(|n| next_solid(&toks, n + 1));
            let ty = a.and_then(|a| next_solid(&toks, a + 1));
            let c = ty.and_then(|t| next_solid(&toks, t + 1));
            if let (Some(o), Some(n), Some(a), Some(ty), Some(c)) = (o, n, a, ty, c) {
                if toks[o] == Tok::Punct('(')
                    && toks[n].is_word("NULL")
                    && toks[a].is_word("AS")
                    && matches!(toks[ty], Tok::Word(_))
                    && toks[c] == Tok::Punct(')')
                {
                    out.push(Tok::Word(format!("CAST(NULL AS Nullable({}))", type_name(&toks[ty].text()))));
                    i = c + 1;
                    continue;
                }
            }
            out.push(t.clone());
        } else if t.is_word("IS") && is_not_distinct(&toks, i) {
            // Left operand: the solid tokens already emitted back to the previous
            // whitespace-separated boundary (a qualified name like `ev.category`).
            let right_start = nth_solid(&toks, i, 4).unwrap_or(i);
            let mut lhs_toks = Vec::new();
            while let Some(last) = out.last() {
                if matches!(last, Tok::Space(_)) && lhs_toks.is_empty() {
                    out.pop();
                    continue;
                }
                if matches!(last, Tok::Word(_) | Tok::Punct('.')) {
                    lhs_toks.insert(0, out.pop().unwrap_or(Tok::Space(String::new())));
                } else {
                    break;
                }
            }
            let mut j = right_start;
            let mut rhs_toks = Vec::new();
            while j < toks.len() && matches!(toks[j], Tok::Word(_) | Tok::Punct('.')) {
                if toks[j].is_word("AND") || toks[j].is_word("OR") {
                    break;
                }
                rhs_toks.push(toks[j].clone());
                j += 1;
            }
            out.push(Tok::Word(format!("ifNull({}, '\\0') = ifNull({}, '\\0')", join(&lhs_toks), join(&rhs_toks))));
            i = j;
            continue;
        } else {
            out.push(t.clone());
        }
        i += 1;
    }
    join(&out)
}

/// A standard type name as ClickHouse 18.16 spells it (it knows VARCHAR, BIGINT, INTEGER,
/// DOUBLE and DATE, but not BOOLEAN).
fn type_name(t: &str) -> String {
    if t.eq_ignore_ascii_case("BOOLEAN") {
        "UInt8".into()
    } else {
        t.to_string()
    }
}

fn nth_solid(toks: &[Tok], from: usize, n: usize) -> Option<usize> {
    let mut at = from;
    for _ in 0..n {
        at = next_solid(toks, at + 1)?;
    }
    Some(at)
}

fn is_not_distinct(toks: &[Tok], is_at: usize) -> bool {
    let words = ["NOT", "DISTINCT", "FROM"];
    let mut at = is_at;
    for w in words {
        match next_solid(toks, at + 1) {
            Some(j) if toks[j].is_word(w) => at = j,
            _ => return false,
        }
    }
    true
}

/// Words ending a GROUP BY list.
const GROUP_END: &[&str] = &["HAVING", "ORDER", "LIMIT", "UNION", "SETTINGS", "WITH", "FORMAT"];

/// `GROUP BY 1, 3` → the first and third expressions of the select list at the same depth.
fn positional_group_by(sql: &str) -> String {
    let toks = lex(sql);
    // Depth of every token and, per depth, the index of the last SELECT seen.
    let mut out = toks.clone();
    let mut depth = 0usize;
    let mut select_at: Vec<Option<usize>> = vec![None];
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Punct('(') => {
                depth += 1;
                if select_at.len() <= depth {
                    select_at.push(None);
                }
                select_at[depth] = None;
            }
            Tok::Punct(')') => depth = depth.saturating_sub(1),
            t if t.is_word("SELECT") => select_at[depth] = Some(i),
            t if t.is_word("GROUP") => {
                if let (Some(by), Some(s)) = (next_solid(&toks, i + 1), select_at[depth]) {
                    if toks[by].is_word("BY") {
                        let items = select_items(&toks, s, i);
                        // Replace the bare numbers of the GROUP BY list at this depth.
                        let mut j = by + 1;
                        let mut d = 0i32;
                        let mut prev_solid = by;
                        while j < toks.len() {
                            match &toks[j] {
                                Tok::Punct('(') => d += 1,
                                Tok::Punct(')') if d == 0 => break,
                                Tok::Punct(')') => d -= 1,
                                Tok::Word(w) if d == 0 && GROUP_END.iter().any(|k| w.eq_ignore_ascii_case(k)) => break,
                                Tok::Word(w)
                                    if d == 0
                                        && w.chars().all(|c| c.is_ascii_digit())
                                        && (toks[prev_solid].is_word("BY") || toks[prev_solid] == Tok::Punct(',')) =>
                                {
                                    let n: usize = w.parse().unwrap_or(0);
                                    if let Some(expr) = n.checked_sub(1).and_then(|k| items.get(k)) {
                                        out[j] = Tok::Word(expr.clone());
                                    }
                                }
                                _ => {}
                            }
                            if !matches!(toks[j], Tok::Space(_)) {
                                prev_solid = j;
                            }
                            j += 1;
                        }
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    join(&out)
}

/// The select-list expressions (without `AS alias`, without DISTINCT) between `SELECT` at
/// `select` and the `FROM` at the same depth before `end`.
fn select_items(toks: &[Tok], select: usize, end: usize) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur: Vec<Tok> = Vec::new();
    let mut depth = 0i32;
    for t in &toks[select + 1..end] {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth -= 1,
            _ => {}
        }
        if depth == 0 && t.is_word("FROM") {
            break;
        }
        if depth == 0 && *t == Tok::Punct(',') {
            items.push(strip_alias(&cur));
            cur.clear();
            continue;
        }
        cur.push(t.clone());
    }
    if !cur.is_empty() {
        items.push(strip_alias(&cur));
    }
    if let Some(first) = items.first_mut() {
        if let Some(rest) = first.strip_prefix("DISTINCT ") {
            *first = rest.to_string();
        }
    }
    items
}

fn strip_alias(toks: &[Tok]) -> String {
    let solid: Vec<usize> = (0..toks.len()).filter(|&i| !matches!(toks[i], Tok::Space(_))).collect();
    if solid.len() >= 3 && toks[solid[solid.len() - 2]].is_word("AS") {
        return join(&toks[..solid[solid.len() - 2]]).trim().to_string();
    }
    join(toks).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_become_subqueries_with_their_names_as_aliases() {
        let sql = "WITH u AS (SELECT client_id FROM clients), us AS (SELECT client_id, 1 AS s FROM client_days JOIN u ON \
                   client_days.client_id = u.client_id) SELECT u.client_id FROM u LEFT JOIN us x ON x.client_id = u.client_id";
        assert_eq!(
            normalize(sql),
            "SELECT u.client_id FROM (SELECT client_id FROM clients) AS u LEFT JOIN (SELECT client_id, 1 AS s FROM \
             client_days JOIN (SELECT client_id FROM clients) AS u ON client_days.client_id = u.client_id) x ON \
             x.client_id = u.client_id"
        );
    }

    #[test]
    fn positional_groups_become_expressions_at_their_own_depth() {
        let sql = "SELECT a.k AS k, toMonday(day), count(*) FROM (SELECT x, y FROM t GROUP BY 2, 1) a GROUP BY 1, 2";
        assert_eq!(
            normalize(sql),
            "SELECT a.k AS k, toMonday(day), toInt64(count(*)) FROM (SELECT x, y FROM t GROUP BY y, x) a GROUP BY a.k, \
             toMonday(day)"
        );
    }

    #[test]
    fn keywords_casts_and_filters_are_respelled() {
        assert_eq!(
            normalize("SELECT TRUE, CAST(NULL AS DATE), bool_or(first_day), count(*) FILTER (WHERE kind = 2), \
                       min(t) FILTER (WHERE (kind = 2)) FROM x WHERE FALSE OR 'TRUE' = s"),
            "SELECT 1, CAST(NULL AS Nullable(DATE)), max(first_day), toInt64(countIf(kind = 2)), minIf(t, (kind = 2)) FROM x \
             WHERE 0 OR 'TRUE' = s"
        );
    }

    #[test]
    fn integer_division_counts_hex_ids_and_date_diff() {
        assert_eq!(
            normalize("SELECT sum(cd.runtime_ms) // 60000, x - (date_diff('day', a, $4) - 1) // $5, c.t // 7 AS w"),
            "SELECT intDiv(sum(cd.runtime_ms), 60000), x - intDiv((dateDiff('day', a, $4) - 1), $5), intDiv(c.t, 7) AS w"
        );
        assert_eq!(
            normalize("SELECT count(*) AS n, count(DISTINCT c) FROM t WHERE printf('%016X', c.client_id) IN ($1)"),
            "SELECT toInt64(count(*)) AS n, toInt64(count(DISTINCT c)) FROM t WHERE \
             substring(concat('0000000000000000', hex(c.client_id)), length(hex(c.client_id)) + 1, 16) IN ($1)"
        );
    }

    #[test]
    fn boolean_columns_read_as_true_and_false_text() {
        let booleans: std::collections::HashSet<String> = ["touch_screen".to_string()].into();
        assert_eq!(
            normalize_with(
                "SELECT coalesce(CAST(c.touch_screen AS VARCHAR), '<NULL>'), CAST(c.ram AS VARCHAR)",
                &booleans
            ),
            "SELECT coalesce(multiIf(isNull(c.touch_screen), NULL, c.touch_screen = 1, 'true', 'false'), '<NULL>'), \
             CAST(c.ram AS Nullable(String))"
        );
    }

    #[test]
    fn date_literals_become_to_date() {
        assert_eq!(
            normalize("SELECT x FROM t WHERE day < DATE '2024-03-10' AND CAST(x AS DATE) = d"),
            "SELECT x FROM t WHERE day < toDate('2024-03-10') AND CAST(x AS DATE) = d"
        );
    }

    #[test]
    fn null_safe_equality_becomes_a_joinable_equation() {
        assert_eq!(
            normalize("SELECT 1 FROM e JOIN m ON e.name = m.name AND e.category IS NOT DISTINCT FROM m.category WHERE 1"),
            "SELECT 1 FROM e JOIN m ON e.name = m.name AND ifNull(e.category, '\\0') = ifNull(m.category, '\\0') WHERE 1"
        );
    }
}
