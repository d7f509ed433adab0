//! CSV downloads: `GET /export/{calls,appointments,metrics}.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`,
//! for the same callers as the GraphQL export (admins and owners, by their session cookie; an API
//! key is recognised but refused, as it is for `exportCsv`), as a streamed `text/csv` attachment. The export is read page by page (each page its own short
//! transaction) while the answer is written, so memory stays constant however long the period;
//! the audit entry with the row count is written when the last page has gone.

use chrono::NaiveDate;
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{Body, IntoResponse, Request, Response, handler};
use ringback_domain::auth::Principal;
use ringback_domain::service::export::{self, Cursor, ExportKind, ExportPlan};
use ringback_shared::access::Permission;
use serde::Deserialize;

use crate::auth::request::authenticate_download;
use crate::error::{DomainError, http_status};
use crate::state::AppState;

/// The period asked for.
#[derive(Deserialize)]
pub struct Period {
    from: NaiveDate,
    to: NaiveDate,
}

/// The download of export `file` (`calls.csv`, …) for `period`.
#[handler]
pub async fn download(
    Data(state): Data<&AppState>,
    Path(file): Path<String>,
    Query(period): Query<Period>,
    request: &Request,
) -> Response {
    match start(state, &file, period, request).await {
        Ok(response) => response,
        Err(error) => (http_status(&error), error.to_string()).into_response(),
    }
}

async fn start(
    state: &AppState,
    file: &str,
    period: Period,
    request: &Request,
) -> Result<Response, DomainError> {
    let kind = file
        .strip_suffix(".csv")
        .and_then(ExportKind::parse)
        .ok_or(DomainError::NotFound)?;
    let principal = authenticate_download(&state.backend, request.headers())
        .await?
        .0
        .ok_or(DomainError::Unauthenticated)?;
    let scope = principal.require(Permission::ManageSettings)?.clone();
    let txn = scope.begin().await?;
    let plan = export::plan(&txn, kind, period.from, period.to).await?;
    txn.commit().await?;
    let disposition = format!("attachment; filename=\"{}\"", plan.filename());
    let body = Body::from_bytes_stream(pages(principal.clone(), plan));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .content_type("text/csv; charset=utf-8")
        .header("content-disposition", disposition)
        .header("cache-control", "no-store")
        .body(body))
}

/// Where the stream is: before the header, at a page, or done.
enum Step {
    Header,
    After(Option<Cursor>),
    Done,
}

/// The export's bytes: the header line, then each page as it is read, then the audit entry.
fn pages(
    principal: Principal,
    plan: ExportPlan,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let state = (principal, plan, Step::Header, 0usize);
    futures::stream::unfold(state, |(principal, plan, step, rows)| async move {
        match step {
            Step::Header => {
                let header = plan.header_line().into_bytes();
                Some((Ok(header), (principal, plan, Step::After(None), rows)))
            }
            Step::After(after) => match next_page(&principal, &plan, after, rows).await {
                Ok((bytes, next, rows)) => {
                    let step = next.map_or(Step::Done, |cursor| Step::After(Some(cursor)));
                    Some((Ok(bytes), (principal, plan, step, rows)))
                }
                Err(error) => {
                    tracing::error!(%error, "an export download stopped part-way");
                    Some((
                        Err(std::io::Error::other("the export could not be completed")),
                        (principal, plan, Step::Done, rows),
                    ))
                }
            },
            Step::Done => None,
        }
    })
}

/// Reads the page after `after` and, after the last page, records the export; returns the page's
/// bytes, where the next starts, and the rows so far.
async fn next_page(
    principal: &Principal,
    plan: &ExportPlan,
    after: Option<Cursor>,
    rows: usize,
) -> Result<(Vec<u8>, Option<Cursor>, usize), DomainError> {
    let txn = principal.scope.begin().await?;
    let page = export::page(&txn, plan, after).await?;
    let rows = rows + page.rows;
    if page.next.is_none() {
        export::record(&txn, principal.actor(), plan, rows).await?;
    }
    txn.commit().await?;
    Ok((page.lines.into_bytes(), page.next, rows))
}
