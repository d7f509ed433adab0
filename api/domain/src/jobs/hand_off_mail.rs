//! [`HandOffMail`]: e-mail the member the AI receptionist handed a caller to, so that a caller
//! waiting for a person is not left until someone opens the dashboard (a sole trader on a job
//! rarely does). Queued in the hand-off's transaction ([`queue`]) when the member has these mails
//! on, at most [`MAX_A_CLINIC_AN_HOUR`] a clinic an hour: beyond that the dashboard's
//! notification stands alone, so a burst of callers cannot flood a mailbox.
//!
//! One mail a conversation and member: a second hand-off of the same conversation (the model's
//! own, then the fallback's when its answer fails after it) mails nobody again. Two hand-offs in
//! different conversations at the same moment may both pass the hourly count, so the cap is
//! approximate by one or two. A deployment without SMTP queues the job too, and it is cancelled
//! when it runs ("mail is not configured"): the hand-off cannot see the deployment's settings.
//!
//! The mail names the business and links the conversation; it says nothing of the caller (no
//! number, no tail, no reason: what they wrote may be about their health), which the member
//! reads after signing in. When it runs, a conversation someone already took over, answered or
//! closed, or a member who left, was given the caller's conversation away or turned the mails
//! off, cancels it (a mail retried for hours while the SMTP server was down is not sent after a
//! colleague answered). A mail handed to the SMTP server is audited as `ai.hand_off_mailed` with
//! the member. A mail whose earlier attempt never settled is cancelled, not sent again
//! ([`MAY_HAVE_GONE`]): the SMTP server cannot be asked whether it took it.

use ringback_core::error::DomainError;
use ringback_core::outbox::{Job, NewJob, enqueue_once};
use ringback_core::tenant::TenantTxn;
use ringback_entity::{conversation, job_outbox, message, user};
use ringback_providers::mail::{Mail, MailError};
use ringback_shared::ai::{HAND_OFF_MAIL_SWITCH, state as ai_state};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::audit::{self, AuditEvent};
use crate::service::mail_links::Letter;
use crate::service::{clinic, conversations, messages, team};

/// Why a mail is not sent again: an earlier attempt never settled (its worker stopped, or the
/// outcome could not be stored) and may have handed it to the SMTP server, which keeps no list
/// to ask. Rather none than two: the dashboard's notification still stands. (An SMTP failure
/// that is answered, even a timeout after the mail's data, is retried as any other.)
pub const MAY_HAVE_GONE: &str = "an earlier attempt may have sent it";

/// Most hand-off mails one clinic sends in an hour.
pub const MAX_A_CLINIC_AN_HOUR: u64 = 20;

/// Why no hand-off mail can go now, if so: the AI is off (`ai_enabled`) or the deployment sends
/// no mail (`mail_configured`), in words for the member.
pub fn why_none_can_go(ai_enabled: bool, mail_configured: bool) -> Option<&'static str> {
    if !mail_configured {
        Some("this server sends no e-mail (its operator has not set up SMTP)")
    } else if !ai_enabled {
        Some("the AI receptionist is off, so it hands no caller over")
    } else {
        None
    }
}

/// Tell `member` that the AI receptionist handed them `conversation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandOffMail {
    pub conversation: Uuid,
    pub member: Uuid,
}

impl Job for HandOffMail {
    const NAME: &'static str = "hand_off_mail";

    fn idempotency_key(&self) -> Option<String> {
        Some(format!(
            "{}:{}:{}",
            Self::NAME,
            self.conversation,
            self.member
        ))
    }
}

/// Queues `mail` in the hand-off's transaction when its member has hand-off mails on, the
/// clinic queued fewer than [`MAX_A_CLINIC_AN_HOUR`] in the last hour and none was queued before
/// for this conversation and member; whether it was queued.
pub async fn queue(txn: &TenantTxn, mail: HandOffMail) -> Result<bool, DomainError> {
    if !wants_mails(txn, mail.member).await? {
        return Ok(false);
    }
    let this_hour = txn
        .find::<job_outbox::Entity>()
        .filter(job_outbox::Column::Kind.eq(HandOffMail::NAME))
        .filter(job_outbox::Column::CreatedAt.gt(txn.now() - chrono::Duration::hours(1)))
        .count(txn.conn())
        .await?;
    if this_hour >= MAX_A_CLINIC_AN_HOUR {
        return Ok(false);
    }
    let new = NewJob {
        job: mail,
        sealed_number: None,
        body_sealed: None,
        run_at: txn.now(),
    };
    Ok(enqueue_once(txn, new, txn.now()).await?.is_some())
}

/// Whether `member` of the transaction's clinic has hand-off mails on (false for a non-member).
async fn wants_mails(txn: &TenantTxn, member: Uuid) -> Result<bool, DomainError> {
    Ok(team::membership(txn, member)
        .await?
        .is_some_and(|membership| membership.mail_hand_offs))
}

/// A mail ready to hand to the SMTP server.
pub struct Ready {
    to: String,
    letter: Letter,
}

impl Runnable for HandOffMail {
    type Ready = Ready;

    async fn prepare(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        context: &JobContext,
    ) -> Result<Result<Ready, Attempt>, DomainError> {
        let Some(mail) = &context.backend.mail else {
            return Ok(Err(Attempt::Cancelled("mail is not configured")));
        };
        if row.in_doubt_since.is_some() {
            return Ok(Err(Attempt::Cancelled(MAY_HAVE_GONE)));
        }
        if !self.still_waits(txn, row.created_at).await? {
            return Ok(Err(Attempt::Cancelled("someone has the conversation")));
        }
        if !wants_mails(txn, self.member).await? {
            return Ok(Err(Attempt::Cancelled(
                "the member left or takes no hand-off mails",
            )));
        }
        let Some(person) = user::Entity::find_by_id(self.member)
            .one(txn.conn())
            .await?
        else {
            return Ok(Err(Attempt::Cancelled("the member left")));
        };
        let business = clinic::get(txn).await?.name;
        Ok(Ok(Ready {
            to: person.email,
            letter: letter(&business, &mail.public_url, self.conversation),
        }))
    }

    async fn perform(
        &self,
        ready: Ready,
        _row: &job_outbox::Model,
        context: &JobContext,
    ) -> Attempt {
        let Some(mail) = &context.backend.mail else {
            return Attempt::Cancelled("mail is not configured");
        };
        let sent = mail
            .mailer
            .send(Mail {
                to: &ready.to,
                subject: &ready.letter.subject,
                body: ready.letter.body,
            })
            .await;
        match sent {
            Ok(()) => Attempt::Done(Receipt {
                // The SMTP server's answer names no message: the provider is named instead.
                provider_id: "smtp".to_owned(),
                provider_status: "sent".to_owned(),
                done_at: None,
            }),
            Err(error) => Attempt::Failed {
                retryable: !matches!(error, MailError::BadRecipient | MailError::Build(_)),
                error: error.to_string(),
                in_doubt_since: None,
            },
        }
    }

    async fn done(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        _receipt: &Receipt,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        audit::append(
            txn,
            AuditEvent {
                actor: None,
                action: "ai.hand_off_mailed",
                detail: json!({ "conversation": self.conversation, "member": self.member }),
            },
        )
        .await?;
        Ok(())
    }

    async fn given_up(
        &self,
        _txn: &TenantTxn,
        _row: &job_outbox::Model,
        status: &str,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        tracing::warn!(
            status,
            "a hand-off mail was given up; the dashboard still shows it"
        );
        Ok(())
    }
}

impl HandOffMail {
    /// Whether the conversation is still the AI's hand-off to this member, open, and no member of
    /// staff wrote to the caller since the mail was queued (`queued_at`).
    async fn still_waits(
        &self,
        txn: &TenantTxn,
        queued_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, DomainError> {
        let thread = txn
            .find::<conversation::Entity>()
            .filter(conversation::Column::Id.eq(self.conversation))
            .one(txn.conn())
            .await?;
        let handed_to_member = thread.is_some_and(|thread| {
            thread.ai_state.as_deref() == Some(ai_state::HANDED_OFF)
                && thread.status != conversations::CLOSED
                && thread.assigned_to == Some(self.member)
        });
        if !handed_to_member {
            return Ok(false);
        }
        let answered = txn
            .find::<message::Entity>()
            .filter(message::Column::ConversationId.eq(self.conversation))
            .filter(message::Column::Kind.eq(messages::KIND_STAFF))
            .filter(message::Column::CreatedAt.gte(queued_at))
            .count(txn.conn())
            .await?;
        Ok(answered == 0)
    }
}

/// The mail telling a member of `business` that a caller waits in `conversation`, linked from
/// the dashboard at `public_url`; nothing about the caller.
fn letter(business: &str, public_url: &str, conversation: Uuid) -> Letter {
    let base = public_url.trim_end_matches('/');
    Letter {
        subject: format!("{business}: a caller is waiting for you"),
        body: format!(
            "The AI receptionist of {business} handed a caller to you: they are waiting for an \
             answer from a person.\n\nRead the conversation and answer them in Ringback:\n\
             {base}/inbox/{conversation}\n\nThis mail says nothing about the caller; sign in to \
             see the conversation. To stop these mails, untick \"{HAND_OFF_MAIL_SWITCH}\" under the \
             inbox.\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_letter_links_the_conversation_and_says_nothing_of_the_caller() {
        let conversation = Uuid::nil();
        let letter = letter(
            "Harbour Plumbing",
            "https://ringback.example/",
            conversation,
        );
        assert_eq!(
            letter.subject,
            "Harbour Plumbing: a caller is waiting for you"
        );
        assert!(
            letter
                .body
                .contains(&format!("https://ringback.example/inbox/{conversation}\n")),
            "{}",
            letter.body
        );
        assert!(!letter.body.chars().any(|c| c.is_ascii_digit() && c != '0'));
    }
}
