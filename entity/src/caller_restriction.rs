//! `caller_restrictions`: callers who asked a clinic to restrict the processing of their data.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "caller_restrictions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinic_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub caller_key: String,
    pub created_at: DateTimeUtc,
    /// Whether the caller key is still the one of the pepper before the last rotation (the row
    /// moves to the current pepper when its caller is met again).
    pub under_previous_pepper: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
