//! Notifications for staff over GraphQL (receptionists and up): what the dashboard shows in its
//! bell, such as the AI receptionist handing a caller to the team, and marking them read
//! (audited with the count); whether the signed-in member is e-mailed the hand-offs they are
//! given (audited when changed).

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_domain::Backend;
use ringback_domain::jobs::hand_off_mail;
use ringback_domain::service::{clinic, notifications};
use ringback_entity::notification;
use ringback_shared::access::Permission;

use crate::guard::{Access, uuid_arg, with_tenant};

/// Something staff are told.
#[derive(SimpleObject)]
pub struct Notification {
    pub id: ID,
    /// What happened: `ai_hand_off`.
    pub kind: String,
    /// The conversation it is about.
    pub conversation_id: Option<ID>,
    /// In plain words, without caller data.
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<notification::Model> for Notification {
    fn from(row: notification::Model) -> Self {
        Self {
            id: ID(row.id.to_string()),
            kind: row.kind,
            conversation_id: row.conversation_id.map(|id| ID(id.to_string())),
            text: row.text,
            created_at: row.created_at,
            read_at: row.read_at,
        }
    }
}

/// A member's e-mail when the AI receptionist hands a caller to them.
#[derive(SimpleObject)]
pub struct HandOffMails {
    /// Whether they chose to get it.
    pub on: bool,
    /// Why none can go now, if so (the AI receptionist is off; the server sends no e-mail).
    pub unavailable_reason: Option<String>,
}

/// The newest notifications and how many nobody has read.
#[derive(SimpleObject)]
pub struct Notifications {
    pub unread: u64,
    pub items: Vec<Notification>,
}

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The newest notifications (only unread ones with `unreadOnly`), at most `first`.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] unread_only: bool,
        #[graphql(default = 20, validator(minimum = 1, maximum = 100))] first: i32,
    ) -> async_graphql::Result<Notifications> {
        let limit = u64::try_from(first).unwrap_or(1);
        let (unread, rows) = with_tenant(
            ctx,
            Access::Read(Permission::TalkToCallers),
            async |txn, _| {
                let unread = notifications::unread_count(txn).await?;
                Ok((unread, notifications::list(txn, unread_only, limit).await?))
            },
        )
        .await?;
        Ok(Notifications {
            unread,
            items: rows.into_iter().map(Notification::from).collect(),
        })
    }

    /// Your e-mail when the AI receptionist hands a caller to you: whether you chose it, and why
    /// none can go now, if so. For people signed in, not API keys.
    async fn my_hand_off_mails(&self, ctx: &Context<'_>) -> async_graphql::Result<HandOffMails> {
        let mail_configured = ctx.data::<Backend>()?.mail.is_some();
        with_tenant(
            ctx,
            Access::Read(Permission::TalkToCallers),
            async |txn, principal| {
                let on = notifications::hand_off_mails(txn, principal.user_id()?).await?;
                let ai_enabled = clinic::get(txn).await?.ai_enabled;
                Ok(HandOffMails {
                    on,
                    unavailable_reason: hand_off_mail::why_none_can_go(ai_enabled, mail_configured)
                        .map(str::to_owned),
                })
            },
        )
        .await
    }
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Turns on or off the e-mail you get when the AI receptionist hands a caller to you (the
    /// mail links the conversation and says nothing of the caller); what it is now. For people
    /// signed in, not API keys. Audited.
    async fn set_my_hand_off_mails(
        &self,
        ctx: &Context<'_>,
        on: bool,
    ) -> async_graphql::Result<bool> {
        with_tenant(
            ctx,
            Access::Write(Permission::TalkToCallers),
            async |txn, principal| {
                notifications::set_hand_off_mails(txn, principal.user_id()?, on).await
            },
        )
        .await
    }

    /// Marks the notifications `ids` read (every unread one when `ids` is omitted); how many
    /// were unread. Audited.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_items = 100))] ids: Option<Vec<ID>>,
    ) -> async_graphql::Result<u64> {
        with_tenant(
            ctx,
            Access::Write(Permission::TalkToCallers),
            async |txn, principal| {
                let ids = ids
                    .as_ref()
                    .map(|ids| ids.iter().map(uuid_arg).collect::<Result<Vec<_>, _>>())
                    .transpose()?;
                notifications::mark_read(txn, principal.actor(), ids.as_deref()).await
            },
        )
        .await
    }
}
