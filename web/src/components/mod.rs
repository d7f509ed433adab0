//! Widgets pages share or embed, so that no page imports another: the daily chart, the notice of
//! texts not sent and (in support builds) the number check.

pub mod chart;
#[cfg(feature = "number-check")]
pub mod number_check;
mod undelivered_notice;

pub use undelivered_notice::UndeliveredNotice;
