//! What the webhook ingest part of the benchmark needs from Twilio, made here: the account's REST
//! API as far as the server asks it during the run (whether the account holds the clinic's
//! number; sending a text-back), and the signed voice webhooks Twilio would send for calls to that
//! number, written to a feed file that the wrk script replays.
//!
//! The signer is written from Twilio's documented algorithm (base64 of HMAC-SHA1, keyed by the
//! auth token, over the public URL followed by each POST parameter sorted by name, as name then
//! value) rather than taken from the server, so a server that signed or checked differently would
//! refuse every request of the run.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::{TaskError, TaskResult};

/// The webhook the feed replays: an incoming call, which (the clinic having no forwarding line)
/// the server records as missed at once, queueing a text-back unless the caller had one in the
/// last 24 hours.
pub const VOICE_PATH: &str = "/webhooks/twilio/voice";
/// How many callers the webhooks come from: Australia's fiction mobiles, 0491 570 000–999 (none
/// of them in the demo's history).
pub const CALLERS: usize = 1_000;

/// The Twilio account the server is configured with for the run.
pub struct Account {
    pub sid: String,
    pub auth_token: String,
    /// The clinic's number, E.164.
    pub number: String,
    /// `RINGBACK_PUBLIC_URL`: the base the webhooks are signed for.
    pub public_url: String,
}

/// Twilio's signature of a POST to `url` with `params`.
pub fn sign(auth_token: &str, url: &str, params: &[(&str, String)]) -> String {
    let mut mac =
        <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(&str, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// `application/x-www-form-urlencoded` of `params`.
fn form(params: &[(&str, String)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    params
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The parameters of call `index` of a feed whose calls are marked `tag`: a `CallSid` no other
/// call has, from caller `index` modulo [`CALLERS`].
fn voice_params(account: &Account, tag: char, index: usize) -> Vec<(&'static str, String)> {
    let caller = format!("+61491570{:03}", index % CALLERS);
    vec![
        ("AccountSid", account.sid.clone()),
        ("CallSid", format!("CA{tag}{index:031x}")),
        ("CallStatus", "ringing".to_owned()),
        ("Direction", "inbound".to_owned()),
        ("From", caller),
        ("To", account.number.clone()),
    ]
}

/// The signature and form body of call `index` of the feed tagged `tag`.
pub fn signed_call(account: &Account, tag: char, index: usize) -> (String, String) {
    let params = voice_params(account, tag, index);
    let url = format!("{}{VOICE_PATH}", account.public_url);
    (sign(&account.auth_token, &url, &params), form(&params))
}

/// Writes the signed voice webhooks of calls `calls` to `path`, one `signature<TAB>body` line each;
/// `tag` (a hex digit) keeps the `CallSid`s of different feeds apart, the indices those of one
/// feed's rounds.
pub fn write_feed(path: &Path, account: &Account, tag: char, calls: Range<usize>) -> TaskResult {
    let mut text = String::with_capacity(calls.len() * 200);
    for index in calls {
        let (signature, body) = signed_call(account, tag, index);
        text.push_str(&format!("{signature}\t{body}\n"));
    }
    std::fs::write(path, text).map_err(|e| TaskError(format!("{}: {e}", path.display())))
}

/// The account's REST API on a loopback port: `GET …/IncomingPhoneNumbers.json` lists the
/// clinic's number, `POST …/Messages.json` accepts a text (counted) as Twilio does, anything else
/// is Twilio's 404. One thread per connection, with keep-alive.
pub struct FakeApi {
    addr: SocketAddr,
    texts: Arc<AtomicU64>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeApi {
    pub fn start(number: &str) -> TaskResult<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| TaskError(format!("the Twilio API's port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| TaskError(format!("the Twilio API's port: {e}")))?;
        let texts = Arc::new(AtomicU64::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let number = number.to_owned();
        let acceptor = {
            let (texts, stopping) = (texts.clone(), stopping.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::Relaxed) {
                        return;
                    }
                    if let Ok(stream) = stream {
                        let (texts, number) = (texts.clone(), number.clone());
                        std::thread::spawn(move || serve(stream, &number, &texts));
                    }
                }
            })
        };
        Ok(FakeApi {
            addr,
            texts,
            stopping,
            acceptor: Some(acceptor),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Texts sent through this API so far.
    pub fn texts(&self) -> u64 {
        self.texts.load(Ordering::Relaxed)
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Answers one connection's requests until it closes.
fn serve(stream: TcpStream, number: &str, texts: &AtomicU64) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
            return;
        }
        let (status, json) = answer(&request_line, number, texts);
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The status line's tail and JSON body for `request_line`.
fn answer(request_line: &str, number: &str, texts: &AtomicU64) -> (&'static str, String) {
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match method {
        "GET" if path.ends_with("/IncomingPhoneNumbers.json") => (
            "200 OK",
            serde_json::json!({
                "incoming_phone_numbers": [{ "sid": format!("PN{:032x}", 1), "phone_number": number }],
                "next_page_uri": null,
            })
            .to_string(),
        ),
        "POST" if path.ends_with("/Messages.json") => {
            let sent = texts.fetch_add(1, Ordering::Relaxed) + 1;
            (
                "201 Created",
                serde_json::json!({ "sid": format!("SM{sent:032x}"), "status": "queued" })
                    .to_string(),
            )
        }
        _ => (
            "404 Not Found",
            r#"{"code":20404,"message":"The requested resource was not found","status":404}"#
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector the server's own signer is tested against (computed with Python's hmac).
    #[test]
    fn signs_as_twilio_documents() {
        let params = [
            ("To", "+447700900777".to_owned()),
            ("From", "+447700900123".to_owned()),
            ("Direction", "inbound".to_owned()),
            ("CallStatus", "ringing".to_owned()),
            ("CallSid", "CA1234567890ABCDE".to_owned()),
            (
                "AccountSid",
                "AC00000000000000000000000000000000".to_owned(),
            ),
        ];
        let url = "https://ringback.example.test/webhooks/twilio/voice";
        assert_eq!(sign("12345", url, &params), "EYgPI+sihCQU9gwiG1EWvlGNFM0=");
        assert_eq!(form(&params[..1]), "To=%2B447700900777");
    }

    #[test]
    fn every_call_of_a_feed_is_its_own() {
        let account = Account {
            sid: format!("AC{:032x}", 7),
            auth_token: "a-bench-auth-token".to_owned(),
            number: "+447700900777".to_owned(),
            public_url: "https://bench.ringback.test".to_owned(),
        };
        let sid = |index| voice_params(&account, 'a', index)[1].1.clone();
        assert_eq!(sid(0).len(), 34);
        assert_ne!(sid(1), sid(1_001));
        assert_eq!(
            voice_params(&account, 'a', 1_001)[4].1,
            voice_params(&account, 'b', 1)[4].1
        );
    }
}
