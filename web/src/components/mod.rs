//! Widgets pages share or embed, so that no page imports another: the alert line, a choice among
//! fixed options, saying what a save changed, repeating a look while a page is open, the view of
//! loaded data with its loading and error states, the daily chart, the notice of texts not sent
//! the "Call back" action and its notice, what the clinic's Google calendar shows busy on a new
//! booking's day, the buttons of a list shown a page at a time, the search for a caller by number, billing's link and
//! banner in the header, taking the clinic's data away and leaving (deleting the clinic or one's
//! account), the setup checklist, naming each page in the title, and (in support builds) the
//! number check.

mod activity;
mod alert;
mod async_view;
mod billing_notice;
mod calendar_busy;
mod call_back;
mod changes;
pub mod chart;
mod choice;
mod find_caller;
mod leaving;
#[cfg(feature = "number-check")]
pub mod number_check;
mod page_name;
mod paging;
mod repeat;
mod setup_checklist;
mod undelivered_notice;

pub use activity::{ActivityWatch, provide_activity, use_activity};
pub use alert::{Alert, failure_of};
pub use async_view::AsyncView;
pub use billing_notice::{BillingLink, BillingNotice, billing_summary};
pub use calendar_busy::{BusyInCalendar, OwnEvent};
pub use call_back::{CallBack, RingingNotice, call_back_action};
pub use changes::{ChangeTracker, PendingSave, changed_words, one_at_a_time};
pub use choice::{choice, zone_choices};
pub use find_caller::FindCaller;
pub use leaving::{ClinicData, DeleteAccount, DeleteClinic};
pub use page_name::PageName;
pub use paging::{PagingWords, paging};
pub use repeat::repeat_while;
pub use setup_checklist::SetupChecklist;
pub use undelivered_notice::UndeliveredNotice;
