//! `provider_numbers`: a clinic's own provider numbers, sealed, found by routing key; one the
//! clinic stopped using stays a while, held back from other clinics.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_numbers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinic_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub routing_key: String,
    pub number_sealed: Vec<u8>,
    pub tail: String,
    /// Twilio's id of the number, when it was bought or pointed through Ringback.
    pub provider_sid: Option<String>,
    pub created_at: DateTimeUtc,
    /// Whether Ringback bought it for the clinic (released at Twilio when the clinic is deleted).
    pub bought_here: bool,
    /// When the clinic stopped using it: held back for the clinic (no other clinic may take it;
    /// of what reaches it only a STOP, START or HELP is kept) until the retention purge frees it.
    pub stopped_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
