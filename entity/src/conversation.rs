//! `conversations`: one SMS thread per caller.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinic_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub caller_key: String,
    pub caller_tail: String,
    pub status: String,
    pub assigned_to: Option<Uuid>,
    pub last_message_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub number_sealed: Option<Vec<u8>>,
    /// Whether the AI receptionist answers: `active`, `handed_off` (it handed the caller to
    /// staff) or `taken_over` (staff took over); `None` before it ever answered.
    pub ai_state: Option<String>,
    /// Why the AI stopped, in plain words (no personal data).
    pub ai_stopped_reason: Option<String>,
    /// The intake details the caller gave, sealed with the clinic's data key.
    pub details_sealed: Option<Vec<u8>>,
    /// When someone in the team last opened the thread; newer messages make it unread.
    pub read_at: Option<DateTimeUtc>,
    /// The caller text whose answer of the AI receptionist is under way here, if any: a caller
    /// text arriving meanwhile is taken into that answer rather than answered on its own.
    pub ai_answering_for: Option<Uuid>,
    /// When that answer began (an answer that never ended stops counting after the answer time
    /// and a minute).
    pub ai_answering_since: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
