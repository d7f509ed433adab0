//! Security headers on every answer: a Content-Security-Policy the dashboard passes (scripts and
//! styles from this origin only, WebAssembly allowed, the one inline start-up script Trunk writes
//! allowed by its hash, no framing), `X-Content-Type-Options: nosniff`, no referrer, and HSTS when
//! the public URL is `https://` (TLS ends at the proxy in front of us).

use std::sync::Arc;

use base64::Engine;
use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};

/// The headers every response carries (unless the handler set its own).
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    headers: Vec<(&'static str, HeaderValue)>,
}

impl SecurityHeaders {
    /// The headers for a server whose dashboard page is `index_html` (if built) and whose public
    /// URL is `public_url`.
    pub fn new(index_html: Option<&str>, public_url: Option<&str>) -> Self {
        let script_hashes: String = index_html
            .map(inline_scripts)
            .unwrap_or_default()
            .iter()
            .map(|script| format!(" 'sha256-{}'", sha256_base64(script)))
            .collect();
        let policy = format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{script_hashes}; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        let mut headers = vec![
            ("content-security-policy", header(&policy)),
            ("x-content-type-options", header("nosniff")),
            ("x-frame-options", header("DENY")),
            ("referrer-policy", header("no-referrer")),
        ];
        if public_url.is_some_and(|url| url.starts_with("https://")) {
            headers.push((
                "strict-transport-security",
                header("max-age=31536000; includeSubDomains"),
            ));
        }
        Self { headers }
    }

    /// Adds the headers to `response` where it has none of the same name.
    fn apply(&self, response: &mut Response) {
        for (name, value) in &self.headers {
            if !response.headers().contains_key(*name) {
                response.headers_mut().insert(*name, value.clone());
            }
        }
    }
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Calls `endpoint` and adds the security headers to whatever it answers, errors included.
pub async fn with_security_headers<E: Endpoint>(
    endpoint: Arc<E>,
    request: Request,
    headers: Arc<SecurityHeaders>,
) -> poem::Result<Response> {
    let mut response = match endpoint.call(request).await {
        Ok(output) => output.into_response(),
        Err(error) => error.into_response(),
    };
    headers.apply(&mut response);
    Ok(response)
}

/// The bodies of the inline `<script>` elements of `html` (those without `src`), exactly as the
/// browser hashes them.
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after_tag = &rest[start..];
        let Some(open_end) = after_tag.find('>') else {
            break;
        };
        let opening = &after_tag[..open_end];
        let body_and_more = &after_tag[open_end + 1..];
        let Some(close) = body_and_more.find("</script>") else {
            break;
        };
        if !opening.contains("src=") {
            found.push(&body_and_more[..close]);
        }
        rest = &body_and_more[close..];
    }
    found
}

fn sha256_base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_are_not() {
        let html = "<head><script type=\"module\">start();</script>\
                    <script src=\"/app.js\"></script></head>";
        assert_eq!(inline_scripts(html), vec!["start();"]);
        let headers = SecurityHeaders::new(Some(html), Some("https://clinic.example"));
        let policy = headers
            .headers
            .iter()
            .find(|(name, _)| *name == "content-security-policy")
            .map(|(_, value)| value.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        // The hash of "start();" as `echo -n 'start();' | openssl dgst -sha256 -binary | base64`.
        assert!(policy.contains(&format!("'sha256-{}'", sha256_base64("start();"))));
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(
            headers
                .headers
                .iter()
                .any(|(name, _)| *name == "strict-transport-security")
        );
        let plain = SecurityHeaders::new(None, Some("http://localhost:8080"));
        assert!(
            !plain
                .headers
                .iter()
                .any(|(name, _)| *name == "strict-transport-security"),
            "no HSTS without TLS"
        );
    }
}
