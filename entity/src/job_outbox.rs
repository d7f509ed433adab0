//! `job_outbox`: durable jobs owed by events, claimed by workers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinic_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub idempotency_key: String,
    pub payload: Json,
    pub sealed_number: Option<Vec<u8>>,
    pub status: String,
    pub attempts: i32,
    pub run_at: DateTimeUtc,
    pub claimed_at: Option<DateTimeUtc>,
    pub claimed_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub body_sealed: Option<Vec<u8>>,
    pub in_doubt_since: Option<DateTimeUtc>,
    pub provider_message_id: Option<String>,
    /// The API key whose request queued the job, if any (texts are counted per key).
    pub api_key_id: Option<Uuid>,
    /// For a text: the clinic's number it goes from, chosen at its first attempt and kept.
    pub sender_number_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
