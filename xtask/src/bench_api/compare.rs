//! Checks that Ringback and PostGraphile answer the same data for the two reads, and that both
//! match what `psql` reads as the login role under the same clinic, before anything is timed.
//!
//! PostGraphile serves the `daily_metrics` rows; the overview's totals are computed from them the
//! way Ringback computes them (sums, rates, the median and the nearest-rank 90th percentile of the
//! delays). Numbers are compared as numbers (PostGraphile sends 64-bit integers as strings),
//! timestamps as instants, enums case-insensitively.

use serde_json::{Value, json};

/// The outcome of the checks: each one named, with the two sides when they differ.
#[derive(Default)]
pub struct Checks {
    pub lines: Vec<String>,
    pub failed: usize,
}

impl Checks {
    fn check(&mut self, name: &str, ringback: Value, other: Value) {
        if same(&ringback, &other) {
            self.lines.push(format!("  same  {name}"));
        } else {
            self.failed += 1;
            self.lines.push(format!(
                "  DIFF  {name}\n        ringback:     {}\n        postgraphile: {}",
                clip(&ringback),
                clip(&other)
            ));
        }
    }
}

fn clip(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 300 {
        format!("{}…", &text[..text.floor_char_boundary(300)])
    } else {
        text
    }
}

/// Numbers (or numeric strings) within a rounding error, arrays element by element, objects key
/// by key, anything else exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            _ => a == b,
        },
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn int(value: &Value) -> i64 {
    number(value).map_or(0, |n| n as i64)
}

fn pointer<'a>(value: &'a Value, path: &str) -> &'a Value {
    value.pointer(path).unwrap_or(&Value::Null)
}

fn list<'a>(value: &'a Value, path: &str) -> &'a [Value] {
    pointer(value, path).as_array().map_or(&[], Vec::as_slice)
}

/// The overview: Ringback's `metrics` against PostGraphile's `allDailyMetrics` rows, and `psql`'s
/// `[rows, inbound, missed, revenue]` for the same days.
pub fn overview(ringback: &Value, postgraphile: &Value, psql: &[i64]) -> Checks {
    let mut checks = Checks::default();
    let daily = list(ringback, "/metrics/daily");
    let rows = list(postgraphile, "/allDailyMetrics/nodes");
    let column = |values: &[Value], path: &str| -> Value {
        values.iter().map(|v| pointer(v, path).clone()).collect()
    };
    checks.check(
        "overview: days",
        column(daily, "/day"),
        column(rows, "/day"),
    );
    checks.check(
        "overview: no stale row read",
        json!(false),
        json!(rows.iter().any(|r| r["stale"] == json!(true))),
    );
    for field in [
        "missedCalls",
        "recoveredAppointments",
        "textBacksSent",
        "callbacks",
    ] {
        checks.check(
            &format!("overview: daily {field}"),
            column(daily, &format!("/figures/{field}")),
            column(rows, &format!("/{field}")),
        );
    }
    let total = |field: &str| -> i64 { rows.iter().map(|r| int(&r[field])).sum() };
    let delays = |field: &str| -> Vec<i64> {
        let mut all: Vec<i64> = rows
            .iter()
            .flat_map(|r| r[field].as_array().cloned().unwrap_or_default())
            .map(|v| int(&v))
            .collect();
        all.sort_unstable();
        all
    };
    let rate = |part: i64, whole: i64| -> Value {
        if whole == 0 {
            Value::Null
        } else {
            json!(part as f64 / whole as f64)
        }
    };
    let text_backs = delays("textBackDelaysSeconds");
    let callbacks = delays("callbackDelaysSeconds");
    let expected = json!({
        "inboundCalls": total("inboundCalls"),
        "missedCalls": total("missedCalls"),
        "missRate": rate(total("missedCalls"), total("inboundCalls")),
        "textBacksSent": total("textBacksSent"),
        "replyRate": rate(total("repliedTextBacks"), total("textBacksSent")),
        "medianTimeToTextSeconds": median(&text_backs),
        "p90TimeToTextSeconds": p90(&text_backs),
        "callbacks": total("callbacks"),
        "medianTimeToCallbackSeconds": median(&callbacks),
        "recoveredAppointments": total("recoveredAppointments"),
        "recoveryRate": rate(total("recoveredAppointments"), total("missedCalls")),
        "recoveredRevenueMinor": total("recoveredRevenueMinor"),
    });
    checks.check(
        "overview: totals",
        pointer(ringback, "/metrics/totals").clone(),
        expected,
    );
    checks.check(
        "overview: psql rows / inbound / missed / revenue",
        json!(psql),
        json!([
            rows.len(),
            total("inboundCalls"),
            total("missedCalls"),
            total("recoveredRevenueMinor")
        ]),
    );
    checks
}

fn median(sorted: &[i64]) -> Value {
    let n = sorted.len();
    match n {
        0 => Value::Null,
        _ if n % 2 == 1 => json!(sorted[n / 2]),
        _ => json!((sorted[n / 2 - 1] + sorted[n / 2]).div_euclid(2)),
    }
}

fn p90(sorted: &[i64]) -> Value {
    if sorted.is_empty() {
        return Value::Null;
    }
    let rank = (sorted.len() * 90).div_ceil(100).max(1);
    json!(sorted[rank - 1])
}

/// The calls page: Ringback's `calls(first: 50)` against PostGraphile's `allCalls`, and `psql`'s
/// `(call id, credited appointment id or "")` for the newest 50 calls.
pub fn calls(ringback: &Value, postgraphile: &Value, psql: &[(String, String)]) -> Checks {
    let mut checks = Checks::default();
    let ours: Vec<&Value> = list(ringback, "/calls/edges")
        .iter()
        .map(|edge| pointer(edge, "/node"))
        .collect();
    let theirs = list(postgraphile, "/allCalls/nodes");
    let column = |values: &[&Value], field: &str| -> Value {
        values.iter().map(|v| v[field].clone()).collect()
    };
    let theirs_refs: Vec<&Value> = theirs.iter().collect();
    checks.check(
        "calls: ids in order",
        column(&ours, "id"),
        column(&theirs_refs, "rowId"),
    );
    checks.check(
        "calls: hasNextPage",
        pointer(ringback, "/calls/pageInfo/hasNextPage").clone(),
        pointer(postgraphile, "/allCalls/pageInfo/hasNextPage").clone(),
    );
    for (a, b) in [
        ("callerKey", "callerKey"),
        ("callerTail", "callerTail"),
        ("missed", "missed"),
        ("textBackStatus", "textBackStatus"),
        ("source", "provider"),
        ("lineType", "lineType"),
    ] {
        checks.check(
            &format!("calls: {a}"),
            column(&ours, a),
            column(&theirs_refs, b),
        );
    }
    let lower = |v: &Value| json!(v.as_str().map(str::to_ascii_lowercase));
    checks.check(
        "calls: direction / status",
        ours.iter()
            .map(|n| json!([lower(&n["direction"]), lower(&n["status"])]))
            .collect(),
        theirs
            .iter()
            .map(|n| json!([lower(&n["direction"]), lower(&n["status"])]))
            .collect(),
    );
    for field in ["startedAt", "answeredAt", "endedAt"] {
        checks.check(
            &format!("calls: {field}"),
            ours.iter().map(|n| instant(&n[field])).collect(),
            theirs.iter().map(|n| instant(&n[field])).collect(),
        );
    }
    let credit = |c: &Value| -> Value {
        if c.is_null() {
            return Value::Null;
        }
        json!([
            c["appointmentId"],
            int(&c["valueMinor"]),
            c["touchKind"],
            instant(&c["touchAt"])
        ])
    };
    checks.check(
        "calls: credits",
        ours.iter().map(|n| credit(&n["creditedTo"])).collect(),
        theirs
            .iter()
            .map(|n| credit(pointer(n, "/credits/nodes/0")))
            .collect(),
    );
    checks.check(
        "calls: psql ids and credited appointments",
        psql.iter()
            .map(|(id, appointment)| json!([id, (!appointment.is_empty()).then_some(appointment)]))
            .collect(),
        theirs
            .iter()
            .map(|n| json!([n["rowId"], pointer(n, "/credits/nodes/0/appointmentId")]))
            .collect(),
    );
    let credited = ours.iter().filter(|n| !n["creditedTo"].is_null()).count();
    checks.lines.push(format!(
        "        ({credited} of the page's calls are credited)"
    ));
    checks
}

/// An RFC 3339 timestamp as microseconds since 1970 (`null` stays `null`).
fn instant(value: &Value) -> Value {
    match value.as_str() {
        None => Value::Null,
        Some(text) => parse_rfc3339(text).map_or_else(|| value.clone(), |micros| json!(micros)),
    }
}

fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(['T', ' '])?;
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    let zone_at = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
    let (clock, zone) = time.split_at(zone_at);
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    let micros_fraction: i64 = format!("{fraction:0<6}").get(..6)?.parse().ok()?;
    let offset_minutes = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (oh, om) = zone[1..].split_once(':').unwrap_or((&zone[1..], "0"));
            sign * (oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?)
        }
    };
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + h * 3_600 + m * 60 + s - offset_minutes * 60;
    Some(seconds * 1_000_000 + micros_fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_agree_across_formats() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-12-01T17:37:01.948162Z"),
            parse_rfc3339("2026-12-01T18:37:01.948162+01:00")
        );
        assert_eq!(
            parse_rfc3339("2026-12-01T17:37:01.5+00:00"),
            Some(1_796_146_621_500_000)
        );
    }

    #[test]
    fn medians_and_percentiles_follow_the_server() {
        assert_eq!(median(&[1, 2, 3, 4]), json!(2));
        assert_eq!(median(&[5]), json!(5));
        assert_eq!(p90(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), json!(10));
        assert!(same(&json!("12"), &json!(12)));
        assert!(!same(&json!([1, 2]), &json!([1])));
    }
}
