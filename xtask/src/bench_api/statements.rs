//! Reads the statements one Ringback request sent from PostgreSQL's statement log and turns them
//! into a pgbench script.
//!
//! The log is the Debian cluster's stderr log with its default `log_line_prefix`
//! (`%m [%p] %q%u@%d `), with `log_statement = 'all'` set for the benchmark's login role only.
//! sqlx uses the extended protocol, so a statement appears as `execute sqlx_s_N: SELECT …` followed
//! by `DETAIL:  parameters: $1 = '…', $2 = NULL`; `BEGIN` and `COMMIT` come as simple queries
//! (`statement: BEGIN`). Statements are grouped per backend into transactions, in the order the
//! transactions began; the parameters are written into the script as literals.

use std::collections::HashMap;

/// One statement as sent, with its bound parameters (`params[0]` is `$1`; `None` is NULL).
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Option<String>>,
}

/// The statements of one transaction (or one statement outside any), in the order sent.
pub type Unit = Vec<Statement>;

/// Parses the log text `log` and returns the work of `role` on database `db`, one unit per
/// transaction, in the order the transactions began.
pub fn parse_log(log: &str, role: &str, db: &str) -> Vec<Unit> {
    let ours = format!("{role}@{db} ");
    let mut units: Vec<Unit> = Vec::new();
    // Per backend: the unit of its open transaction, and where its last statement is.
    let mut open: HashMap<u32, usize> = HashMap::new();
    let mut last: HashMap<u32, (usize, usize)> = HashMap::new();
    for entry in entries(log) {
        let Some((pid, rest)) = split_prefix(&entry) else {
            continue;
        };
        let Some(rest) = rest.strip_prefix(&ours) else {
            continue;
        };
        let Some((level, message)) = rest.split_once(":  ") else {
            continue;
        };
        match level {
            "LOG" => {
                let Some(sql) = statement_text(message) else {
                    continue;
                };
                let statement = Statement {
                    sql: sql.to_owned(),
                    params: Vec::new(),
                };
                let begins = is_begin(sql);
                let ends = is_end(sql);
                let unit = match open.get(&pid) {
                    Some(&unit) => unit,
                    None => {
                        units.push(Vec::new());
                        if begins {
                            open.insert(pid, units.len() - 1);
                        }
                        units.len() - 1
                    }
                };
                units[unit].push(statement);
                last.insert(pid, (unit, units[unit].len() - 1));
                if ends {
                    open.remove(&pid);
                }
            }
            "DETAIL" => {
                if let (Some(list), Some(&(unit, index))) =
                    (message.strip_prefix("parameters: "), last.get(&pid))
                    && let Some(params) = parse_parameters(list)
                {
                    units[unit][index].params = params;
                }
            }
            _ => {}
        }
    }
    units
}

/// The log's entries: a line that starts with a timestamp begins one; the lines after it that do
/// not (a statement or value with line breaks, written with a tab after each) continue it.
fn entries(log: &str) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    for line in log.lines() {
        let starts_entry = line.len() > 5
            && line.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && line.as_bytes()[4] == b'-';
        if starts_entry {
            entries.push(line.to_owned());
        } else if let Some(entry) = entries.last_mut() {
            entry.push('\n');
            entry.push_str(line.strip_prefix('\t').unwrap_or(line));
        }
    }
    entries
}

/// Splits `2026-12-01 17:37:01.407 UTC [14885] rest` into the backend's pid and `rest`.
fn split_prefix(entry: &str) -> Option<(u32, &str)> {
    let open = entry.find(" [")?;
    let close = open + entry[open..].find("] ")?;
    let pid = entry[open + 2..close].parse().ok()?;
    Some((pid, &entry[close + 2..]))
}

/// The SQL of a `statement: …` or `execute <name>: …` log message.
fn statement_text(message: &str) -> Option<&str> {
    if let Some(sql) = message.strip_prefix("statement: ") {
        return Some(sql);
    }
    let rest = message.strip_prefix("execute ")?;
    let (_, sql) = rest.split_once(": ")?;
    Some(sql)
}

fn first_word(sql: &str) -> String {
    sql.split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_end_matches(';')
        .to_ascii_uppercase()
}

fn is_begin(sql: &str) -> bool {
    matches!(first_word(sql).as_str(), "BEGIN" | "START")
}

fn is_end(sql: &str) -> bool {
    matches!(first_word(sql).as_str(), "COMMIT" | "ROLLBACK" | "END")
}

/// Parses `$1 = 'a', $2 = NULL, $3 = 'it''s'` (in order of the numbers).
fn parse_parameters(list: &str) -> Option<Vec<Option<String>>> {
    let mut params = Vec::new();
    let mut rest = list;
    loop {
        rest = rest.strip_prefix('$')?;
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let number: usize = rest[..digits].parse().ok()?;
        rest = rest[digits..].strip_prefix(" = ")?;
        let value = if let Some(after) = rest.strip_prefix("NULL") {
            rest = after;
            None
        } else {
            let mut value = String::new();
            let mut chars = rest.strip_prefix('\'')?.char_indices();
            let end = loop {
                let (index, c) = chars.next()?;
                if c == '\'' {
                    let remaining = &rest[1 + index + 1..];
                    if remaining.starts_with('\'') {
                        value.push('\'');
                        chars.next();
                    } else {
                        break 1 + index + 1;
                    }
                } else {
                    value.push(c);
                }
            };
            rest = &rest[end..];
            Some(value)
        };
        if number != params.len() + 1 {
            return None;
        }
        params.push(value);
        match rest.strip_prefix(", ") {
            Some(after) => rest = after,
            None => return Some(params),
        }
    }
}

/// Whether `unit` is the outbox worker claiming jobs (`ringback_claim_jobs`), which a webhook's
/// wake-up of the workers causes: work of the worker, not of the request, and under load one claim
/// serves many webhooks, so replaying it once per request would overstate the request's cost.
pub fn is_worker_claim(unit: &Unit) -> bool {
    unit.iter()
        .all(|statement| statement.sql.contains("ringback_claim_jobs("))
}

/// What one request sent, without its values: used to find the sequence most runs agree on (the
/// server's background work sometimes writes into the same stretch of the log).
pub fn signature(units: &[Unit]) -> String {
    units
        .iter()
        .map(|unit| {
            unit.iter()
                .map(|statement| {
                    statement
                        .sql
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n--\n")
}

/// How many trailing characters of a per-request value the script draws afresh.
const FRESH_DIGITS: usize = 12;

/// A pgbench script replaying the last of `runs` (the statements of one request each, all with
/// the same signature), and how many per-request values it draws afresh. A parameter that differs
/// between the runs and is an identifier (a UUID, or a token of 16 or more letters and digits: a
/// `CallSid`, a hash) is new in every request, so the script ends it with
/// [`FRESH_DIGITS`] random digits drawn per transaction (a pgbench `\set` variable, written outside
/// any quotes so that `-M prepared` binds it): replayed rows never collide, and a value that recurs
/// in several statements gets the same fresh one each time. Everything else is replayed as sent.
pub fn pgbench_script(runs: &[Vec<Unit>]) -> (String, usize) {
    let Some(template) = runs.last() else {
        return (String::new(), 0);
    };
    let fresh = per_request_values(runs);
    let mut script = String::new();
    for index in 0..fresh.len() {
        script.push_str(&format!(
            "\\set v{index} random({}, {})\n",
            10u64.pow(FRESH_DIGITS as u32 - 1),
            10u64.pow(FRESH_DIGITS as u32) - 1
        ));
    }
    for (index, unit) in template.iter().enumerate() {
        script.push_str(&format!("-- transaction {}\n", index + 1));
        for statement in unit {
            let literals: Vec<String> = statement
                .params
                .iter()
                .map(|param| match param {
                    None => "NULL".to_owned(),
                    Some(value) => match fresh.iter().position(|known| known == value) {
                        Some(variable) => fresh_value(value, variable),
                        None => with_fresh_inside(value, &fresh).unwrap_or_else(|| literal(value)),
                    },
                })
                .collect();
            let sql = substitute(&statement.sql, &literals);
            let sql = sql.trim_end().trim_end_matches(';');
            script.push_str(sql);
            script.push_str(";\n");
        }
    }
    (script, fresh.len())
}

/// The identifiers in the last run whose place holds another value in some other run, each once,
/// in the order first sent.
fn per_request_values(runs: &[Vec<Unit>]) -> Vec<String> {
    let Some(template) = runs.last() else {
        return Vec::new();
    };
    let mut fresh: Vec<String> = Vec::new();
    for (u, unit) in template.iter().enumerate() {
        for (s, statement) in unit.iter().enumerate() {
            for (p, param) in statement.params.iter().enumerate() {
                let Some(value) = param else { continue };
                let varies = runs.iter().any(|run| {
                    run.get(u)
                        .and_then(|unit| unit.get(s))
                        .and_then(|statement| statement.params.get(p))
                        != Some(param)
                });
                if !varies {
                    continue;
                }
                if is_identifier(value) {
                    if !fresh.contains(value) {
                        fresh.push(value.clone());
                    }
                    continue;
                }
                // A value carrying identifiers (a JSON array of notes): those no other run sent
                // in the same place are new in each request.
                for inside in uuids_within(value) {
                    let elsewhere = runs.iter().all(|run| {
                        run.get(u)
                            .and_then(|unit| unit.get(s))
                            .and_then(|statement| statement.params.get(p))
                            .is_some_and(|other| {
                                other.as_deref().is_some_and(|o| o.contains(inside))
                            })
                    });
                    if !elsewhere && !fresh.iter().any(|known| known == inside) {
                        fresh.push(inside.to_owned());
                    }
                }
            }
        }
    }
    fresh
}

/// The UUIDs written inside `value`, in order.
fn uuids_within(value: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut start = 0;
    while start + 36 <= value.len() {
        match value
            .get(start..start + 36)
            .filter(|candidate| is_uuid(candidate))
        {
            Some(uuid) => {
                found.push(uuid);
                start += 36;
            }
            None => start += 1,
        }
    }
    found
}

/// `value` as an expression in which each fresh identifier it carries ends in its pgbench
/// variable (cast back to `jsonb` when `value` is a JSON array or object, which a function then
/// takes as it took the value); None when it carries none.
fn with_fresh_inside(value: &str, fresh: &[String]) -> Option<String> {
    let mut parts = Vec::new();
    let mut rest = value;
    while let Some((at, variable)) = fresh
        .iter()
        .enumerate()
        .filter_map(|(variable, known)| rest.find(known.as_str()).map(|at| (at, variable)))
        .min()
    {
        let kept = at + fresh[variable].len() - FRESH_DIGITS;
        parts.push(literal(&rest[..kept]));
        parts.push(format!(":v{variable}"));
        rest = &rest[at + fresh[variable].len()..];
    }
    if parts.is_empty() {
        return None;
    }
    parts.push(literal(rest));
    let joined = format!("({})", parts.join(" || "));
    let json = serde_json::from_str::<serde_json::Value>(value)
        .is_ok_and(|parsed| parsed.is_array() || parsed.is_object());
    Some(if json {
        format!("{joined}::jsonb")
    } else {
        joined
    })
}

fn is_uuid(value: &str) -> bool {
    value.len() == 36
        && value.char_indices().all(|(index, c)| match index {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_identifier(value: &str) -> bool {
    is_uuid(value) || (value.len() >= 16 && value.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `value` with its last [`FRESH_DIGITS`] characters replaced by pgbench variable `v<variable>`;
/// a UUID is cast back to one.
fn fresh_value(value: &str, variable: usize) -> String {
    let prefix = literal(&value[..value.len() - FRESH_DIGITS]);
    if is_uuid(value) {
        format!("({prefix} || :v{variable})::uuid")
    } else {
        format!("({prefix} || :v{variable})")
    }
}

/// A string literal for `value`. Colons are written as `\x3a` in an escape string, because
/// pgbench reads `:name` anywhere in a command as one of its variables.
fn literal(value: &str) -> String {
    if !value.contains(':') && !value.contains('\\') {
        return format!("'{}'", value.replace('\'', "''"));
    }
    let escaped = value
        .replace('\\', "\\\\")
        .replace('\'', "''")
        .replace(':', "\\x3a");
    format!("E'{escaped}'")
}

/// Replaces `$N` outside quoted text and identifiers with `literals[N - 1]`.
fn substitute(sql: &str, literals: &[String]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                let number: usize = digits.parse().unwrap_or(0);
                match number.checked_sub(1).and_then(|index| literals.get(index)) {
                    Some(value) => out.push_str(value),
                    None => {
                        out.push('$');
                        out.push_str(&digits);
                    }
                }
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2026-12-01 17:37:01.946 UTC [14883] srv@db LOG:  statement: BEGIN
2026-12-01 17:37:01.946 UTC [14883] srv@db LOG:  execute sqlx_s_3: SELECT set_config($1, $2, true)
2026-12-01 17:37:01.946 UTC [14883] srv@db DETAIL:  parameters: $1 = 'app.clinic_id', $2 = 'c'
2026-12-01 17:37:01.946 UTC [99] other@db LOG:  statement: SELECT 1
2026-12-01 17:37:01.947 UTC [14884] srv@db LOG:  execute <unnamed>: SELECT x
\tFROM t WHERE a = $1 AND b = $2
2026-12-01 17:37:01.947 UTC [14884] srv@db DETAIL:  parameters: $1 = 'it''s, ok', $2 = NULL
2026-12-01 17:37:01.948 UTC [14883] srv@db LOG:  execute sqlx_s_6: INSERT INTO p (id, at, d) VALUES ($1, $2, $3)
2026-12-01 17:37:01.948 UTC [14883] srv@db DETAIL:  parameters: $1 = '01a232ae-6dfc-778a-8abf-42454b9da3fa', $2 = '2026-12-01 17:37:01+00', $3 = '{\"rows\": 51}'
2026-12-01 17:37:01.949 UTC [14883] srv@db LOG:  statement: COMMIT
";

    #[test]
    fn groups_transactions_and_reads_parameters() {
        let units = parse_log(LOG, "srv", "db");
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].len(), 4);
        assert_eq!(units[1][0].sql, "SELECT x\nFROM t WHERE a = $1 AND b = $2");
        assert_eq!(units[1][0].params, vec![Some("it's, ok".to_owned()), None]);
        let again = parse_log(
            &LOG.replace(
                "01a232ae-6dfc-778a-8abf-42454b9da3fa",
                "0198ffff-0000-7000-8000-000000000001",
            ),
            "srv",
            "db",
        );
        let (script, fresh) = pgbench_script(&[units, again]);
        assert_eq!(fresh, 1);
        assert_eq!(
            script,
            "\\set v0 random(100000000000, 999999999999)\n-- transaction 1\nBEGIN;\n\
             SELECT set_config('app.clinic_id', 'c', true);\n\
             INSERT INTO p (id, at, d) VALUES (('0198ffff-0000-7000-8000-' || :v0)::uuid, E'2026-12-01 17\\x3a37\\x3a01+00', E'{\"rows\"\\x3a 51}');\n\
             COMMIT;\n-- transaction 2\nSELECT x\nFROM t WHERE a = 'it''s, ok' AND b = NULL;\n"
        );
    }

    #[test]
    fn draws_fresh_tokens_but_keeps_what_every_request_shares() {
        let run = |sid: &str| {
            vec![vec![Statement {
                sql: "INSERT INTO calls (sid, clinic, at) VALUES ($1, $2, $3)".to_owned(),
                params: vec![
                    Some(sid.to_owned()),
                    Some("clinic-one".to_owned()),
                    Some(sid[..4].to_owned()),
                ],
            }]]
        };
        let (script, fresh) = pgbench_script(&[
            run("CA0123456789abcdef0123456789abcdef"),
            run("CAfedcba9876543210fedcba9876543210"),
        ]);
        assert_eq!(fresh, 1);
        assert!(
            script.ends_with("VALUES (('CAfedcba9876543210fedc' || :v0), 'clinic-one', 'CAfe');\n"),
            "{script}"
        );
    }

    #[test]
    fn draws_fresh_ids_written_inside_a_json_value() {
        let run = |id: &str| {
            vec![vec![Statement {
                sql: "SELECT ringback_note_reads($1, $2)".to_owned(),
                params: vec![
                    Some("01a23e23-97a9-75ba-bb09-8b9dd5a48e51".to_owned()),
                    Some(format!(
                        "[{{\"id\": \"{id}\", \"actor\": \"01a23e23-97a9-75ba-bb09-8b9e3e3e4ea1\"}}]"
                    )),
                ],
            }]]
        };
        let (script, fresh) = pgbench_script(&[
            run("01a23e23-aff8-704e-b182-000000000001"),
            run("01a23e23-aff8-704e-b182-000000000002"),
        ]);
        assert_eq!(fresh, 1);
        assert!(
            script.ends_with(
                "SELECT ringback_note_reads('01a23e23-97a9-75ba-bb09-8b9dd5a48e51', \
                 (E'[{\"id\"\\x3a \"01a23e23-aff8-704e-b182-' || :v0 || E'\", \"actor\"\\x3a \
                 \"01a23e23-97a9-75ba-bb09-8b9e3e3e4ea1\"}]')::jsonb);\n"
            ),
            "{script}"
        );
    }

    #[test]
    fn tells_the_worker_s_claims_apart() {
        let statement = |sql: &str| Statement {
            sql: sql.to_owned(),
            params: Vec::new(),
        };
        assert!(is_worker_claim(&vec![statement(
            "SELECT clinic_id, id FROM ringback_claim_jobs($1, $2)"
        )]));
        assert!(!is_worker_claim(&vec![
            statement("BEGIN"),
            statement("INSERT INTO calls VALUES ($1)")
        ]));
    }

    #[test]
    fn leaves_quoted_dollars_alone() {
        assert_eq!(
            substitute("SELECT '$1', \"$2\", $1, $10", &["'a'".to_owned()]),
            "SELECT '$1', \"$2\", 'a', $10"
        );
    }
}
