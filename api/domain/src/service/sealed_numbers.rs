//! Destroying the caller numbers a clinic keeps sealed for calling or texting back: on missed
//! calls, on conversations, and in the outbox's waiting or given-up texts. Switching to strict
//! mode destroys everyone's (a text-back not yet sent keeps its own: strict mode keeps a number
//! until its text-back is sent; so does an erased caller's search of the provider's log, which
//! deletes what the provider keeps and loses the number when it is done); restricting a caller
//! destroys theirs (no text goes to them at all). Cost: three updates, by the clinic's rows that hold a number (the caller's, by their
//! keys; the outbox by its payloads, which the retention purge keeps to the call retention).

use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;
use ringback_entity::{call, conversation, job_outbox};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, ExprTrait, QueryFilter};

use crate::jobs::{ForgetCallerAtProvider, Job, TextBack};

/// Whose numbers go.
pub enum Whose<'a> {
    /// Every caller's (the clinic switched to strict mode).
    Everyone,
    /// The caller's with these keys (the current one and, during a rotation, the previous).
    Caller(&'a [String]),
}

impl Whose<'_> {
    /// Rows of a table whose caller key is `column`, as this selects them.
    fn rows(&self, column: impl ColumnTrait) -> SimpleExpr {
        match self {
            Whose::Everyone => Expr::val(true),
            Whose::Caller(keys) => column.is_in(keys.iter().cloned()),
        }
    }

    /// The outbox's jobs whose numbers go.
    fn jobs(&self) -> SimpleExpr {
        match self {
            Whose::Everyone => {
                job_outbox::Column::Kind.is_not_in([TextBack::NAME, ForgetCallerAtProvider::NAME])
            }
            Whose::Caller(keys) => mentions_any(keys),
        }
    }
}

/// Jobs whose payload names one of `keys`.
pub(crate) fn mentions_any(keys: &[String]) -> SimpleExpr {
    keys.iter()
        .map(|key| Expr::cust("CAST(payload AS TEXT)").like(format!("%{key}%")))
        .reduce(|either, or| either.or(or))
        .unwrap_or_else(|| Expr::val(false))
}

/// Destroys `whose` numbers.
pub async fn forget(txn: &TenantTxn, whose: Whose<'_>) -> Result<(), DomainError> {
    txn.update_many::<call::Entity>()
        .col_expr(call::Column::NumberSealed, Expr::value(None::<Vec<u8>>))
        .filter(call::Column::NumberSealed.is_not_null())
        .filter(whose.rows(call::Column::CallerKey))
        .exec(txn.conn())
        .await?;
    txn.update_many::<conversation::Entity>()
        .col_expr(
            conversation::Column::NumberSealed,
            Expr::value(None::<Vec<u8>>),
        )
        .filter(conversation::Column::NumberSealed.is_not_null())
        .filter(whose.rows(conversation::Column::CallerKey))
        .exec(txn.conn())
        .await?;
    txn.update_many::<job_outbox::Entity>()
        .col_expr(
            job_outbox::Column::SealedNumber,
            Expr::value(None::<Vec<u8>>),
        )
        .filter(job_outbox::Column::SealedNumber.is_not_null())
        .filter(whose.jobs())
        .exec(txn.conn())
        .await?;
    Ok(())
}
