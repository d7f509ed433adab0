//! Exports over GraphQL. CSV (admins): calls, appointments or daily metrics for a period, each
//! recorded in the audit log. The clinic's whole data (owners): `exportClinicData` says where to
//! download it (streamed JSON lines, audited when complete) and how many rows each part holds, so
//! the dashboard can show progress.

use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::NaiveDate;
use ringback_shared::access::Permission;

use crate::guard::{Access, with_tenant};
use ringback_domain::service::clinic_export;
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

/// One part of the clinic's data.
#[derive(SimpleObject)]
pub struct ExportTable {
    /// The `table` each of its lines carries.
    pub name: String,
    pub rows: i64,
}

/// Where to download the clinic's whole data, and how much there is.
#[derive(SimpleObject)]
pub struct ClinicDataExport {
    /// The download (same origin, by the session cookie): one JSON document per line.
    pub url: String,
    pub total_rows: i64,
    pub tables: Vec<ExportTable>,
}

#[derive(Default)]
pub struct ExportQuery;

#[Object]
impl ExportQuery {
    /// The clinic's whole data (owners): settings, team, calls, appointments, attributions,
    /// conversations and messages (opened), lists, audit log and daily figures; never a number.
    async fn export_clinic_data(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<ClinicDataExport> {
        let counts = with_tenant(
            ctx,
            Access::Read(Permission::ExportClinicData),
            async |txn, _| clinic_export::plan(txn).await,
        )
        .await?;
        let rows = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Ok(ClinicDataExport {
            url: "/export/clinic.jsonl".to_owned(),
            total_rows: rows(counts.iter().map(|(_, n)| n).sum()),
            tables: counts
                .into_iter()
                .map(|(section, n)| ExportTable {
                    name: section.name().to_owned(),
                    rows: rows(n),
                })
                .collect(),
        })
    }

    /// `what` for clinic days `from` to `to` (inclusive), as CSV; no phone number is ever in it.
    /// Up to 5,000 rows: a longer export is refused (`BAD_USER_INPUT`) with the address of its
    /// streamed download (`/export/calls.csv?from=…&to=…`).
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
            async |txn, principal| {
                let most = export::MAX_PAGES_IN_ONE_ANSWER;
                export::export(txn, principal.actor(), kind, (from, to), most).await
            },
        )
        .await?;
        Ok(CsvExport {
            filename: csv.filename,
            content: csv.content,
            rows: i32::try_from(csv.rows).unwrap_or(i32::MAX),
        })
    }
}
