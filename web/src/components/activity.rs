//! Lists that stay current: while someone is signed in, the clinic's latest activity (its newest
//! call, its latest text, its newest dismissal and booking: nothing about anyone) is read every [`POLL`] while the page is in view,
//! and the worklist, the inbox list, the unread count and the overview's figures reload when it
//! changes (an open conversation does not: reading it marks it read for the team; it reads only
//! when it last had a text, and offers newer texts to whoever looks at it). They reload
//! too when the clinic's day turns, so a dashboard left open overnight shows the new day's
//! "today", "this week" and "yesterday".
//! The signals live as long as the app, so a poll that ends after its page is gone touches nothing
//! disposed.

use std::time::Duration;

use chrono::NaiveDate;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, latest_activity};
use crate::components::repeat_while;
use crate::time::use_clinic_time;

/// How often the latest activity is read.
const POLL: Duration = Duration::from_secs(10);

/// The clinic's latest activity as pages follow it.
#[derive(Clone, Copy)]
pub struct Activity {
    /// Bumped each time the activity changes.
    changes: RwSignal<u32>,
    /// The activity last read, as one mark (`None` before the first read).
    mark: RwSignal<Option<String>>,
    /// The clinic's day when last looked at.
    day: RwSignal<Option<NaiveDate>>,
}

impl Activity {
    /// Makes the calling resource or view reload when something new happens.
    pub fn track(self) {
        self.changes.track();
    }

    /// Takes in an activity just read: a change from the last one tells the pages.
    fn observe(self, mark: String) {
        if changed(self.mark, mark) {
            self.tell_pages();
        }
    }

    /// Takes in the clinic's day: a new day tells the pages, whose periods and groups end today.
    fn observe_day(self, today: NaiveDate) {
        if changed(self.day, today) {
            self.tell_pages();
        }
    }

    fn tell_pages(self) {
        self.changes.update(|n| *n = n.wrapping_add(1));
    }
}

/// Keeps `seen` in `last`: whether it differs from a value seen before (the first is no change).
fn changed<T: PartialEq + Send + Sync + 'static>(last: RwSignal<Option<T>>, seen: T) -> bool {
    let differs = last.with_untracked(|last| last.as_ref().map(|last| *last != seen));
    if differs != Some(false) {
        last.set(Some(seen));
    }
    differs == Some(true)
}

/// Makes the activity available to every page (once, at the root).
pub fn provide_activity() {
    provide_context(Activity {
        changes: RwSignal::new(0),
        mark: RwSignal::new(None),
        day: RwSignal::new(None),
    });
}

/// The clinic's latest activity, for a page to track.
pub fn use_activity() -> Activity {
    expect_context::<Activity>()
}

/// Reads the latest activity at once (what the pages about to load will show) and then every
/// [`POLL`] while mounted (in the signed-in header), skipping reads while the browser tab is
/// hidden; looks at the clinic's day as often.
#[component]
pub fn ActivityWatch() -> impl IntoView {
    let activity = use_activity();
    let clock = use_clinic_time();
    activity.observe_day(clock.today());
    read_activity(activity);
    repeat_while(POLL, move || {
        activity.observe_day(clock.today());
        if !document().hidden() {
            read_activity(activity);
        }
        true
    });
}

/// Reads the latest activity and tells `activity`.
fn read_activity(activity: Activity) {
    spawn_local(async move {
        let read = api::run::<api::LatestActivity>(latest_activity::Variables).await;
        if let Ok(data) = read {
            let latest = data.activity;
            activity.observe(format!(
                "{:?}/{:?}/{:?}/{:?}",
                latest.latest_call_id,
                latest.latest_message_at,
                latest.latest_dismissal_id,
                latest.latest_appointment_id
            ));
        }
    });
}
