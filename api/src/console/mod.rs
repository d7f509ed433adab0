//! The GraphQL console on `GET /graphql`: a small page for trying operations with the browser's
//! session, whose script and style are served from here, so it runs under the same
//! Content-Security-Policy as the dashboard and loads nothing from another origin. A deployment
//! can turn it off (`RINGBACK_GRAPHQL_CONSOLE=off`).

use poem::http::StatusCode;
use poem::web::{Data, Html};
use poem::{IntoResponse, Response, handler};

use crate::state::AppState;

const PAGE: &str = include_str!("console.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

/// The console page, or 404 where it is turned off.
#[handler]
pub fn page(Data(state): Data<&AppState>) -> Response {
    if state.config.graphql_console {
        Html(PAGE).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            "The GraphQL console is turned off on this server; POST operations to /graphql.",
        )
            .into_response()
    }
}

/// The console's script.
#[handler]
pub fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// The console's style sheet.
#[handler]
pub fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    Response::builder().content_type(content_type).body(body)
}
