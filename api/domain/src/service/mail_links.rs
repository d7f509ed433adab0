//! What the mails with one-time links share (sign-up confirmations, password resets): the mailer
//! and the public URL the links point at, the links' tokens, and sending after the answer.
//!
//! A link's token follows `#` in its URL, so it never reaches a server log; only its hash is
//! stored. Mail goes out from a task of its own, so an answer's timing depends neither on the
//! SMTP server nor on which mail was sent; a mail that fails is logged without the address, and
//! the person can ask again.

use std::sync::Arc;

use rand::RngCore;
use ringback_providers::mail::{Mail, Mailer};

/// What sending mail needs: the mailer and the public URL its links point at.
#[derive(Clone)]
pub struct MailLinks {
    pub mailer: Arc<Mailer>,
    pub public_url: String,
}

/// A new one-time token: 32 random bytes, in hex.
pub fn new_token() -> String {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    hex::encode(secret)
}

/// A mail's subject and body.
pub struct Letter {
    pub subject: String,
    pub body: String,
}

/// Sends `letter` to `to` from a task of its own; a failure is logged as a failed `what` mail,
/// without the address.
pub fn send_later(mailer: Arc<Mailer>, to: String, letter: Letter, what: &'static str) {
    tokio::spawn(async move {
        let mail = Mail {
            to: &to,
            subject: &letter.subject,
            body: letter.body,
        };
        if let Err(error) = mailer.send(mail).await {
            tracing::warn!(%error, mail = what, "a mail was not sent");
        }
    });
}
