//! The audit log (admins): entries newest first, with their hashes so anyone can re-check the chain.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_entity::audit_log;
use ringback_shared::access::Permission;

use crate::calls::{bad_cursor, page_size};
use crate::guard::{Access, with_tenant};
use ringback_domain::service::audit;

/// One audit entry.
#[derive(SimpleObject)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<ID>,
    pub action: String,
    pub detail: Json<serde_json::Value>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<&audit_log::Model> for AuditEntry {
    fn from(model: &audit_log::Model) -> Self {
        Self {
            seq: model.seq,
            at: model.at,
            actor_user_id: model.actor_user_id.map(|id| ID(id.to_string())),
            action: model.action.clone(),
            detail: Json(model.detail.clone()),
            prev_hash: model.prev_hash.clone(),
            hash: model.hash.clone(),
        }
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The clinic's audit log, newest first; at most 100 per page.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, AuditEntry>> {
        let (mut rows, limit) = with_tenant(
            ctx,
            Access::Read(Permission::ReadAuditLog),
            async |txn, _| {
                let limit = page_size(first)?;
                let before = after
                    .as_deref()
                    .map(|text| text.parse::<i64>().map_err(|_| bad_cursor()))
                    .transpose()?;
                Ok((audit::list(txn, before, limit).await?, limit))
            },
        )
        .await?;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let mut connection = Connection::new(false, has_next);
        for row in &rows {
            connection
                .edges
                .push(Edge::new(row.seq.to_string(), AuditEntry::from(row)));
        }
        Ok(connection)
    }
}
