//! CSV exports over GraphQL (admins): calls, appointments or daily metrics for a period. Each
//! export is recorded in the audit log.

use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::NaiveDate;
use ringback_shared::access::Permission;

use crate::guard::{Access, with_tenant};
use ringback_domain::service::export::{self, ExportKind};

/// What to export.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ExportWhat {
    Calls,
    Appointments,
    Metrics,
}

/// A CSV file.
#[derive(SimpleObject)]
pub struct CsvExport {
    pub filename: String,
    /// RFC 4180 CSV with a header line.
    pub content: String,
    pub rows: i32,
}

#[derive(Default)]
pub struct ExportQuery;

#[Object]
impl ExportQuery {
    /// `what` for clinic days `from` to `to` (inclusive), as CSV; no phone number is ever in it.
    async fn export_csv(
        &self,
        ctx: &Context<'_>,
        what: ExportWhat,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<CsvExport> {
        let kind = match what {
            ExportWhat::Calls => ExportKind::Calls,
            ExportWhat::Appointments => ExportKind::Appointments,
            ExportWhat::Metrics => ExportKind::Metrics,
        };
        let csv = with_tenant(
            ctx,
            Access::Read(Permission::ManageSettings),
            async |txn, principal| export::export(txn, principal.actor(), kind, from, to).await,
        )
        .await?;
        Ok(CsvExport {
            filename: csv.filename,
            content: csv.content,
            rows: i32::try_from(csv.rows).unwrap_or(i32::MAX),
        })
    }
}
