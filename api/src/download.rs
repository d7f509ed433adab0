//! Downloads, streamed. `GET /export/clinic.jsonl` is the clinic's whole data for its owner (JSON
//! lines, see `clinic_export`), audited before the first line leaves and when the last has gone. CSV downloads:
//! `GET /export/{calls,appointments,metrics}.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`,
//! for the same callers as the GraphQL export (admins and owners, by their session cookie; an API
//! key is recognised but refused, as it is for `exportCsv`), as a streamed `text/csv` attachment. The export is read page by page (each page its own short
//! transaction) while the answer is written, so memory stays constant however long the period;
//! an audit entry is written before the first page leaves (a download stopped part-way is on
//! record) and one with the row count when the last page has gone.

use chrono::NaiveDate;
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{Body, IntoResponse, Request, Response, handler};
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;
use ringback_domain::auth::{Caller, Principal};
use ringback_domain::service::clinic_export::{self, ExportCursor};
use ringback_domain::service::export::{self, ExportKind, ExportPlan};
use ringback_shared::access::Permission;
use serde::Deserialize;
use std::sync::Arc;

use crate::auth::request::authenticate_download;
use crate::error::{DomainError, http_status};
use crate::state::AppState;

/// The period asked for (CSV downloads only).
#[derive(Deserialize)]
pub struct Period {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

/// The file name of the clinic's whole data.
pub const CLINIC_FILE: &str = "clinic.jsonl";

/// The download of export `file` (`calls.csv`, … for `period`, or the clinic's whole data).
#[handler]
pub async fn download(
    Data(state): Data<&AppState>,
    Path(file): Path<String>,
    Query(period): Query<Period>,
    request: &Request,
) -> Response {
    match start(state, &file, period, request).await {
        Ok(response) => response,
        Err(error @ DomainError::RateLimited(_)) => crate::http::limited_or_refused(&error),
        Err(error) => (http_status(&error), error.to_string()).into_response(),
    }
}

async fn start(
    state: &AppState,
    file: &str,
    period: Period,
    request: &Request,
) -> Result<Response, DomainError> {
    let caller = authenticate_download(&state.backend, request.headers())?;
    let principal = caller.principal().await?.clone();
    if file == CLINIC_FILE {
        principal.require(Permission::ExportClinicData)?;
        let txn = principal.scope.begin().await?;
        let filename =
            clinic_export::record_start(&txn, principal.actor(), state.backend.clock.now()).await?;
        txn.commit().await?;
        let body = Body::from_bytes_stream(clinic_pages(caller, state.backend.secrets.clone()));
        return Ok(attachment("application/x-ndjson", &filename, body));
    }
    let kind = file
        .strip_suffix(".csv")
        .and_then(ExportKind::parse)
        .ok_or(DomainError::NotFound)?;
    let (Some(from), Some(to)) = (period.from, period.to) else {
        return Err(DomainError::BadUserInput(
            "give the period as ?from=YYYY-MM-DD&to=YYYY-MM-DD".to_owned(),
        ));
    };
    let scope = principal.require(Permission::ManageSettings)?.clone();
    let txn = scope.begin().await?;
    let plan = export::plan(&txn, kind, from, to).await?;
    export::record_start(&txn, principal.actor(), &plan).await?;
    txn.commit().await?;
    let filename = plan.filename();
    let body = Body::from_bytes_stream(csv_pages(caller, plan));
    Ok(attachment("text/csv; charset=utf-8", &filename, body))
}

/// A streamed download named `filename`.
fn attachment(content_type: &str, filename: &str, body: Body) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type(content_type)
        .header(
            "content-disposition",
            format!("attachment; filename=\"{filename}\""),
        )
        .header("cache-control", "no-store")
        .body(body)
}

/// Where a paged download is: its first bytes, at a page, or done.
enum Step<C> {
    Start(Vec<u8>, C),
    Page(C),
    Done,
}

/// A download's bytes: `start`, then each page `next` reads (its bytes, and where the next page
/// starts) until there is none. A page that fails ends the download with an error, logged.
fn paged<C, Next, Fut>(
    start: Vec<u8>,
    first: C,
    next: Next,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static
where
    C: Send + 'static,
    Next: Fn(C) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(Vec<u8>, Option<C>), DomainError>> + Send,
{
    futures::stream::unfold(
        (Step::Start(start, first), next),
        |(step, next)| async move {
            match step {
                Step::Start(bytes, first) => Some((Ok(bytes), (Step::Page(first), next))),
                Step::Page(cursor) => match next(cursor).await {
                    Ok((bytes, after)) => {
                        let step = after.map_or(Step::Done, Step::Page);
                        Some((Ok(bytes), (step, next)))
                    }
                    Err(error) => {
                        tracing::error!(%error, "a download stopped part-way");
                        let failed = std::io::Error::other("the export could not be completed");
                        Some((Err(failed), (Step::Done, next)))
                    }
                },
                Step::Done => None,
            }
        },
    )
}

/// The transaction for a download's next page, the caller's membership checked again in it and
/// its role still allowing `permission`: a member removed, demoted or signed out while a long
/// download runs gets no further page.
async fn next_page_as(
    caller: &Caller,
    permission: Permission,
) -> Result<(TenantTxn, Principal), DomainError> {
    let (txn, principal) = caller.begin_checked_again().await?;
    principal.require(permission)?;
    Ok((txn, principal))
}

/// The CSV export's bytes: the byte-order mark and the header line, then each page as it is read; the audit entry is
/// written with the last page.
fn csv_pages(
    caller: Caller,
    plan: ExportPlan,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let header = plan.file_start().into_bytes();
    paged(header, (None, 0), move |(after, rows)| {
        let (caller, plan) = (caller.clone(), plan.clone());
        async move {
            let (txn, principal) = next_page_as(&caller, Permission::ManageSettings).await?;
            let page = export::page(&txn, &plan, after).await?;
            let rows = rows + page.rows;
            if page.next.is_none() {
                export::record(&txn, principal.actor(), &plan, rows).await?;
            }
            txn.commit().await?;
            let next = page.next.map(|cursor| (Some(cursor), rows));
            Ok((page.lines.into_bytes(), next))
        }
    })
}

/// The clinic's whole data as JSON lines, a page at a time; audited with the last page.
fn clinic_pages(
    caller: Caller,
    secrets: Arc<Secrets>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    paged(
        Vec::new(),
        (ExportCursor::default(), 0),
        move |(cursor, rows)| {
            let (caller, secrets) = (caller.clone(), secrets.clone());
            async move {
                let (txn, principal) = next_page_as(&caller, Permission::ExportClinicData).await?;
                let page = clinic_export::next_page(&txn, &secrets, cursor).await?;
                let rows = rows + page.rows;
                if page.next.is_none() {
                    clinic_export::record(&txn, principal.actor(), rows).await?;
                }
                txn.commit().await?;
                let next = page.next.map(|cursor| (cursor, rows));
                Ok((page.lines.into_bytes(), next))
            }
        },
    )
}
