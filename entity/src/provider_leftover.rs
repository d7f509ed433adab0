//! `provider_leftovers`: a record at the phone provider (a call or a text in Twilio's logs) that a
//! deleted clinic left behind, waiting to be deleted there. No clinic, no number: the provider's
//! id only.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_leftovers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider: String,
    /// `call`, `message` or `number` (a phone number the clinic bought, to release).
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// The provider's id of the record (Twilio's `CA…`, `SM…`, `PN…`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub sid: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
