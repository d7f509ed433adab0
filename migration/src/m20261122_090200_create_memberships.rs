//! Creates `memberships`: which user belongs to which clinic, with which role.

use crate::columns::{clinic_fk, clinic_id, created_at, drop_table};
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
                    .table("memberships")
                    .col(clinic_id())
                    .col(uuid("user_id"))
                    .col(string_len("role", 16))
                    .col(created_at())
                    .primary_key(Index::create().col("clinic_id").col("user_id"))
                    .foreign_key(&mut clinic_fk("memberships"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_memberships_user")
                            .from("memberships", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "memberships").await
    }
}
