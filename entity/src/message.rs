//! `messages`: texts in a conversation; bodies sealed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinic_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub caller_key: String,
    pub direction: String,
    pub kind: String,
    pub body_sealed: Vec<u8>,
    pub provider_message_id: Option<String>,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub call_id: Option<Uuid>,
    /// Why the text was not delivered: the provider's error code (Twilio's `ErrorCode`).
    pub delivery_error: Option<i32>,
    /// For an incoming text: the clinic's number it was sent to (answers go from it).
    pub provider_number_id: Option<Uuid>,
    /// For a STOP, START or HELP text: Twilio's id of the automated answer sent to it.
    pub answer_provider_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
