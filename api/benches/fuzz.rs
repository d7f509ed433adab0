//! Property-based fuzzing of everything that parses outside input, on stable Rust: phone numbers,
//! webhook forms with their signature headers, text-back templates and inbound keywords, CSV cells,
//! and GraphQL documents and variables. Inputs are generated from a seeded random source: valid
//! samples mutated (characters inserted, deleted, swapped, repeated, cut) and wholly random text,
//! so most inputs are near-misses of real ones. Every call runs under `catch_unwind`; the run
//! fails (exit 1) on the first panic, printing the input that caused it, or when a property does not
//! hold. It ends with a table of inputs per target and rate. A last target posts malformed GraphQL
//! to the real application and requires that no answer is a 5xx.
//!
//! `cargo bench -p ringback-api --bench fuzz` (release): `RINGBACK_FUZZ_INPUTS` (default
//! 10,000,000) is shared out over the parsers; `RINGBACK_FUZZ_SEED` makes a run repeatable.

#[path = "../tests/all/common/mod.rs"]
mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringback_api::config::DatabaseKind;
use ringback_api::integrations::twilio::signature::{SignedRequest, sign};
use ringback_api::service::export::csv_line;
use ringback_shared::phone::{self, Region};
use ringback_shared::{keywords, sms};

/// Characters written numbers, forms and templates are made of, plus a few that break them.
const ALPHABET: &[char] = &[
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', ' ', '-', '(', ')', '.', '/', '#', '*',
    'x', 'e', '=', '&', '%', '{', '}', ',', '"', '\n', '\r', '\t', '\'', '\\', '@', 'é', 'ß', '٣',
    '\u{200b}', '\u{feff}', '😀', '\0',
];

/// Real inputs that mutations start from.
const PHONE_SEEDS: &[&str] = &[
    "07700 900123",
    "+44 7700 900123",
    "0044 7700 900123",
    "011 44 7700 900123",
    "0491 570 006",
    "+61 491 570 006",
    "(555) 010-0123",
    "+1 202 555 0123",
    "020 7946 0321",
];
const TEMPLATE_SEEDS: &[&str] = &[
    "Sorry we missed your call at {clinic}. Book here: {booking_link}",
    "{clinic}: we are closed now; we will call you back. Reply STOP to opt out.",
    "Hi! {clinic} {{not a placeholder}} {unknown}",
];
const GRAPHQL_SEEDS: &[&str] = &[
    "{ serverInfo { name version } }",
    "query($from: NaiveDate!, $to: NaiveDate!) { metrics(from: $from, to: $to) { totals { inboundCalls } } }",
    "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { recorded } }",
    "query { ...F } fragment F on QueryRoot { a: serverInfo { name } b: serverInfo { name } }",
];

/// A string of up to `max` random characters.
fn random_text(rng: &mut StdRng, max: usize) -> String {
    let len = rng.gen_range(0..=max);
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
        .collect()
}

/// `seed` with one to four random edits.
fn mutated(rng: &mut StdRng, seed: &str) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for _ in 0..rng.gen_range(1..=4) {
        let at = rng.gen_range(0..=chars.len());
        match rng.gen_range(0..5) {
            0 => chars.insert(at, ALPHABET[rng.gen_range(0..ALPHABET.len())]),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            2 if at + 1 < chars.len() => chars.swap(at, at + 1),
            3 => {
                let piece: Vec<char> = chars[at..].iter().take(8).copied().collect();
                for (offset, c) in piece.into_iter().enumerate() {
                    chars.insert(at + offset, c);
                }
            }
            _ => chars.truncate(at),
        }
    }
    chars.into_iter().collect()
}

/// Half mutated seeds, half random text.
fn input(rng: &mut StdRng, seeds: &[&str], max: usize) -> String {
    if rng.gen_bool(0.5) {
        let seed = seeds[rng.gen_range(0..seeds.len())];
        mutated(rng, seed)
    } else {
        random_text(rng, max)
    }
}

/// Figures for one target.
struct Figures {
    target: &'static str,
    inputs: u64,
    seconds: f64,
}

/// Runs `check` on `inputs` generated inputs; stops the run at the first panic or broken property.
fn fuzz(
    target: &'static str,
    inputs: u64,
    rng: &mut StdRng,
    mut generate: impl FnMut(&mut StdRng) -> String,
    check: impl Fn(&str) -> Result<(), String>,
) -> Figures {
    let started = Instant::now();
    for _ in 0..inputs {
        let text = generate(rng);
        match catch_unwind(AssertUnwindSafe(|| check(&text))) {
            Ok(Ok(())) => {}
            Ok(Err(broken)) => fail(target, &text, &broken),
            Err(_) => fail(target, &text, "panicked"),
        }
    }
    Figures {
        target,
        inputs,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn fail(target: &str, input: &str, what: &str) -> ! {
    eprintln!("fuzz {target}: {what} on input {input:?}");
    std::process::exit(1);
}

/// A normalised number is E.164 and normalises to itself.
fn phone_property(text: &str) -> Result<(), String> {
    let gb = Region::parse("GB").map_err(|e| e.to_string())?;
    if let Ok(number) = phone::normalize(text, gb) {
        let e164 = number.e164.as_str();
        let again =
            phone::normalize(e164, gb).map_err(|e| format!("{e164} no longer reads: {e}"))?;
        if again.e164 != number.e164 {
            return Err(format!("{e164} reads as {}", again.e164.as_str()));
        }
        let _ = phone::region_of(&number.e164);
    }
    Ok(())
}

/// A form body and a signature header: a check never panics, and a body signed with the token
/// always passes while the same body with any other header does not.
fn signature_property(text: &str) -> Result<(), String> {
    const TOKEN: &str = "fuzz-auth-token-0123456789";
    const URL: &str = "https://ringback.example/webhooks/twilio/sms";
    let params: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect();
    let good = sign(TOKEN, URL, &params);
    if SignedRequest::check(TOKEN, URL, params.clone(), &good).is_none() {
        return Err("a correctly signed form was refused".to_owned());
    }
    if text != good && SignedRequest::check(TOKEN, URL, params, text).is_some() {
        return Err("a form passed with a header that is not its signature".to_owned());
    }
    Ok(())
}

/// A template validates or not, renders, is marked and counted in segments, and its text
/// classifies as a keyword or not, without panicking.
fn template_property(text: &str) -> Result<(), String> {
    let _ = sms::validate_template(text, true);
    let rendered = sms::render(text, "Bright Smile", Some("https://book.example/x"));
    let marked = sms::with_automated_marker(&rendered);
    let _ = sms::segments(&marked);
    let _ = keywords::classify(text);
    Ok(())
}

/// A line of cells (the input split at `#`) reads back as exactly its cells (RFC 4180; a cell that
/// would start a formula keeps a leading `'`), and no cell starts a formula.
fn csv_property(text: &str) -> Result<(), String> {
    let fields: Vec<String> = text.split('#').map(str::to_owned).collect();
    let line = csv_line(fields.clone());
    let read = read_csv_line(&line).ok_or("the line does not read back")?;
    if read.len() != fields.len() {
        return Err(format!("{} fields became {}", fields.len(), read.len()));
    }
    for (written, original) in read.iter().zip(&fields) {
        let kept = written == original || written.strip_prefix('\'') == Some(original.as_str());
        if !kept {
            return Err(format!("{original:?} reads back as {written:?}"));
        }
        if written.starts_with(['=', '+', '-', '@']) {
            return Err(format!("{written:?} would run as a formula"));
        }
    }
    Ok(())
}

/// Reads one CRLF-terminated RFC 4180 line.
fn read_csv_line(line: &str) -> Option<Vec<String>> {
    let body = line.strip_suffix("\r\n")?;
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut chars = body.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if current.is_empty() => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            (true, '"') => quoted = false,
            (false, ',') => fields.push(std::mem::take(&mut current)),
            (_, c) => current.push(c),
        }
    }
    fields.push(current);
    Some(fields)
}

/// A GraphQL document parses or not without panicking, and its variables as JSON too.
fn graphql_property(text: &str) -> Result<(), String> {
    let _ = async_graphql::parser::parse_query(text);
    let _ = serde_json::from_str::<serde_json::Value>(text);
    Ok(())
}

fn main() {
    let total: u64 = std::env::var("RINGBACK_FUZZ_INPUTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10_000_000);
    let seed: u64 = std::env::var("RINGBACK_FUZZ_SEED")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20_261_130);
    let mut rng = StdRng::seed_from_u64(seed);
    // Panics are expected to be caught and reported, not printed by the default hook.
    std::panic::set_hook(Box::new(|_| {}));
    let share = |percent: u64| total * percent / 100;
    let figures = [
        fuzz(
            "phone numbers",
            share(20),
            &mut rng,
            |r| input(r, PHONE_SEEDS, 40),
            phone_property,
        ),
        fuzz(
            "webhook forms and signatures",
            share(25),
            &mut rng,
            random_form,
            signature_property,
        ),
        fuzz(
            "templates and keywords",
            share(20),
            &mut rng,
            |r| input(r, TEMPLATE_SEEDS, 200),
            template_property,
        ),
        fuzz(
            "CSV cells",
            share(20),
            &mut rng,
            |r| random_text(r, 60),
            csv_property,
        ),
        fuzz(
            "GraphQL documents and variables",
            share(15),
            &mut rng,
            |r| input(r, GRAPHQL_SEEDS, 120),
            graphql_property,
        ),
    ];
    let _ = std::panic::take_hook();
    let http = http_inputs(&mut rng, seed);
    println!("\nfuzzing, seed {seed}");
    println!("| target | inputs | seconds | inputs/s |");
    println!("|---|---|---|---|");
    let mut all = 0;
    for figure in figures.iter().chain(std::iter::once(&http)) {
        all += figure.inputs;
        println!(
            "| {} | {} | {:.1} | {:.0} |",
            figure.target,
            figure.inputs,
            figure.seconds,
            figure.inputs as f64 / figure.seconds.max(1e-9)
        );
    }
    println!("| all | {all} | | |\nno panic, every property held, no 5xx");
}

/// A form body: `name=value` pairs of random text, sometimes broken.
fn random_form(rng: &mut StdRng) -> String {
    let pairs: Vec<String> = (0..rng.gen_range(0..6))
        .map(|_| format!("{}={}", random_text(rng, 12), random_text(rng, 24)))
        .collect();
    let mut form = pairs.join("&");
    if rng.gen_bool(0.2) {
        form = mutated(rng, &form);
    }
    form
}

/// Malformed GraphQL posted to the real application (SQLite): every answer is below 500.
fn http_inputs(rng: &mut StdRng, seed: u64) -> Figures {
    let inputs: u64 = 20_000;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let bodies: Vec<String> = (0..inputs)
        .map(|n| {
            if n % 2 == 0 {
                input(rng, GRAPHQL_SEEDS, 120)
            } else {
                format!(
                    "{{\"query\": {}, \"variables\": {}}}",
                    serde_json::Value::String(input(rng, GRAPHQL_SEEDS, 120)),
                    random_text(rng, 40)
                )
            }
        })
        .collect();
    runtime.block_on(async move {
        let test_db = common::TestDb::new(DatabaseKind::Sqlite).await;
        let web = tempfile::tempdir().expect("tempdir");
        let client = poem::test::TestClient::new(test_db.app(web.path()));
        let started = Instant::now();
        for body in &bodies {
            let response = client
                .post("/graphql")
                .content_type("application/json")
                .body(body.clone())
                .send()
                .await;
            if response.0.status().is_server_error() {
                fail(
                    "GraphQL over HTTP",
                    body,
                    &format!("answered {} (seed {seed})", response.0.status()),
                );
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        test_db.finish().await;
        Figures {
            target: "GraphQL over HTTP (real app)",
            inputs,
            seconds,
        }
    })
}
