//! Twilio's request signature: base64 of HMAC-SHA1, keyed by the auth token, over the full public
//! URL followed by every POST parameter sorted by name, each as name then value. Compared in
//! constant time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

fn keyed(auth_token: &str, url: &str, params: &[(String, String)]) -> Option<Hmac<Sha1>> {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes()).ok()?;
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(mac)
}

/// The signature Twilio sends for this request.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    keyed(auth_token, url, params)
        .map(|mac| STANDARD.encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `signature` (the `X-Twilio-Signature` header) is genuine, in constant time.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(presented) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    keyed(auth_token, url, params).is_some_and(|mac| mac.verify_slice(&presented).is_ok())
}

/// A webhook request whose signature was checked: the only way to one, [`SignedRequest::check`],
/// is the proof the layers above ask for before they route the request to a clinic. Its `Debug`
/// names the parameters only: their values hold numbers and texts.
pub struct SignedRequest {
    params: Vec<(String, String)>,
}

impl std::fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.params.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("SignedRequest")
            .field("params", &names)
            .finish()
    }
}

impl SignedRequest {
    /// `params` as a signed request, if `signature` is genuine for them and `url`.
    pub fn check(
        auth_token: &str,
        url: &str,
        params: Vec<(String, String)>,
        signature: &str,
    ) -> Option<Self> {
        verify(auth_token, url, &params, signature).then_some(Self { params })
    }

    /// The value of parameter `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Computed by an independent implementation of Twilio's documented algorithm (Python's hmac),
    /// which also reproduces the example in Twilio's own documentation.
    #[test]
    fn matches_an_independently_computed_vector() {
        let request = params(&[
            ("To", "+447700900777"),
            ("From", "+447700900123"),
            ("Direction", "inbound"),
            ("CallStatus", "ringing"),
            ("CallSid", "CA1234567890ABCDE"),
            ("AccountSid", "AC00000000000000000000000000000000"),
        ]);
        let url = "https://ringback.example.test/webhooks/twilio/voice";
        assert_eq!(sign("12345", url, &request), "EYgPI+sihCQU9gwiG1EWvlGNFM0=");
        assert!(verify(
            "12345",
            url,
            &request,
            "EYgPI+sihCQU9gwiG1EWvlGNFM0="
        ));
    }

    #[test]
    fn any_change_is_refused() {
        let request = params(&[("CallSid", "CA1"), ("To", "+447700900777")]);
        let url = "https://ringback.example.test/webhooks/twilio/voice";
        let good = sign("token", url, &request);
        assert!(!verify("other", url, &request, &good), "another token");
        assert!(
            !verify(
                "token",
                "https://evil.example.test/webhooks/twilio/voice",
                &request,
                &good
            ),
            "another URL"
        );
        let changed = params(&[("CallSid", "CA2"), ("To", "+447700900777")]);
        assert!(!verify("token", url, &changed, &good), "another parameter");
        assert!(!verify("token", url, &request, "not base64!"), "garbage");
        assert!(!verify("token", url, &request, ""), "missing");
    }
}
