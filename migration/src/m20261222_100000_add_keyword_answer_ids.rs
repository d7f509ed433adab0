//! `messages.answer_provider_id`: Twilio's id of the automated answer to a STOP, START or HELP
//! text. The answer is sent from the webhook's TwiML, so its id arrives later, in the answer's
//! status report; kept beside the keyword it answers, it is deleted at Twilio with that text
//! (retention, strict privacy, an erasure, the clinic's deletion). Rows from before hold none.

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
            "messages",
            vec![string_len_null("answer_provider_id", 64).take()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "messages", &["answer_provider_id"]).await
    }
}
