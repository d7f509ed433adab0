//! Creates `password_resets`: a one-time link to choose a new password, asked for by an address
//! (by mail) or issued by the operator (`ringback reset-link`). It holds the hash of the link's
//! token, the address asked for (so that one address gets only a few mails an hour) and the
//! account it resets — none when the address has no account, so that asking costs the same
//! either way. It expires after an hour and goes when used, when its account goes, or with the
//! daily purge. There is no clinic (an account may belong to several), so it is not a tenant
//! table.

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
                    .table("password_resets")
                    .col(uuid("id").primary_key())
                    .col(string_len("token_hash", 64).unique_key())
                    .col(string_len("email", 254))
                    .col(uuid_null("user_id"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_password_resets_user")
                            .from("password_resets", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("idx_password_resets_email", &["email", "created_at"][..]),
            ("idx_password_resets_user", &["user_id"][..]),
            ("idx_password_resets_expires_at", &["expires_at"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table("password_resets");
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "password_resets").await
    }
}
