//! Gives each refresh token the `session_version` of its user when it was issued: a refresh
//! checks it against the user's, so moving the version on (a password changed or reset, signing
//! out everywhere) ends every refresh token of the user in every clinic in that one update, even
//! where revoking them clinic by clinic did not get through. Tokens issued before carry none and
//! are not checked (they end at their expiry or revocation as before).

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "refresh_tokens",
            vec![integer_null("session_version")],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "refresh_tokens", &["session_version"]).await
    }
}
