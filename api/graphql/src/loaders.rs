//! DataLoaders: rows that lists reference are fetched in one query per request and kind, not one
//! per list item. Each loader holds the request's caller and opens its transactions through it,
//! so it can only ever load the caller's clinic's rows; [`load_permitted`] checks the caller's
//! permission before anything is loaded. A loader's work runs on a task of its own: one that
//! writes (opening messages marks them read) commits even when the request has gone away.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;
use ringback_domain::service::ai_tools::IntakeDetails;
use ringback_domain::service::attribution;
use ringback_domain::service::calls::{self, Credit};
use ringback_domain::service::conversations::{self, ShownMessage};
use ringback_domain::service::{ai_agent, click_to_call};
use ringback_entity::{ai_step, call};
use uuid::Uuid;

use crate::error::{DomainError, graphql_error};
use crate::guard::{Access, Ending, permit};
use ringback_domain::auth::{Caller, Principal};

/// Checks that the caller may do what `access` says, then loads `key` through the request's
/// loader `L` (batched with the other keys asked for meanwhile).
pub async fn load_permitted<L, K>(
    ctx: &Context<'_>,
    access: Access,
    key: K,
) -> async_graphql::Result<Option<L::Value>>
where
    L: Loader<K, Error = DomainError>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    permit(ctx, access).await?;
    ctx.data::<DataLoader<L>>()?
        .load_one(key)
        .await
        .map_err(graphql_error)
}

/// Runs `work` in a transaction of the caller's clinic, ended as `ending` says. A read-only load
/// must not note its reads (nobody would store the notes): one that does fails.
async fn in_clinic<T>(
    caller: &Caller,
    ending: Ending,
    work: impl AsyncFnOnce(&TenantTxn, &Principal) -> Result<T, DomainError>,
) -> Result<T, DomainError> {
    let (txn, principal) = caller.begin().await?;
    let value = work(&txn, principal).await?;
    match ending {
        Ending::Commit => txn.commit().await?,
        Ending::ReadOnly => {
            if !txn.end_reading().is_empty() {
                return Err(DomainError::Internal(
                    "a read-only load noted its reads".to_owned(),
                ));
            }
        }
    }
    Ok(value)
}

/// Loads calls by id within one clinic.
pub struct CallLoader {
    pub caller: Caller,
}

impl Loader<Uuid> for CallLoader {
    type Value = call::Model;
    type Error = DomainError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, call::Model>, DomainError> {
        let calls = in_clinic(&self.caller, Ending::ReadOnly, async |txn, _| {
            calls::with_ids(txn, ids).await
        })
        .await?;
        Ok(calls.into_iter().map(|call| (call.id, call)).collect())
    }
}

/// Loads, for missed calls, the attribution that credits them (at most one each).
pub struct CreditLoader {
    pub caller: Caller,
}

impl Loader<Uuid> for CreditLoader {
    type Value = Credit;
    type Error = DomainError;

    async fn load(&self, call_ids: &[Uuid]) -> Result<HashMap<Uuid, Credit>, DomainError> {
        let rows = in_clinic(&self.caller, Ending::ReadOnly, async |txn, _| {
            attribution::crediting_calls(txn, call_ids).await
        })
        .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                row.missed_call_id
                    .map(|call_id| (call_id, Credit::from(row)))
            })
            .collect())
    }
}

/// A conversation whose AI receptionist's steps are to be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StepsOf(pub Uuid);

/// A caller (by caller key) whose latest missed call that can be called back is to be loaded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallableCallOf(pub String);

/// A conversation whose messages are to be opened (marking it read, the read audited).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessagesOf(pub Uuid);

/// A conversation whose intake details (what the caller told the AI) are to be opened (the read
/// audited).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DetailsOf(pub Uuid);

/// A conversation whose AI answers of the last day are to be counted (against the day's cap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AnswersTodayOf(pub Uuid);

/// Whether the clinic has its AI receptionist on and budget left (one read for a whole list of
/// conversations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClinicAiSwitch;

/// Loads what a list of conversations shows besides their rows: the messages, the AI's steps and
/// the intake details in each, each caller's latest missed call that "Call back" can use, and
/// whether the clinic's AI answers (on, with budget left).
pub struct ConversationLoader {
    pub caller: Caller,
    /// To open the messages' texts.
    pub secrets: Arc<Secrets>,
}

impl Loader<MessagesOf> for ConversationLoader {
    type Value = Vec<ShownMessage>;
    type Error = DomainError;

    async fn load(
        &self,
        conversations: &[MessagesOf],
    ) -> Result<HashMap<MessagesOf, Vec<ShownMessage>>, DomainError> {
        let ids: Vec<Uuid> = conversations.iter().map(|of| of.0).collect();
        let opened = in_clinic(&self.caller, Ending::Commit, async |txn, principal| {
            conversations::read_messages_of_each(txn, &self.secrets, principal.actor(), &ids).await
        })
        .await?;
        Ok(opened
            .into_iter()
            .map(|(id, messages)| (MessagesOf(id), messages))
            .collect())
    }
}

impl Loader<DetailsOf> for ConversationLoader {
    type Value = IntakeDetails;
    type Error = DomainError;

    async fn load(
        &self,
        conversations: &[DetailsOf],
    ) -> Result<HashMap<DetailsOf, IntakeDetails>, DomainError> {
        let ids: Vec<Uuid> = conversations.iter().map(|of| of.0).collect();
        // Ends with a commit: a loader writes the reads it noted in its own transaction.
        let opened = in_clinic(&self.caller, Ending::Commit, async |txn, principal| {
            conversations::read_details_of_each(txn, &self.secrets, principal.actor(), &ids).await
        })
        .await?;
        Ok(opened
            .into_iter()
            .map(|(id, details)| (DetailsOf(id), details))
            .collect())
    }
}

impl Loader<StepsOf> for ConversationLoader {
    type Value = Vec<ai_step::Model>;
    type Error = DomainError;

    async fn load(
        &self,
        conversations: &[StepsOf],
    ) -> Result<HashMap<StepsOf, Vec<ai_step::Model>>, DomainError> {
        let ids: Vec<Uuid> = conversations.iter().map(|of| of.0).collect();
        let steps = in_clinic(&self.caller, Ending::ReadOnly, async |txn, _| {
            ai_agent::steps_of_each(txn, &ids).await
        })
        .await?;
        Ok(steps
            .into_iter()
            .map(|(id, steps)| (StepsOf(id), steps))
            .collect())
    }
}

impl Loader<CallableCallOf> for ConversationLoader {
    type Value = Uuid;
    type Error = DomainError;

    async fn load(
        &self,
        callers: &[CallableCallOf],
    ) -> Result<HashMap<CallableCallOf, Uuid>, DomainError> {
        let keys: Vec<String> = callers.iter().map(|of| of.0.clone()).collect();
        let calls = in_clinic(&self.caller, Ending::ReadOnly, async |txn, _| {
            click_to_call::latest_callable_calls(txn, &keys).await
        })
        .await?;
        Ok(calls
            .into_iter()
            .map(|(key, call)| (CallableCallOf(key), call))
            .collect())
    }
}

impl Loader<AnswersTodayOf> for ConversationLoader {
    type Value = u64;
    type Error = DomainError;

    async fn load(
        &self,
        conversations: &[AnswersTodayOf],
    ) -> Result<HashMap<AnswersTodayOf, u64>, DomainError> {
        let ids: Vec<Uuid> = conversations.iter().map(|of| of.0).collect();
        let counted = in_clinic(&self.caller, Ending::ReadOnly, async |txn, _| {
            ai_agent::answers_in_the_last_day(txn, &ids).await
        })
        .await?;
        Ok(counted
            .into_iter()
            .map(|(id, answers)| (AnswersTodayOf(id), answers))
            .collect())
    }
}

impl Loader<ClinicAiSwitch> for ConversationLoader {
    type Value = ai_agent::AiSwitch;
    type Error = DomainError;

    async fn load(
        &self,
        _: &[ClinicAiSwitch],
    ) -> Result<HashMap<ClinicAiSwitch, ai_agent::AiSwitch>, DomainError> {
        let switch = in_clinic(&self.caller, Ending::ReadOnly, async |txn, _| {
            ai_agent::switch(txn).await
        })
        .await?;
        Ok(HashMap::from([(ClinicAiSwitch, switch)]))
    }
}
