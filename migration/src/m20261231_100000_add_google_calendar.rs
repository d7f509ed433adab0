//! Google Calendar: `clinics.google_calendar_id`, the calendar the clinic shared with the
//! deployment's service account (none: no events are kept), and `appointments.calendar_event_in`,
//! the calendar an appointment's event was last put in (none: it has no event), so that a
//! cancellation removes the event from where it is even after the clinic chose another calendar.

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
            "clinics",
            vec![string_len_null("google_calendar_id", 254).take()],
        )
        .await?;
        add_columns(
            manager,
            "appointments",
            vec![string_len_null("calendar_event_in", 254).take()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "appointments", &["calendar_event_in"]).await?;
        drop_columns(manager, "clinics", &["google_calendar_id"]).await
    }
}
