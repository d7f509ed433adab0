//! Texting limits that bound what a clinic's texts can cost: the countries a clinic texts (none
//! stored: its own region only), a daily limit of texts per clinic (none stored: the default), and
//! on each outbox job the API key that caused it, so texts can be counted per key.

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let clinic_columns = vec![
            string_len_null("sms_countries", 200),
            integer_null("sms_daily_limit"),
        ];
        add_columns(manager, "clinics", clinic_columns).await?;
        add_columns(manager, "job_outbox", vec![uuid_null("api_key_id")]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "job_outbox", &["api_key_id"]).await?;
        drop_columns(manager, "clinics", &["sms_countries", "sms_daily_limit"]).await
    }
}
