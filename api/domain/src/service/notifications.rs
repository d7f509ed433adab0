//! Notifications for staff in the dashboard: today the AI receptionist handing a caller to them
//! (also e-mailed to the member it went to, unless they turned that off: [`hand_off_mails`]).
//! Each says what happened in plain words (the caller's masked tail at most, number-like runs
//! removed) and links the conversation; anyone in the team may mark it read, which is audited.
//! The unread ones are found through the `(clinic_id, read_at, created_at)` index, so a clinic with
//! many read notifications pays nothing for them.

use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;
use ringback_entity::{membership, notification};
use ringback_shared::redact::remove_numbers;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::team;

/// The AI receptionist handed a conversation to staff.
pub const AI_HAND_OFF: &str = "ai_hand_off";
/// Longest notification text, in characters.
pub const MAX_TEXT_CHARS: usize = 300;
/// Most notifications one read returns.
pub const MAX_PAGE: u64 = 100;

/// Tells staff about `conversation`: `text` in plain words.
pub async fn notify(
    txn: &TenantTxn,
    kind: &'static str,
    conversation: Option<Uuid>,
    text: &str,
) -> Result<notification::Model, DomainError> {
    Ok(notification::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(Uuid::now_v7()),
        kind: Set(kind.to_owned()),
        conversation_id: Set(conversation),
        text: Set(remove_numbers(text.trim())
            .chars()
            .take(MAX_TEXT_CHARS)
            .collect()),
        created_at: Set(txn.now()),
        read_at: Set(None),
        read_by: Set(None),
    }
    .insert(txn.conn())
    .await?)
}

/// Whether `user` is e-mailed when the AI receptionist hands a caller to them
/// ([`crate::jobs::HandOffMail`]).
pub async fn hand_off_mails(txn: &TenantTxn, user: Uuid) -> Result<bool, DomainError> {
    Ok(team::find_membership(txn, user).await?.mail_hand_offs)
}

/// Turns `user`'s hand-off mails on or off; what they are now. Audited as
/// `member.hand_off_mails_changed` with the new value.
pub async fn set_hand_off_mails(
    txn: &TenantTxn,
    user: Uuid,
    on: bool,
) -> Result<bool, DomainError> {
    let mut model: membership::ActiveModel = team::find_membership(txn, user).await?.into();
    model.mail_hand_offs = Set(on);
    model.update(txn.conn()).await?;
    audit::append(
        txn,
        AuditEvent {
            actor: Some(user),
            action: "member.hand_off_mails_changed",
            detail: json!({ "on": on }),
        },
    )
    .await?;
    Ok(on)
}

/// The newest notifications (only the unread ones when `unread_only`), at most `limit`.
pub async fn list(
    txn: &TenantTxn,
    unread_only: bool,
    limit: u64,
) -> Result<Vec<notification::Model>, DomainError> {
    let mut query = txn.find::<notification::Entity>();
    if unread_only {
        query = query.filter(notification::Column::ReadAt.is_null());
    }
    Ok(query
        .order_by_desc(notification::Column::CreatedAt)
        .limit(limit.min(MAX_PAGE))
        .all(txn.conn())
        .await?)
}

/// How many notifications nobody has read.
pub async fn unread_count(txn: &TenantTxn) -> Result<u64, DomainError> {
    Ok(txn
        .find::<notification::Entity>()
        .filter(notification::Column::ReadAt.is_null())
        .count(txn.conn())
        .await?)
}

/// Marks `ids` read (every unread one when `None`) by `actor`; how many were unread. Audited as
/// `notifications.read` with the count.
pub async fn mark_read(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    ids: Option<&[Uuid]>,
) -> Result<u64, DomainError> {
    let mut update = txn
        .update_many::<notification::Entity>()
        .col_expr(notification::Column::ReadAt, Expr::value(txn.now()))
        .col_expr(notification::Column::ReadBy, Expr::value(actor))
        .filter(notification::Column::ReadAt.is_null());
    if let Some(ids) = ids {
        update = update.filter(notification::Column::Id.is_in(ids.iter().copied()));
    }
    let marked = update.exec(txn.conn()).await?.rows_affected;
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "notifications.read",
            detail: json!({ "marked": marked }),
        },
    )
    .await?;
    Ok(marked)
}
