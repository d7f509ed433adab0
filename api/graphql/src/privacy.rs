//! A caller's data-protection requests (admins and owners): `callerRecord` shows everything held
//! about the caller with a number, `exportCallerRecord` gives it as a JSON document to hand over,
//! `eraseCaller` erases it and `restrictCaller` puts the caller on the do-not-process list or takes
//! them off. The number is keyed in the server and forgotten; each request is audited without it
//! and counts towards the 20 look-ups by number a minute each person may make.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_domain::backend::Backend;
use ringback_domain::service::caller_records::{self, CallerRecord, Erasure};
use ringback_shared::access::Permission;

use crate::calls::Call;
use crate::conversations::IntakeDetailsView;
use crate::error::DomainError;
use crate::guard::{Access, with_tenant};
use ringback_core::tenant::TenantTxn;

/// A message of the caller's, its text opened.
#[derive(SimpleObject)]
pub struct HeldMessage {
    pub at: DateTime<Utc>,
    /// inbound or outbound.
    pub direction: String,
    /// text_back, reply, staff_reply or keyword.
    pub kind: String,
    pub status: String,
    /// The text (empty when `unreadable`).
    pub text: String,
    /// True when the stored text could not be opened (a damaged message).
    pub unreadable: bool,
}

/// A conversation with the caller.
#[derive(SimpleObject)]
pub struct HeldConversation {
    pub id: ID,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub messages: Vec<HeldMessage>,
    /// What the caller told the AI receptionist's intake questions; null when it saved nothing.
    pub intake_details: Option<IntakeDetailsView>,
    /// Why the AI receptionist stopped answering, when it did (in plain words).
    pub ai_stopped_reason: Option<String>,
    /// What the AI receptionist did in the conversation, oldest first.
    pub ai_steps: Vec<HeldAiStep>,
}

/// One step of the AI receptionist in a caller's conversation.
#[derive(SimpleObject)]
pub struct HeldAiStep {
    pub at: DateTime<Utc>,
    /// A tool's name, `reply`, `fallback` or `follow_up`.
    pub action: String,
    /// What it came to, in plain words.
    pub outcome: String,
}

/// An appointment of the caller's, with its attribution.
#[derive(SimpleObject)]
pub struct HeldAppointment {
    pub id: ID,
    pub booked_at: DateTime<Utc>,
    pub starts_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub value_minor: i64,
    /// recovered or unattributed, when attribution ran.
    pub outcome: Option<String>,
    pub reason: Option<String>,
    /// The reason in words, as the appointments list gives it.
    pub explanation: Option<String>,
}

/// Everything the clinic holds about one caller.
#[derive(SimpleObject)]
pub struct CallerRecordView {
    /// The last digits, e.g. "•••• 123".
    pub caller_tail: String,
    /// Newest first; callbacks are calls.
    pub calls: Vec<Call>,
    pub conversations: Vec<HeldConversation>,
    pub appointments: Vec<HeldAppointment>,
    /// Times staff took the caller off the worklist.
    pub worklist_dismissals: i32,
    /// Texts to the caller still waiting to be sent.
    pub queued_texts: i32,
    pub opted_out: bool,
    /// When the caller's STOP that keeps them on the opt-out list came.
    pub opted_out_since: Option<DateTime<Utc>>,
    pub restricted: bool,
    pub restricted_since: Option<DateTime<Utc>>,
}

impl From<CallerRecord> for CallerRecordView {
    fn from(found: CallerRecord) -> Self {
        Self {
            caller_tail: found.caller_tail,
            calls: found.calls.into_iter().map(Call::from).collect(),
            conversations: found
                .conversations
                .into_iter()
                .map(|held| HeldConversation {
                    id: ID(held.row.id.to_string()),
                    status: held.row.status,
                    started_at: held.row.created_at,
                    messages: held
                        .messages
                        .into_iter()
                        .map(|message| HeldMessage {
                            at: message.row.created_at,
                            direction: message.row.direction,
                            kind: message.row.kind,
                            status: message.row.status,
                            unreadable: message.body.is_none(),
                            text: message.body.unwrap_or_default(),
                        })
                        .collect(),
                    intake_details: IntakeDetailsView::of(&held.details),
                    ai_stopped_reason: held.row.ai_stopped_reason,
                    ai_steps: held
                        .ai_steps
                        .into_iter()
                        .map(|step| HeldAiStep {
                            at: step.created_at,
                            action: step.action,
                            outcome: step.outcome,
                        })
                        .collect(),
                })
                .collect(),
            appointments: found
                .appointments
                .into_iter()
                .map(|held| HeldAppointment {
                    id: ID(held.row.id.to_string()),
                    booked_at: held.row.created_at,
                    starts_at: held.row.starts_at,
                    cancelled_at: held.row.cancelled_at,
                    value_minor: held.row.value_minor,
                    outcome: held.verdict.as_ref().map(|v| v.outcome.clone()),
                    explanation: held.verdict.as_ref().map(crate::appointments::explain),
                    reason: held.verdict.map(|v| v.reason),
                })
                .collect(),
            worklist_dismissals: i32::try_from(found.dismissals.len()).unwrap_or(i32::MAX),
            queued_texts: i32::try_from(found.queued_texts).unwrap_or(i32::MAX),
            opted_out: found.opted_out_since.is_some(),
            opted_out_since: found.opted_out_since,
            restricted: found.restricted_since.is_some(),
            restricted_since: found.restricted_since,
        }
    }
}

/// The caller's record as a document to hand over.
#[derive(SimpleObject)]
pub struct CallerExport {
    /// A file name for the download.
    pub filename: String,
    /// The record as JSON: calls, texts, conversations (opened), appointments and lists.
    pub json: String,
}

/// What an erasure did, and what it kept.
#[derive(SimpleObject)]
pub struct CallerErasure {
    /// Calls kept for the figures under a stand-in that links to nobody (no tail, no number).
    pub calls_unlinked: i32,
    /// Appointments kept for the accounts without the caller link (verdict, value, reason stay).
    pub appointments_unlinked: i32,
    pub conversations_deleted: i32,
    pub messages_deleted: i32,
    /// Text-backs and replies kept for the figures as times only: no words, no number, linked
    /// to nobody.
    pub messages_unlinked: i32,
    /// The team's notices about the caller's conversations (an AI hand-off's reason).
    pub notifications_deleted: i32,
    /// The AI receptionist's steps in the caller's conversations, kept for its figures and the
    /// month's token count as action, tokens and time only: no outcome, linked to nobody.
    pub ai_steps_unlinked: i32,
    pub dismissals_deleted: i32,
    pub texts_deleted: i32,
    /// The phone provider's records of the caller's calls and texts (Twilio's logs, which hold
    /// the number and the words), queued to be deleted there within minutes.
    pub provider_records_queued: i32,
    /// Whether Twilio's log is searched for every other call and text between the caller and the
    /// clinic's numbers (the answers to STOP, calls kept under a stand-in, calls from before
    /// Ringback recorded them), and what it finds deleted there. False when the clinic has no
    /// number at Twilio or the deployment no Twilio account.
    pub provider_log_searched: bool,
    /// The caller stays on the opt-out list, so that their STOP is still honoured.
    pub kept_opt_out: bool,
    /// The caller stays on the do-not-process list.
    pub kept_restriction: bool,
    /// The answer in plain words.
    pub summary: String,
}

fn count(rows: u64) -> i32 {
    i32::try_from(rows).unwrap_or(i32::MAX)
}

impl From<Erasure> for CallerErasure {
    fn from(done: Erasure) -> Self {
        let mut summary = format!(
            "Erased {} conversation(s) with {} message(s), {} notice(s) to the team, {} worklist \
             dismissal(s) and {} text(s). {} call(s), {} appointment(s), the times of {} \
             text-back(s) and replies and {} step(s) of the AI receptionist stay for the figures \
             and the accounts, without words, linked to nobody.",
            done.conversations_deleted,
            done.messages_deleted,
            done.notifications_deleted,
            done.dismissals_deleted,
            done.texts_deleted,
            done.calls_unlinked,
            done.appointments_unlinked,
            done.messages_unlinked,
            done.ai_steps_unlinked,
        );
        if done.provider_records > 0 {
            summary.push_str(&format!(
                " Twilio's {} record(s) of their calls and texts are being deleted there.",
                done.provider_records
            ));
        }
        if done.provider_log_searched {
            summary.push_str(
                " Twilio's log is being searched for their other calls and texts with the \
                 clinic's numbers, and what it finds is deleted there.",
            );
        }
        if done.kept_opt_out {
            summary.push_str(" The caller stays opted out of texts.");
        }
        if done.kept_restriction {
            summary.push_str(" The caller stays on the do-not-process list.");
        }
        Self {
            calls_unlinked: count(done.calls_unlinked),
            appointments_unlinked: count(done.appointments_unlinked),
            conversations_deleted: count(done.conversations_deleted),
            messages_deleted: count(done.messages_deleted),
            messages_unlinked: count(done.messages_unlinked),
            notifications_deleted: count(done.notifications_deleted),
            ai_steps_unlinked: count(done.ai_steps_unlinked),
            dismissals_deleted: count(done.dismissals_deleted),
            texts_deleted: count(done.texts_deleted),
            provider_records_queued: count(done.provider_records),
            provider_log_searched: done.provider_log_searched,
            kept_opt_out: done.kept_opt_out,
            kept_restriction: done.kept_restriction,
            summary,
        }
    }
}

/// Runs `request` for the caller's clinic once `access` and the per-person limit allow it.
async fn privacy_request<T>(
    ctx: &Context<'_>,
    access: Access,
    request: impl AsyncFnOnce(&TenantTxn, &Backend, uuid::Uuid) -> Result<T, DomainError>,
) -> async_graphql::Result<T> {
    let backend = ctx.data::<Backend>()?;
    with_tenant(ctx, access, async |txn, principal| {
        let user = principal.user_id()?;
        backend.rate_limits.caller_lookup(user)?;
        request(txn, backend, user).await
    })
    .await
}

#[derive(Default)]
pub struct PrivacyQuery;

#[Object]
impl PrivacyQuery {
    /// Everything held about the caller with `number` (any common format). Admins and owners;
    /// audited.
    async fn caller_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_length = 40))] number: String,
    ) -> async_graphql::Result<CallerRecordView> {
        let found = privacy_request(
            ctx,
            Access::Read(Permission::HandlePrivacyRequests),
            async |txn, backend, user| {
                caller_records::record(txn, &backend.secrets, Some(user), &number).await
            },
        )
        .await?;
        Ok(found.into())
    }

    /// The caller's record as a JSON document to hand over (portability). Admins and owners;
    /// audited as an export.
    async fn export_caller_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_length = 40))] number: String,
    ) -> async_graphql::Result<CallerExport> {
        let (document, day) = privacy_request(
            ctx,
            Access::Read(Permission::HandlePrivacyRequests),
            async |txn, backend, user| {
                let document =
                    caller_records::export(txn, &backend.secrets, Some(user), &number).await?;
                Ok((document, txn.now().date_naive()))
            },
        )
        .await?;
        Ok(CallerExport {
            filename: format!("caller-record-{day}.json"),
            json: serde_json::to_string_pretty(&document)?,
        })
    }
}

#[derive(Default)]
pub struct PrivacyMutation;

#[Object]
impl PrivacyMutation {
    /// Erases what is held about the caller with `number`: conversations, messages, the team's
    /// notices about them, dismissals and texts go; calls, appointments and the times of
    /// text-backs and replies stay for the figures and accounts, without words, linked to nobody.
    /// Admins and owners; audited.
    async fn erase_caller(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_length = 40))] number: String,
    ) -> async_graphql::Result<CallerErasure> {
        let done = privacy_request(
            ctx,
            Access::Write(Permission::HandlePrivacyRequests),
            async |txn, backend, user| {
                caller_records::erase(txn, backend, Some(user), &number).await
            },
        )
        .await?;
        Ok(done.into())
    }

    /// Puts the caller with `number` on the do-not-process list (no texts, no AI, no
    /// conversation; calls counted but stored without their key), or takes them off. Admins and
    /// owners; audited.
    async fn restrict_caller(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_length = 40))] number: String,
        restricted: bool,
    ) -> async_graphql::Result<bool> {
        privacy_request(
            ctx,
            Access::Write(Permission::HandlePrivacyRequests),
            async |txn, backend, user| {
                caller_records::restrict(txn, &backend.secrets, Some(user), (&number, restricted))
                    .await
            },
        )
        .await
    }
}
