//! Creates `sign_up_requests`: a sign-up waiting for its address to be confirmed (deployments that
//! send mail). It holds what the sign-up form gave (the password only as its hash) and the hash of
//! the token the confirmation link carries; it expires after a day and is deleted when confirmed.
//! There is no clinic yet, so it is not a tenant table.

use crate::columns::drop_table;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("sign_up_requests")
                    .col(uuid("id").primary_key())
                    .col(string_len("token_hash", 64).unique_key())
                    .col(string_len("email", 254))
                    .col(string_len("password_hash", 255))
                    .col(json("details"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sign_up_requests_expires_at")
                    .table("sign_up_requests")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "sign_up_requests").await
    }
}
