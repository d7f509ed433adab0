//! E-mail over SMTP (lettre): the address-confirmation and "you already have an account" mails of
//! sign-up. Settings: `RINGBACK_SMTP_URL` (`smtps://user:password@host:465`, or
//! `smtp://user:password@host:587?tls=required` for STARTTLS) and `RINGBACK_MAIL_FROM`
//! (`Ringback <no-reply@example.com>`), both or neither. A plain `smtp://` URL without TLS is
//! refused for any host but the local machine: it would send the password and the mails in clear.
//! Tests point the URL at the fake in `crate::fakes::smtp` (the `fakes` feature).

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use ringback_core::settings::{ConfigError, RawSettings};

/// A mail to one recipient, in plain text.
pub struct Mail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub body: String,
}

/// Why a mail was not handed to the SMTP server. Never carries the recipient's address.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the recipient's address is not valid")]
    BadRecipient,
    #[error("the mail could not be built: {0}")]
    Build(String),
    #[error("the SMTP server refused or could not be reached: {0}")]
    Transport(String),
}

/// The SMTP settings, when mail is configured.
#[derive(Clone, Debug)]
pub struct MailSettings {
    url: String,
    from: Mailbox,
}

impl MailSettings {
    /// Reads `smtp_url` and `mail_from`; `None` when neither is set. One without the other, a
    /// malformed value or an unencrypted remote server stops start-up, naming the setting.
    pub fn from_settings(settings: &RawSettings) -> Result<Option<Self>, ConfigError> {
        let url = settings.parse("smtp_url", parse_smtp_url)?;
        let from = settings.parse("mail_from", |value| {
            value
                .trim()
                .parse::<Mailbox>()
                .map_err(|_| "expected an address such as Ringback <no-reply@example.com>")
        })?;
        match (url, from) {
            (None, None) => Ok(None),
            (Some(url), Some(from)) => Ok(Some(Self { url, from })),
            (Some(_), None) => Err(ConfigError::Missing {
                key: settings.origin("mail_from"),
                hint: "the sender of the mails RINGBACK_SMTP_URL sends".to_owned(),
            }),
            (None, Some(_)) => Err(ConfigError::Missing {
                key: settings.origin("smtp_url"),
                hint: "the SMTP server that sends as RINGBACK_MAIL_FROM".to_owned(),
            }),
        }
    }
}

/// Accepts `smtps://…`, `smtp://…?tls=required`, and any other `smtp://` only to the local
/// machine. `tls=opportunistic` is refused elsewhere: whoever sits between can strip the server's
/// offer of STARTTLS, and the password and the mails' sign-in links then go in clear.
fn parse_smtp_url(value: &str) -> Result<String, String> {
    let parsed = url::Url::parse(value.trim())
        .map_err(|_| "expected a URL such as smtps://user:password@host:465".to_owned())?;
    let tls_modes: Vec<_> = parsed
        .query_pairs()
        .filter(|(name, _)| name == "tls")
        .map(|(_, mode)| mode.into_owned())
        .collect();
    let tls = !tls_modes.is_empty() && tls_modes.iter().all(|mode| mode == "required");
    let local = matches!(
        parsed.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match parsed.scheme() {
        "smtps" => Ok(value.trim().to_owned()),
        "smtp" if tls || local => Ok(value.trim().to_owned()),
        "smtp" => Err(
            "an smtp:// URL to another machine needs ?tls=required and no other tls mode \
             (or use smtps://): without TLS the password and the mails travel in clear"
                .to_owned(),
        ),
        _ => Err("expected an smtps:// or smtp:// URL".to_owned()),
    }
}

/// Sends mail through the configured SMTP server.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// A mailer for `settings` (connections are opened when mail is sent).
    pub fn new(settings: &MailSettings) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
            .map_err(|error| MailError::Transport(error.to_string()))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(Self {
            transport,
            from: settings.from.clone(),
        })
    }

    /// Sends `mail`.
    pub async fn send(&self, mail: Mail<'_>) -> Result<(), MailError> {
        let to = mail
            .to
            .parse::<Mailbox>()
            .map_err(|_| MailError::BadRecipient)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|error| MailError::Build(error.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| MailError::Transport(without_recipient(&error.to_string(), mail.to)))
    }
}

/// An SMTP server's `reply` with the recipient's address `to` taken out: servers quote it
/// (`550 5.1.1 <ada@clinic.test>: no such user`), and the reply is logged and stored with a failed
/// job.
fn without_recipient(reply: &str, to: &str) -> String {
    let to = to.trim();
    if to.is_empty() {
        return reply.to_owned();
    }
    let lower_reply = reply.to_lowercase();
    let lower_to = to.to_lowercase();
    // Lower-casing may change lengths outside ASCII: then the whole reply is withheld.
    if lower_reply.len() != reply.len() || lower_to.len() != to.len() {
        return "the SMTP server's reply is withheld".to_owned();
    }
    let mut kept = String::with_capacity(reply.len());
    let mut at = 0;
    while let Some(found) = lower_reply[at..].find(&lower_to) {
        kept.push_str(&reply[at..at + found]);
        kept.push_str("the recipient");
        at += found + to.len();
    }
    kept.push_str(&reply[at..]);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_smtp_reply_never_quotes_the_recipient() {
        let reply = "permanent error (550): 5.1.1 <Ada@Clinic.test>: no such user ada@clinic.test";
        assert_eq!(
            without_recipient(reply, "ada@clinic.test"),
            "permanent error (550): 5.1.1 <the recipient>: no such user the recipient"
        );
        assert_eq!(
            without_recipient("timed out", "ada@clinic.test"),
            "timed out"
        );
        assert!(!without_recipient("İ ada@clinic.test", "ada@clinic.test").contains("ada@"));
    }

    #[test]
    fn unencrypted_smtp_is_refused_except_to_this_machine() {
        assert!(parse_smtp_url("smtps://u:p@mail.example.com:465").is_ok());
        assert!(parse_smtp_url("smtp://u:p@mail.example.com:587?tls=required").is_ok());
        assert!(parse_smtp_url("smtp://127.0.0.1:2525").is_ok());
        let refused = parse_smtp_url("smtp://u:p@mail.example.com:587").unwrap_err();
        assert!(refused.contains("tls=required"), "{refused}");
        assert!(parse_smtp_url("http://mail.example.com").is_err());
        for stripped in [
            "smtp://u:p@mail.example.com:587?tls=opportunistic",
            "smtp://u:p@mail.example.com:587?tls=required&tls=opportunistic",
        ] {
            let refused = parse_smtp_url(stripped).unwrap_err();
            assert!(refused.contains("tls=required"), "{refused}");
        }
        assert!(parse_smtp_url("smtp://localhost:2525?tls=opportunistic").is_ok());
    }
}
