//! GraphQL output types shared by several domains, mapped from entities. Nothing here exposes a
//! secret or a raw phone number.

use async_graphql::{Enum, ID, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_entity::{clinic, user};
use ringback_shared::access::Role;

/// A team member's role.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TeamRole {
    Owner,
    Admin,
    Receptionist,
}

impl From<Role> for TeamRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => Self::Owner,
            Role::Admin => Self::Admin,
            Role::Receptionist => Self::Receptionist,
        }
    }
}

impl From<TeamRole> for Role {
    fn from(role: TeamRole) -> Self {
        match role {
            TeamRole::Owner => Self::Owner,
            TeamRole::Admin => Self::Admin,
            TeamRole::Receptionist => Self::Receptionist,
        }
    }
}

/// A person who signs in to the dashboard.
#[derive(SimpleObject, Clone, Debug)]
pub struct User {
    pub id: ID,
    pub email: String,
    pub display_name: String,
}

impl From<&user::Model> for User {
    fn from(model: &user::Model) -> Self {
        Self {
            id: ID(model.id.to_string()),
            email: model.email.clone(),
            display_name: model.display_name.clone(),
        }
    }
}

/// A clinic and its settings.
#[derive(SimpleObject, Clone, Debug)]
pub struct Clinic {
    pub id: ID,
    pub name: String,
    /// dental, trade or other.
    pub kind: String,
    /// IANA time zone; days and months are counted in it.
    pub time_zone: String,
    /// Region assumed for numbers written without a country code (ISO 3166 alpha-2).
    pub default_region: String,
    /// ISO 4217 currency of appointment values.
    pub currency: String,
    /// Days between a missed call and a booking for the booking to count as recovered (1–30).
    pub attribution_window_days: i32,
    /// strict (numbers kept only until the text-back is sent) or text_back (kept sealed for replies).
    pub privacy_mode: String,
    /// Days each message is kept after it was sent, and a conversation after its last message
    /// (30–3650; strict mode keeps them no longer than calls).
    pub conversation_retention_days: i32,
    /// Days calls and everything about them are kept (at most 90, at least the attribution window
    /// and eight days more).
    pub call_retention_days: i32,
    /// When the retention purge last ran for the clinic.
    pub last_purge_at: Option<DateTime<Utc>>,
    /// What is deleted when, in plain words.
    pub retention_in_words: Vec<String>,
}

impl From<&clinic::Model> for Clinic {
    fn from(model: &clinic::Model) -> Self {
        Self {
            id: ID(model.id.to_string()),
            name: model.name.clone(),
            kind: model.kind.clone(),
            time_zone: model.time_zone.clone(),
            default_region: model.default_region.clone(),
            currency: model.currency.clone(),
            attribution_window_days: model.attribution_window_days,
            privacy_mode: model.privacy_mode.clone(),
            conversation_retention_days: model.conversation_retention_days,
            call_retention_days: ringback_domain::service::clinic::retention_of(model).call_days(),
            last_purge_at: model.last_purge_at,
            retention_in_words: ringback_domain::service::clinic::retention_of(model).in_words(),
        }
    }
}
