//! Talking to the server as Twilio does: form bodies signed with `X-Twilio-Signature` over the
//! public URL the server is configured with.

use poem::Endpoint;
use poem::http::StatusCode;
use poem::test::TestClient;
use ringback_api::webhooks::twilio_signature::sign;

use super::{PUBLIC_URL, TWILIO_AUTH_TOKEN};

/// Owned parameters from borrowed pairs.
pub fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Posts `pairs` to `path`, signed correctly unless `signature` is given.
pub async fn post<E: Endpoint>(
    client: &TestClient<E>,
    path: &str,
    pairs: &[(&str, &str)],
    signature: Option<String>,
) -> (StatusCode, String) {
    let owned = params(pairs);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(owned.iter())
        .finish();
    let signature = signature
        .unwrap_or_else(|| sign(TWILIO_AUTH_TOKEN, &format!("{PUBLIC_URL}{path}"), &owned));
    let response = client
        .post(path)
        .content_type("application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(body)
        .send()
        .await;
    let status = response.0.status();
    let text = response
        .0
        .into_body()
        .into_string()
        .await
        .unwrap_or_default();
    (status, text)
}

/// An inbound text from `from` to the clinic's number `to`.
pub fn text_from<'a>(
    sid: &'a str,
    from: &'a str,
    to: &'a str,
    body: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageSid", sid),
        ("From", from),
        ("To", to),
        ("Body", body),
    ]
}

/// A `<Dial>` that nobody answered, from `from` to the clinic's number `to`.
pub fn missed_call<'a>(sid: &'a str, from: &'a str, to: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CallSid", sid),
        ("From", from),
        ("To", to),
        ("Direction", "inbound"),
        ("DialCallStatus", "no-answer"),
    ]
}
