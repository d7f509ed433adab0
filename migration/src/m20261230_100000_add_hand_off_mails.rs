//! `memberships.mail_hand_offs`: whether the member is e-mailed when the AI receptionist hands a
//! caller to them (`jobs::HandOffMail`). On for every member, those from before included: a
//! hand-off is a caller waiting for a person, and a sole trader is rarely in the dashboard.

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
            "memberships",
            vec![boolean("mail_hand_offs").default(true).take()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "memberships", &["mail_hand_offs"]).await
    }
}
