//! The shared inbox's list, as a front desk works it: open conversations (all, the reader's own,
//! or nobody's) or closed ones, latest activity first, each with the first words of its last
//! message, who holds it and whether anyone has read its latest message. The team shares one
//! read state: opening a thread (or replying in it) marks it read for everyone. Showing the first
//! words opens message texts, so a page of them is audited as one read. A page costs one query
//! for the conversations, one for their last messages (each found through the conversation
//! index) and one for the team's names, whatever the clinic's size.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use ringback_entity::{conversation, message};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::conversations::{self, CLOSED, ConversationCursor, OPEN};
use crate::service::{clinic, keys, team};
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;

/// Most characters of a last message shown in the list.
pub const PREVIEW_CHARS: usize = 80;

/// Which conversations the list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxView {
    /// Every open conversation.
    Open,
    /// Open conversations assigned to this team member.
    Mine(Uuid),
    /// Open conversations nobody holds.
    Unassigned,
    /// Closed conversations.
    Closed,
}

/// One conversation as the list shows it.
pub struct InboxItem {
    pub row: conversation::Model,
    /// The first words of its last message.
    pub preview: Option<String>,
    /// Whether its latest message came after anyone in the team last opened it.
    pub unread: bool,
    /// The name of the team member who holds it.
    pub assignee: Option<String>,
}

/// Whether `row` has a message nobody in the team has opened yet.
pub fn is_unread(row: &conversation::Model) -> bool {
    row.read_at.is_none_or(|read| read < row.last_message_at)
}

/// `body` cut to [`PREVIEW_CHARS`] at a word boundary, with an ellipsis when cut.
pub fn preview(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= PREVIEW_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(PREVIEW_CHARS).collect();
    let at_word = cut.rfind(' ').filter(|&at| at > PREVIEW_CHARS / 2);
    format!("{}…", &cut[..at_word.unwrap_or(cut.len())])
}

/// A page of the list: `view`'s conversations after `cursor`, at most `limit`.
pub async fn page(
    txn: &TenantTxn,
    secrets: &Secrets,
    actor: Option<Uuid>,
    view: InboxView,
    cursor: Option<ConversationCursor>,
    limit: u64,
) -> Result<Vec<InboxItem>, DomainError> {
    let status = if view == InboxView::Closed {
        CLOSED
    } else {
        OPEN
    };
    let rows = conversations::list_where(txn, Some(status), cursor, limit, |query| match view {
        InboxView::Mine(member) => query.filter(conversation::Column::AssignedTo.eq(member)),
        InboxView::Unassigned => query.filter(conversation::Column::AssignedTo.is_null()),
        InboxView::Open | InboxView::Closed => query,
    })
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut previews = last_messages(txn, secrets, &rows).await?;
    let names: HashMap<Uuid, String> = team::members(txn)
        .await?
        .into_iter()
        .map(|member| (member.user.id, member.user.display_name))
        .collect();
    audit::note_read(
        txn,
        AuditEvent {
            actor,
            action: "conversation.list_read",
            detail: json!({ "conversations": rows.len() }),
        },
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| InboxItem {
            preview: previews.remove(&row.id),
            unread: is_unread(&row),
            assignee: row.assigned_to.and_then(|id| names.get(&id).cloned()),
            row,
        })
        .collect())
}

/// The first words of each conversation's last message, by conversation (none for one whose text
/// cannot be opened: [`conversations::shown_text`]).
async fn last_messages(
    txn: &TenantTxn,
    secrets: &Secrets,
    rows: &[conversation::Model],
) -> Result<HashMap<Uuid, String>, DomainError> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let latest = txn
        .find::<message::Entity>()
        .filter(message::Column::ConversationId.is_in(ids))
        .filter(Expr::cust(
            "messages.created_at = (SELECT max(latest.created_at) FROM messages latest \
             WHERE latest.clinic_id = messages.clinic_id \
             AND latest.conversation_id = messages.conversation_id)",
        ))
        .order_by_desc(message::Column::Id)
        .all(txn.conn())
        .await?;
    let key = keys::data_key(secrets, &clinic::get(txn).await?)?;
    let mut previews = HashMap::new();
    let mut seen = HashSet::new();
    // Of messages stored at the same instant the last is the one with the highest id, as a
    // thread orders them.
    for message in latest {
        if !seen.insert(message.conversation_id) {
            continue;
        }
        if let Some(body) = conversations::shown_text(&key, txn.clinic_id(), &message) {
            previews.insert(message.conversation_id, preview(&body));
        }
    }
    Ok(previews)
}

/// How many open conversations have a message nobody in the team has opened.
pub async fn unread_count(txn: &TenantTxn) -> Result<u64, DomainError> {
    Ok(txn
        .find::<conversation::Entity>()
        .filter(conversation::Column::Status.eq(OPEN))
        .filter(
            Condition::any()
                .add(conversation::Column::ReadAt.is_null())
                .add(Expr::cust(
                    "conversations.read_at < conversations.last_message_at",
                )),
        )
        .count(txn.conn())
        .await?)
}

/// Marks those of `rows` that are unread read for the whole team as of `at`, in one statement.
pub async fn mark_all_read(
    txn: &TenantTxn,
    rows: &[conversation::Model],
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    let unread: Vec<Uuid> = rows
        .iter()
        .filter(|row| is_unread(row))
        .map(|row| row.id)
        .collect();
    if unread.is_empty() {
        return Ok(());
    }
    txn.update_many::<conversation::Entity>()
        .col_expr(conversation::Column::ReadAt, Expr::value(at))
        .filter(conversation::Column::Id.is_in(unread))
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Marks `row` read for the whole team as of `at`.
pub async fn mark_read(
    txn: &TenantTxn,
    row: conversation::Model,
    at: DateTime<Utc>,
) -> Result<conversation::Model, DomainError> {
    if !is_unread(&row) {
        return Ok(row);
    }
    let mut model: conversation::ActiveModel = row.into();
    model.read_at = Set(Some(at));
    Ok(model.update(txn.conn()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_is_cut_at_a_word_and_says_so() {
        assert_eq!(preview("Is Friday\n free?"), "Is Friday free?");
        let long = "Could someone look at my boiler this week, it has been leaking since Sunday night and the floor is wet";
        let cut = preview(long);
        assert!(
            cut.ends_with('…') && cut.chars().count() <= PREVIEW_CHARS + 1,
            "{cut}"
        );
        assert!(long.starts_with(cut.trim_end_matches('…')), "{cut}");
        assert!(!cut.trim_end_matches('…').ends_with(' '));
    }
}
