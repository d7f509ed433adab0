//! The AI receptionist's figures for the overview: conversations it answered, appointments it
//! booked and the revenue attribution credited to them as recovered, hand-offs to staff and the
//! model tokens used, over clinic-local days. Each figure is one aggregate the database computes
//! over an index on `(clinic_id, created_at)`, so a busy clinic's year costs four index range
//! reads, not a read of every step.

use chrono::{DateTime, NaiveDate, Utc};
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;
use ringback_entity::{ai_step, appointment, attribution};
use ringback_shared::metrics::local_day_bounds_utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, PaginatorTrait, QueryFilter, QuerySelect};

use crate::service::ai_agent;
use crate::service::ai_follow_ups::FOLLOW_UP;
use crate::service::ai_tools::AI_SOURCE;
use crate::service::clinic;

/// The AI receptionist's figures for a range of days.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AiFigures {
    /// Conversations the AI answered at least once.
    pub conversations: u64,
    /// Appointments the AI booked (not cancelled).
    pub bookings: u64,
    /// Those of them attribution counts as recovered, and their value.
    pub recovered_bookings: u64,
    pub recovered_revenue_minor: i64,
    /// Conversations handed to staff (by the model's hand-off or a fallback).
    pub hand_offs: u64,
    /// Follow-ups sent.
    pub follow_ups: u64,
    /// Model tokens used.
    pub tokens: i64,
}

/// The figures for clinic-local days `from..=to`.
pub async fn figures(
    txn: &TenantTxn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<AiFigures, DomainError> {
    let settings = clinic::get(txn).await?;
    let zone = crate::service::clinic::time_zone(&settings)?;
    let start = local_day_bounds_utc(from, zone)
        .map_err(|e| DomainError::BadUserInput(e.to_string()))?
        .start;
    let end = local_day_bounds_utc(to, zone)
        .map_err(|e| DomainError::BadUserInput(e.to_string()))?
        .end;
    figures_between(txn, start, end).await
}

async fn figures_between(
    txn: &TenantTxn,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<AiFigures, DomainError> {
    let steps = || {
        txn.find::<ai_step::Entity>()
            .filter(ai_step::Column::CreatedAt.gte(start))
            .filter(ai_step::Column::CreatedAt.lt(end))
    };
    let conversations: Option<i64> = steps()
        .filter(ai_step::Column::Action.eq(ai_agent::REPLY))
        .select_only()
        .column_as(
            Expr::cust("COUNT(DISTINCT conversation_id)"),
            "conversations",
        )
        .into_tuple()
        .one(txn.conn())
        .await?;
    let hand_offs = steps()
        .filter(
            Condition::any()
                .add(ai_step::Column::Action.eq(ai_agent::FALLBACK))
                .add(
                    Condition::all()
                        .add(ai_step::Column::Action.eq("hand_off"))
                        .add(ai_step::Column::Outcome.eq(ai_agent::DONE)),
                ),
        )
        .select_only()
        .column_as(Expr::cust("COUNT(DISTINCT conversation_id)"), "hand_offs")
        .into_tuple::<i64>()
        .one(txn.conn())
        .await?
        .unwrap_or(0);
    let follow_ups = steps()
        .filter(ai_step::Column::Action.eq(FOLLOW_UP))
        .count(txn.conn())
        .await?;
    let tokens: Option<Option<i64>> = steps()
        .select_only()
        .column_as(Expr::cust("CAST(SUM(tokens) AS BIGINT)"), "tokens")
        .into_tuple()
        .one(txn.conn())
        .await?;
    let booked = || {
        Query::select()
            .column(appointment::Column::Id)
            .from(appointment::Entity)
            .and_where(appointment::Column::ClinicId.eq(txn.clinic_id()))
            .and_where(appointment::Column::Source.eq(AI_SOURCE))
            .and_where(appointment::Column::CreatedAt.gte(start))
            .and_where(appointment::Column::CreatedAt.lt(end))
            .and_where(appointment::Column::CancelledAt.is_null())
            .to_owned()
    };
    let bookings = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::Source.eq(AI_SOURCE))
        .filter(appointment::Column::CreatedAt.gte(start))
        .filter(appointment::Column::CreatedAt.lt(end))
        .filter(appointment::Column::CancelledAt.is_null())
        .count(txn.conn())
        .await?;
    let recovered: Option<(i64, Option<i64>)> = txn
        .find::<attribution::Entity>()
        .filter(attribution::Column::Outcome.eq("recovered"))
        .filter(attribution::Column::AppointmentId.in_subquery(booked()))
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "recovered")
        .column_as(Expr::cust("CAST(SUM(value_minor) AS BIGINT)"), "revenue")
        .into_tuple()
        .one(txn.conn())
        .await?;
    let (recovered_bookings, revenue) = recovered.unwrap_or((0, None));
    Ok(AiFigures {
        conversations: conversations.unwrap_or(0).max(0) as u64,
        bookings,
        recovered_bookings: recovered_bookings.max(0) as u64,
        recovered_revenue_minor: revenue.unwrap_or(0),
        hand_offs: hand_offs.max(0) as u64,
        follow_ups,
        tokens: tokens.flatten().unwrap_or(0),
    })
}
