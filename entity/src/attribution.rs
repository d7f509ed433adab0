//! `attributions`: the engine's stored verdict for each appointment, with its reason.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "attributions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinic_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub appointment_id: Uuid,
    pub outcome: String,
    pub reason: String,
    pub missed_call_id: Option<Uuid>,
    pub missed_call_at: Option<DateTimeUtc>,
    pub touch_kind: Option<String>,
    pub touch_id: Option<Uuid>,
    pub touch_at: Option<DateTimeUtc>,
    pub value_minor: i64,
    pub window_days: i32,
    pub computed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
