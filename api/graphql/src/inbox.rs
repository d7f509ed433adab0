//! The shared inbox's list over GraphQL (receptionists and up): a view of the conversations
//! (open, mine, unassigned, closed), each with the first words of its last message, who holds it
//! and whether it is unread; and the count of unread conversations the navigation shows.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_shared::access::Permission;

use crate::conversations::{Conversation, page_start};
use crate::guard::{Access, with_tenant_read_only};
use ringback_domain::Backend;
use ringback_domain::service::inbox::{self, InboxItem, InboxView};

/// Largest page of the inbox.
const MAX_PAGE: i32 = 100;

/// Which conversations the inbox lists.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum InboxFilter {
    /// Every open conversation.
    #[default]
    Open,
    /// Open conversations assigned to me.
    Mine,
    /// Open conversations nobody holds.
    Unassigned,
    /// Closed conversations.
    Closed,
}

/// A conversation as the inbox lists it.
#[derive(SimpleObject)]
pub struct InboxEntry {
    pub conversation: Conversation,
    /// The first words of its last message (none when that text cannot be opened).
    pub preview: Option<String>,
    /// Whether its latest message came after anyone in the team last opened it.
    pub unread: bool,
    /// The name of the team member who holds it.
    pub assignee_name: Option<String>,
}

impl From<InboxItem> for InboxEntry {
    fn from(item: InboxItem) -> Self {
        InboxEntry {
            preview: item.preview,
            unread: item.unread,
            assignee_name: item.assignee,
            conversation: Conversation::from(item.row),
        }
    }
}

#[derive(Default)]
pub struct InboxQuery;

#[Object]
impl InboxQuery {
    /// The inbox: `view`'s conversations, latest activity first (then by id); the next page
    /// starts after the last one shown: `before` its `lastMessageAt` and `beforeId` its `id`.
    /// Reading the first words of messages is audited.
    async fn inbox(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] view: InboxFilter,
        before: Option<DateTime<Utc>>,
        before_id: Option<ID>,
        #[graphql(default = 25, validator(minimum = 1, maximum = 100))] first: i32,
    ) -> async_graphql::Result<Vec<InboxEntry>> {
        let backend = ctx.data::<Backend>()?;
        let limit = first.clamp(1, MAX_PAGE) as u64;
        let items = with_tenant_read_only(
            ctx,
            Access::Read(Permission::TalkToCallers),
            async |txn, principal| {
                let actor = principal.user_id().ok();
                let view = match view {
                    InboxFilter::Open => InboxView::Open,
                    InboxFilter::Mine => InboxView::Mine(principal.user_id()?),
                    InboxFilter::Unassigned => InboxView::Unassigned,
                    InboxFilter::Closed => InboxView::Closed,
                };
                let cursor = page_start(before, before_id.as_ref())?;
                inbox::page(txn, &backend.secrets, actor, view, cursor, limit).await
            },
        )
        .await?;
        Ok(items.into_iter().map(InboxEntry::from).collect())
    }

    /// How many open conversations have a message nobody in the team has opened.
    async fn inbox_unread(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let count = with_tenant_read_only(
            ctx,
            Access::Read(Permission::TalkToCallers),
            async |txn, _| inbox::unread_count(txn).await,
        )
        .await?;
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}
