//! `daily_metrics`: per clinic-local day counters.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "daily_metrics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinic_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: Date,
    pub inbound_calls: i32,
    pub missed_calls: i32,
    pub text_backs_sent: i32,
    pub replied_text_backs: i32,
    pub callbacks: i32,
    pub median_callback_seconds: Option<i32>,
    pub recovered_appointments: i32,
    pub recovered_revenue_minor: i64,
    pub updated_at: DateTimeUtc,
    pub stale: bool,
    pub callback_delays_seconds: Option<Json>,
    /// Incremented by every write that marks the day stale; a refresh clears `stale` only if it
    /// is unchanged since the refresh read the row.
    pub stale_version: i64,
    pub text_back_delays_seconds: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
