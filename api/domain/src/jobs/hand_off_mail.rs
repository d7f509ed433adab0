//! [`HandOffMail`]: e-mail the member the AI receptionist handed a caller to, so that a caller
//! waiting for a person is not left until someone opens the dashboard (a sole trader on a job
//! rarely does). Queued in the hand-off's transaction ([`queue`]) when the member has these mails
//! on, at most [`MAX_A_CLINIC_AN_HOUR`] a clinic an hour: beyond that the dashboard's
//! notification stands alone, so a burst of callers cannot flood a mailbox.
//!
//! The mail names the business and links the conversation; it says nothing of the caller (no
//! number, no tail, no reason: what they wrote may be about their health), which the member
//! reads after signing in. When it runs, a conversation someone already took over or closed, or
//! a member who left, was given the caller's conversation away or turned the mails off, cancels
//! it. A mail handed to the SMTP server is audited as `ai.hand_off_mailed` with the member.

use ringback_core::error::DomainError;
use ringback_core::outbox::{Job, NewJob, enqueue};
use ringback_core::tenant::TenantTxn;
use ringback_entity::{conversation, job_outbox, membership, user};
use ringback_providers::mail::{Mail, MailError};
use ringback_shared::ai::state as ai_state;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::audit::{self, AuditEvent};
use crate::service::mail_links::Letter;
use crate::service::{clinic, conversations};

/// Most hand-off mails one clinic sends in an hour.
pub const MAX_A_CLINIC_AN_HOUR: u64 = 20;

/// Tell `member` that the AI receptionist handed them `conversation` (hand-off `notification`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandOffMail {
    pub conversation: Uuid,
    pub member: Uuid,
    pub notification: Uuid,
}

impl Job for HandOffMail {
    const NAME: &'static str = "hand_off_mail";

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::NAME, self.notification))
    }
}

/// Queues `mail` in the hand-off's transaction when its member has hand-off mails on and the
/// clinic sent fewer than [`MAX_A_CLINIC_AN_HOUR`] in the last hour; whether it was queued.
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
    enqueue(txn, new, txn.now()).await?;
    Ok(true)
}

/// Whether `member` of the transaction's clinic has hand-off mails on (false for a non-member).
async fn wants_mails(txn: &TenantTxn, member: Uuid) -> Result<bool, DomainError> {
    Ok(txn
        .find::<membership::Entity>()
        .filter(membership::Column::UserId.eq(member))
        .filter(membership::Column::MailHandOffs.eq(true))
        .count(txn.conn())
        .await?
        > 0)
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
        _row: &job_outbox::Model,
        context: &JobContext,
    ) -> Result<Result<Ready, Attempt>, DomainError> {
        let Some(mail) = &context.backend.mail else {
            return Ok(Err(Attempt::Cancelled("mail is not configured")));
        };
        if !self.still_waits(txn).await? {
            return Ok(Err(Attempt::Cancelled("someone has the conversation")));
        }
        if !wants_mails(txn, self.member).await? {
            return Ok(Err(Attempt::Cancelled(
                "the member takes no hand-off mails",
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
                provider_id: format!("{}:{}", Self::NAME, self.notification),
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
    /// Whether the conversation is still the AI's hand-off to this member, open.
    async fn still_waits(&self, txn: &TenantTxn) -> Result<bool, DomainError> {
        let thread = txn
            .find::<conversation::Entity>()
            .filter(conversation::Column::Id.eq(self.conversation))
            .one(txn.conn())
            .await?;
        Ok(thread.is_some_and(|thread| {
            thread.ai_state.as_deref() == Some(ai_state::HANDED_OFF)
                && thread.status != conversations::CLOSED
                && thread.assigned_to == Some(self.member)
        }))
    }
}

/// The mail telling a member of `business` that a caller waits in `conversation`, linked from
/// the dashboard at `public_url`; nothing about the caller.
fn letter(business: &str, public_url: &str, conversation: Uuid) -> Letter {
    let base = public_url.trim_end_matches('/');
    Letter {
        subject: format!("A caller is waiting for you at {business}"),
        body: format!(
            "The AI receptionist of {business} handed a caller to you: they are waiting for an \
             answer from a person.\n\nRead the conversation and answer them in Ringback:\n\
             {base}/inbox/{conversation}\n\nThis mail says nothing about the caller; sign in to \
             see the conversation. To stop these mails, untick \"E-mail me when the AI hands a \
             caller to me\" in the inbox.\n"
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
            "A caller is waiting for you at Harbour Plumbing"
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
