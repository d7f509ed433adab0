//! Widgets pages share or embed, so that no page imports another: the alert line, the view of
//! loaded data with its loading and error states, the daily chart, the notice of texts not sent
//! and (in support builds) the number check.

mod alert;
mod async_view;
pub mod chart;
#[cfg(feature = "number-check")]
pub mod number_check;
mod undelivered_notice;

pub use alert::{Alert, failure_of};
pub use async_view::AsyncView;
pub use undelivered_notice::UndeliveredNotice;
