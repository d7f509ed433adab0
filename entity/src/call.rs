//! `calls`: inbound and outbound calls, identified by caller key and masked tail only.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinic_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub provider: String,
    pub external_id: String,
    pub direction: String,
    pub status: String,
    pub missed: bool,
    pub caller_key: String,
    pub caller_tail: String,
    pub line_type: Option<String>,
    pub started_at: DateTimeUtc,
    pub answered_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub text_back_status: Option<String>,
    /// Why the text-back was not delivered: the provider's error code (Twilio's `ErrorCode`).
    pub text_back_error: Option<i32>,
    /// The clinic's number the call came in on (when a provider's webhook said), the one a text-back
    /// and a callback to this caller go from.
    pub provider_number_id: Option<Uuid>,
    /// The caller's number sealed with the clinic's data key, in the `text_back` privacy mode only.
    pub number_sealed: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When a member had Ringback place a callback to this missed call's caller, until its dial
    /// ended: meanwhile another member is told, not connected to the same caller a second time.
    pub callback_placed_at: Option<DateTimeUtc>,
    /// Who placed it.
    pub callback_placed_by: Option<Uuid>,
    /// Whether the provider's answer to the callback marked here never came (it may ring or
    /// not): its placer may try again after a minute. Cleared once its first party answers.
    pub callback_unconfirmed: bool,
    /// Which placement the mark is: its provider webhooks name it in their signed URLs, and only
    /// the current placement's may dial the caller or clear the mark.
    pub callback_placement: Option<Uuid>,
    /// When the caller was dialled for the marked placement (at most once).
    pub callback_dialled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
