//! Doing something every little while on a page, for as long as it says to go on, and never after
//! the page is gone (the interval is cleared when the page's view is cleaned up).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use leptos::prelude::*;

/// Runs `go_on` every `period` until it answers `false` or the page is left.
pub fn repeat_while(period: Duration, go_on: impl Fn() -> bool + 'static) {
    let handle: Arc<Mutex<Option<IntervalHandle>>> = Arc::default();
    let stop = {
        let handle = Arc::clone(&handle);
        move || {
            if let Some(handle) = handle.lock().ok().and_then(|mut held| held.take()) {
                handle.clear();
            }
        }
    };
    let tick = {
        let stop = stop.clone();
        move || {
            if !go_on() {
                stop();
            }
        }
    };
    let started = set_interval_with_handle(tick, period);
    if let Ok(mut held) = handle.lock() {
        *held = started.ok();
    }
    on_cleanup(stop);
}
