//! The SMS inbox over GraphQL (receptionists and up): conversations, their messages with delivery
//! states, staff replies (sent through the outbox), assignment and closing, and what the AI
//! receptionist did in each (its state, its steps) with staff taking a conversation over. Callers appear by
//! masked tail and caller key only.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_entity::conversation;
use ringback_shared::access::Permission;
use ringback_shared::ai::state as ai_state;
use uuid::Uuid;

use crate::error::{DomainError, graphql_error};
use crate::guard::{Access, uuid_arg, with_tenant, with_tenant_read_only};
use crate::loaders::{
    AnswersTodayOf, CallableCallOf, ClinicAiSwitch, ConversationLoader, DetailsOf, MessagesOf,
    StepsOf, load_permitted,
};
use ringback_domain::Backend;
use ringback_domain::service::ai_agent;
use ringback_domain::service::ai_tools::IntakeDetails;
use ringback_domain::service::conversations::{self, ConversationCursor, ShownMessage};

/// Largest page of conversations.
const MAX_PAGE: i32 = 100;

/// Whether a conversation is open.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConversationStatus {
    Open,
    Closed,
}

impl ConversationStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => conversations::OPEN,
            Self::Closed => conversations::CLOSED,
        }
    }
}

/// Which way a message went.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum MessageDirection {
    Inbound,
    Outbound,
}

/// What a message is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// The automatic text after a missed call.
    TextBack,
    /// The caller's text.
    Reply,
    /// STOP, START or HELP.
    Keyword,
    /// A text a member of staff wrote.
    Staff,
    /// A text the AI receptionist wrote (a follow-up, an answer or its fallback).
    Ai,
}

/// One text in a conversation.
#[derive(SimpleObject)]
pub struct Message {
    pub id: ID,
    pub direction: MessageDirection,
    pub kind: MessageKind,
    /// The text (empty when `unreadable`).
    pub body: String,
    /// True when the stored text could not be opened (a damaged message): it shows without its
    /// text, and the conversation's other messages still show.
    pub unreadable: bool,
    /// queued, sending, sent, delivered, undelivered, failed, cancelled (outbound) or received.
    pub status: String,
    /// Why an outbound text was not delivered, when the provider said: its error code (Twilio's
    /// `ErrorCode`).
    pub delivery_error: Option<i32>,
    pub created_at: DateTime<Utc>,
}

impl From<ShownMessage> for Message {
    fn from(opened: ShownMessage) -> Self {
        let row = opened.row;
        Self {
            id: ID(row.id.to_string()),
            direction: if row.direction == "inbound" {
                MessageDirection::Inbound
            } else {
                MessageDirection::Outbound
            },
            kind: match row.kind.as_str() {
                "text_back" => MessageKind::TextBack,
                "keyword" => MessageKind::Keyword,
                "staff" => MessageKind::Staff,
                "ai" => MessageKind::Ai,
                _ => MessageKind::Reply,
            },
            unreadable: opened.body.is_none(),
            body: opened.body.unwrap_or_default(),
            status: row.status,
            delivery_error: row.delivery_error,
            created_at: row.created_at,
        }
    }
}

/// A caller's SMS thread.
pub struct Conversation(conversation::Model);

impl From<conversation::Model> for Conversation {
    fn from(row: conversation::Model) -> Self {
        Conversation(row)
    }
}

#[Object]
impl Conversation {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The caller's last digits, e.g. "•••• 123".
    async fn caller_tail(&self) -> &str {
        &self.0.caller_tail
    }

    async fn caller_key(&self) -> &str {
        &self.0.caller_key
    }

    async fn status(&self) -> ConversationStatus {
        if self.0.status == conversations::CLOSED {
            ConversationStatus::Closed
        } else {
            ConversationStatus::Open
        }
    }

    /// The team member (user id) it is assigned to.
    async fn assigned_to(&self) -> Option<ID> {
        self.0.assigned_to.map(|id| ID(id.to_string()))
    }

    async fn last_message_at(&self) -> DateTime<Utc> {
        self.0.last_message_at
    }

    /// Whether its latest message came after anyone in the team last opened it.
    async fn unread(&self) -> bool {
        ringback_domain::service::inbox::is_unread(&self.0)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Whether staff can text the caller: only the `text_back` privacy mode keeps the number.
    async fn can_reply(&self) -> bool {
        self.0.number_sealed.is_some()
    }

    /// The caller's latest missed call that "Call back" can use (`callBack`); null when none
    /// keeps a number (strict privacy mode, or no missed call).
    async fn call_back_call_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ID>> {
        let key = CallableCallOf(self.0.caller_key.clone());
        let found = load_permitted::<ConversationLoader, _>(ctx, TALK_TO_CALLERS, key).await?;
        Ok(found.map(|id| ID(id.to_string())))
    }

    /// Whether the AI receptionist answers it; null when it never has.
    async fn ai_state(&self) -> Option<AiConversationState> {
        match self.0.ai_state.as_deref()? {
            ai_state::ACTIVE => Some(AiConversationState::Active),
            ai_state::HANDED_OFF => Some(AiConversationState::HandedOff),
            _ => Some(AiConversationState::TakenOver),
        }
    }

    /// Why the AI receptionist will not answer the caller's next text although this conversation
    /// is `ACTIVE`, in plain words (the clinic turned it off, this server has no model, the
    /// month's token budget is spent, or it answered this caller 20 times in the last day); null
    /// when it answers, and for a conversation that is not `ACTIVE`.
    async fn ai_paused_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        if self.0.ai_state.as_deref() != Some(ai_state::ACTIVE) {
            return Ok(None);
        }
        let backend = ctx.data::<Backend>()?;
        let switch =
            load_permitted::<ConversationLoader, _>(ctx, TALK_TO_CALLERS, ClinicAiSwitch).await?;
        let key = AnswersTodayOf(self.0.id);
        let answered = load_permitted::<ConversationLoader, _>(ctx, TALK_TO_CALLERS, key).await?;
        Ok(ai_agent::paused_because(
            switch.unwrap_or_default(),
            backend.ai_model.is_some(),
            ai_agent::day_is_used_up(answered.unwrap_or(0)),
        ))
    }

    /// Why the AI stopped answering, in plain words.
    async fn ai_stopped_reason(&self) -> Option<&str> {
        self.0.ai_stopped_reason.as_deref()
    }

    /// What the AI receptionist did here, oldest first: the tools it used with their outcomes
    /// (a booking links its appointment), its answers, fallbacks and follow-ups.
    #[graphql(complexity = "20 * child_complexity")]
    async fn ai_steps(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AiStep>> {
        let key = StepsOf(self.0.id);
        let steps = load_permitted::<ConversationLoader, _>(ctx, TALK_TO_CALLERS, key)
            .await?
            .unwrap_or_default();
        Ok(steps
            .into_iter()
            .map(|step| AiStep {
                action: step.action,
                outcome: step.outcome,
                appointment_id: step.appointment_id.map(|id| ID(id.to_string())),
                tokens: step.tokens,
                at: step.created_at,
            })
            .collect())
    }

    /// What the caller told the AI receptionist when it asked the clinic's intake questions; null
    /// when it saved nothing (reading them is recorded in the audit log).
    async fn intake_details(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<IntakeDetailsView>> {
        if self.0.details_sealed.is_none() {
            return Ok(None);
        }
        let key = DetailsOf(self.0.id);
        let details = load_permitted::<ConversationLoader, _>(ctx, TALK_TO_CALLERS, key).await?;
        Ok(details.as_ref().and_then(IntakeDetailsView::of))
    }

    /// The messages, oldest first (reading them is recorded in the audit log).
    #[graphql(complexity = "20 * child_complexity")]
    async fn messages(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Message>> {
        let key = MessagesOf(self.0.id);
        let opened = load_permitted::<ConversationLoader, _>(ctx, TALK_TO_CALLERS, key)
            .await?
            .ok_or_else(|| graphql_error(DomainError::NotFound))?;
        Ok(opened.into_iter().map(Message::from).collect())
    }
}

/// A question the AI receptionist asked and what the caller answered.
#[derive(SimpleObject)]
pub struct IntakeAnswer {
    pub question: String,
    pub answer: String,
}

/// The intake details the AI receptionist saved in a conversation.
#[derive(SimpleObject)]
pub struct IntakeDetailsView {
    /// Each question with the caller's answer (number-like runs removed), by question.
    pub answers: Vec<IntakeAnswer>,
    /// True when the stored details could not be opened (a damaged row): `answers` is empty.
    pub unreadable: bool,
}

impl IntakeDetailsView {
    /// The view of `details`; `None` when none were saved.
    pub fn of(details: &IntakeDetails) -> Option<Self> {
        let (answers, unreadable) = details.shown()?;
        let answers = answers
            .iter()
            .map(|(question, answer)| IntakeAnswer {
                question: question.clone(),
                answer: answer.clone(),
            })
            .collect();
        Some(Self {
            answers,
            unreadable,
        })
    }
}

/// What reading a conversation's texts, steps and calls needs.
const TALK_TO_CALLERS: Access = Access::Read(Permission::TalkToCallers);

/// Whether the AI receptionist answers a conversation.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AiConversationState {
    /// It answers the caller's texts.
    Active,
    /// It handed the caller to staff (see `aiStoppedReason`).
    HandedOff,
    /// Staff took the conversation over.
    TakenOver,
}

/// One thing the AI receptionist did in a conversation.
#[derive(SimpleObject)]
pub struct AiStep {
    /// A tool (find_slots, book_appointment, quote, hand_off, save_details), reply, fallback,
    /// follow_up, caller_wrote (the caller wrote again while the model was thinking: it was asked
    /// again with their new text; a tool it had asked for and not run yet did not run), or stopped
    /// (staff took the conversation over, closed it or replied, the AI was turned off, or another
    /// answer to the same texts went out, while the model was thinking).
    pub action: String,
    /// What it came to, in plain words.
    pub outcome: String,
    /// The appointment a booking made.
    pub appointment_id: Option<ID>,
    /// Model tokens it used.
    pub tokens: i64,
    pub at: DateTime<Utc>,
}

/// Where a list of conversations starts, from its `before` and `beforeId` arguments.
pub(crate) fn page_start(
    before: Option<DateTime<Utc>>,
    before_id: Option<&ID>,
) -> Result<Option<ConversationCursor>, DomainError> {
    let id = before_id
        .map(|id| {
            Uuid::try_parse(id.as_str())
                .map_err(|_| DomainError::BadUserInput("beforeId is not a conversation id".into()))
        })
        .transpose()?;
    match (before, id) {
        (Some(at), id) => Ok(Some(ConversationCursor { at, id })),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(DomainError::BadUserInput(
            "beforeId needs before (the lastMessageAt of the same conversation)".into(),
        )),
    }
}

#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// Conversations, latest activity first (then by id); the next page starts after the last
    /// one shown: `before` its `lastMessageAt` and `beforeId` its `id` (without `beforeId`, every
    /// conversation last active at `before` is left out).
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        status: Option<ConversationStatus>,
        before: Option<DateTime<Utc>>,
        before_id: Option<ID>,
        #[graphql(default = 25, validator(minimum = 1, maximum = 100))] first: i32,
    ) -> async_graphql::Result<Vec<Conversation>> {
        let limit = first.clamp(1, MAX_PAGE) as u64;
        let rows = with_tenant_read_only(
            ctx,
            Access::Read(Permission::TalkToCallers),
            async |txn, _| {
                let cursor = page_start(before, before_id.as_ref())?;
                conversations::list(txn, status.map(ConversationStatus::as_str), cursor, limit)
                    .await
            },
        )
        .await?;
        Ok(rows.into_iter().map(Conversation).collect())
    }

    /// One conversation.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Conversation> {
        let row = with_tenant_read_only(
            ctx,
            Access::Read(Permission::TalkToCallers),
            async |txn, _| conversations::find(txn, uuid_arg(&id)?).await,
        )
        .await?;
        Ok(Conversation(row))
    }
}

#[derive(Default)]
pub struct ConversationMutation;

#[Object]
impl ConversationMutation {
    /// Texts the caller (through the outbox; the message shows `queued` until the provider
    /// reports), taking the conversation over from the AI receptionist while it is on (also
    /// before its first text there). Refused when the clinic keeps no numbers (strict mode) or
    /// the caller opted out.
    async fn reply_to_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        body: String,
    ) -> async_graphql::Result<Message> {
        let backend = ctx.data::<Backend>()?;
        let stored = with_tenant(
            ctx,
            Access::Write(Permission::TalkToCallers),
            async |txn, principal| {
                let which = (principal.actor(), uuid_arg(&id)?);
                conversations::reply(txn, &backend.secrets, which, &body, txn.now()).await
            },
        )
        .await?;
        Ok(Message::from(ShownMessage {
            row: stored,
            body: Some(body.trim().to_owned()),
        }))
    }

    /// Assigns the conversation to a team member (null unassigns it).
    async fn assign_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        member_id: Option<ID>,
    ) -> async_graphql::Result<Conversation> {
        let row = with_tenant(
            ctx,
            Access::Write(Permission::TalkToCallers),
            async |txn, principal| {
                let member = member_id.as_ref().map(uuid_arg).transpose()?;
                let which = (principal.actor(), uuid_arg(&id)?);
                conversations::assign(txn, which, member, txn.now()).await
            },
        )
        .await?;
        Ok(Conversation(row))
    }

    /// Takes the conversation over from the AI receptionist: it stops answering there (or
    /// never starts) and sends no follow-up. Audited.
    async fn take_over_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Conversation> {
        let row = with_tenant(
            ctx,
            Access::Write(Permission::TalkToCallers),
            async |txn, principal| {
                let which = (principal.actor(), uuid_arg(&id)?);
                conversations::take_over(txn, which, txn.now()).await
            },
        )
        .await?;
        Ok(Conversation(row))
    }

    /// Closes the conversation; the caller's next text opens a new one.
    async fn close_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Conversation> {
        let row = with_tenant(
            ctx,
            Access::Write(Permission::TalkToCallers),
            async |txn, principal| {
                let which = (principal.actor(), uuid_arg(&id)?);
                conversations::close(txn, which, txn.now()).await
            },
        )
        .await?;
        Ok(Conversation(row))
    }
}
