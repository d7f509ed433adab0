//! DataLoaders: rows that lists reference are fetched in one query per request and kind, not one
//! per list item. Each loader holds the request's caller and opens its transactions through it,
//! so it can only ever load the caller's clinic's rows, and only for a caller who may.

use std::collections::HashMap;

use ringback_domain::service::attribution;
use ringback_domain::service::calls::{self, Credit};
use ringback_entity::call;
use uuid::Uuid;

use ringback_domain::auth::Caller;

/// Loads calls by id within one clinic.
pub struct CallLoader {
    pub caller: Caller,
}

impl async_graphql::dataloader::Loader<Uuid> for CallLoader {
    type Value = call::Model;
    type Error = String;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, call::Model>, String> {
        let (txn, _) = self.caller.begin().await.map_err(|e| e.to_string())?;
        let calls = calls::with_ids(&txn, ids)
            .await
            .map_err(|e| e.to_string())?;
        txn.commit().await.map_err(|e| e.to_string())?;
        Ok(calls.into_iter().map(|call| (call.id, call)).collect())
    }
}

/// Loads, for missed calls, the attribution that credits them (at most one each).
pub struct CreditLoader {
    pub caller: Caller,
}

impl async_graphql::dataloader::Loader<Uuid> for CreditLoader {
    type Value = Credit;
    type Error = String;

    async fn load(&self, call_ids: &[Uuid]) -> Result<HashMap<Uuid, Credit>, String> {
        let (txn, _) = self.caller.begin().await.map_err(|e| e.to_string())?;
        let rows = attribution::crediting_calls(&txn, call_ids)
            .await
            .map_err(|e| e.to_string())?;
        txn.commit().await.map_err(|e| e.to_string())?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                row.missed_call_id
                    .map(|call_id| (call_id, Credit::from(row)))
            })
            .collect())
    }
}
