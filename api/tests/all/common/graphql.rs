//! A GraphQL client over poem's test client that keeps cookies like a browser, so tests exercise
//! the real session cookies.

use std::collections::BTreeMap;

use poem::Endpoint;
use poem::test::TestClient;
use serde_json::{Value, json};

/// A browser-like client: JSON requests, a cookie jar fed by `Set-Cookie`.
pub struct Browser<E: Endpoint> {
    pub client: TestClient<E>,
    pub cookies: BTreeMap<String, String>,
    pub last_set_cookies: Vec<String>,
}

impl<E: Endpoint> Browser<E> {
    pub fn new(app: E) -> Self {
        Self {
            client: TestClient::new(app),
            cookies: BTreeMap::new(),
            last_set_cookies: Vec::new(),
        }
    }

    /// The cookies as a `Cookie` header, for requests outside GraphQL (downloads).
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Runs `query` with `variables`, storing any cookies the response sets.
    pub async fn run(&mut self, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post("/graphql")
            .content_type("application/json")
            .body(json!({ "query": query, "variables": variables }).to_string());
        if !self.cookies.is_empty() {
            request = request.header("Cookie", self.cookie_header());
        }
        let response = request.send().await;
        let limited = response.0.status() == poem::http::StatusCode::TOO_MANY_REQUESTS;
        if limited {
            assert_limited_headers(response.0.headers());
        } else {
            response.assert_status_is_ok();
        }
        self.last_set_cookies = response
            .0
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok().map(str::to_owned))
            .collect();
        for set_cookie in &self.last_set_cookies {
            let pair = set_cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || set_cookie.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let body = response.0.into_body().into_string().await.expect("body");
        let answer: Value = serde_json::from_str(&body).expect("JSON response");
        if limited {
            assert!(
                answer["errors"].as_array().is_some_and(|errors| errors
                    .iter()
                    .any(|e| e["extensions"]["code"] == "RATE_LIMITED")),
                "a 429 says RATE_LIMITED: {answer}"
            );
        }
        answer
    }
}

/// Every limited answer carries `Retry-After` and the `RateLimit-*` headers, remaining 0.
pub fn assert_limited_headers(headers: &poem::http::HeaderMap) {
    let number = |name: &str| -> u64 {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{name} on a 429: {headers:?}"))
    };
    assert!(number("retry-after") >= 1);
    assert!(number("ratelimit-limit") >= 1);
    assert_eq!(number("ratelimit-remaining"), 0);
    assert_eq!(number("ratelimit-reset"), number("retry-after"));
}

/// Runs `query` with `variables` as an integrator would: API key `secret` as a bearer token.
pub async fn run_with_key<E: Endpoint>(
    client: &TestClient<E>,
    secret: &str,
    query: &str,
    variables: Value,
) -> Value {
    let response = client
        .post("/graphql")
        .header("Authorization", format!("Bearer {secret}"))
        .content_type("application/json")
        .body(json!({ "query": query, "variables": variables }).to_string())
        .send()
        .await;
    let body = response.0.into_body().into_string().await.expect("body");
    serde_json::from_str(&body).expect("JSON response")
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

pub const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { role user { email } clinic { id name timeZone attributionWindowDays } } }";
pub const SIGN_IN: &str = "mutation($email: String!, $password: String!) { signIn(email: $email, password: $password) { role clinic { id } } }";
pub const ME: &str = "{ me { role user { email displayName } clinic { name } } }";
pub const REFRESH: &str = "mutation { refreshSession { role } }";
pub const SIGN_OUT: &str = "mutation { signOut }";

/// Sign-up variables for a dental clinic in London owned by `email`.
pub fn sign_up_input(email: &str) -> Value {
    json!({ "input": {
        "clinicName": "Riverside Dental",
        "kind": "dental",
        "timeZone": "Europe/London",
        "defaultRegion": "GB",
        "currency": "GBP",
        "ownerName": "Ada Owner",
        "ownerEmail": email,
        "password": "correct horse battery",
        "acceptedTerms": ringback_shared::terms::VERSION,
    }})
}

/// Signs `browser` up as the owner of a new clinic (see [`sign_up_input`]); returns its id.
pub async fn sign_up_clinic<E: Endpoint>(browser: &mut Browser<E>, email: &str) -> uuid::Uuid {
    let signed_up = browser.run(SIGN_UP, sign_up_input(email)).await;
    signed_up["data"]["signUp"]["clinic"]["id"]
        .as_str()
        .and_then(|id| uuid::Uuid::try_parse(id).ok())
        .unwrap_or_else(|| panic!("no clinic id: {signed_up}"))
}

/// Invites `email` to `owner`'s clinic as `role` and accepts the invitation as `joiner` (a new
/// account); returns the joiner, signed in to the clinic.
pub async fn join<E: Endpoint>(
    owner: &mut Browser<E>,
    mut joiner: Browser<E>,
    email: &str,
    role: &str,
) -> Browser<E> {
    let invited = owner
        .run(
            "mutation($email: String!, $role: TeamRole!) { inviteMember(email: $email, displayName: \"Member\", role: $role) { token } }",
            json!({ "email": email, "role": role }),
        )
        .await;
    let token = invited["data"]["inviteMember"]["token"]
        .as_str()
        .expect("invite token")
        .to_owned();
    let accepted = joiner
        .run(
            "mutation($token: String!) { acceptInvite(token: $token, password: \"member password 1\") { role } }",
            json!({ "token": token }),
        )
        .await;
    assert_eq!(accepted["data"]["acceptInvite"]["role"], role, "{accepted}");
    joiner
}
