//! `ai_steps`: what the AI receptionist did for each caller text it answered, step by step.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "ai_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinic_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// The caller's text this step answered.
    pub answered_message_id: Uuid,
    /// A tool's name, `reply` or `fallback`.
    pub action: String,
    /// What it came to, in plain words (no caller text, no number).
    pub outcome: String,
    /// Model tokens the step used.
    pub tokens: i64,
    /// The appointment a booking made.
    pub appointment_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
