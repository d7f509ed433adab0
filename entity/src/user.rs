//! `users`: people who sign in to the dashboard.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    /// Carried by every access token; incremented to end them all at once (password change,
    /// signing out everywhere).
    pub session_version: i32,
    /// The version of the terms and privacy notice this person accepted at sign-up, if they
    /// signed up (invited members joined an existing clinic).
    pub terms_version: Option<String>,
    /// When they accepted it.
    pub terms_accepted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
