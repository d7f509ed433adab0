//! `worklist_dismissals`: callers staff took off the worklist, with the reason; undoing one
//! stamps `undone_at`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "worklist_dismissals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinic_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub caller_key: String,
    pub caller_tail: String,
    pub reason: String,
    pub dismissed_by: Option<Uuid>,
    pub dismissed_at: DateTimeUtc,
    pub undone_by: Option<Uuid>,
    pub undone_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
