//! The clinic's time: pages read its time zone one way, through [`ClinicTime`], to show instants
//! and to know the clinic's today. Both are worked out by the browser's own database (`Intl`), so
//! the dashboard ships no time-zone data.

use chrono::{DateTime, NaiveDate, Utc};
use leptos::prelude::*;
use wasm_bindgen::JsValue;

use crate::session::{Session, use_session};

/// An instant as the API writes it (RFC 3339), or `None` when it is not one.
pub fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// The clinic's clock, as the signed-in member's clinic sets it. Pages sit behind the session
/// guard, so the clinic is known; `Copy`, so views capture it freely.
#[derive(Clone, Copy)]
pub struct ClinicTime {
    session: Session,
}

/// The clinic's clock, for the page being built.
pub fn use_clinic_time() -> ClinicTime {
    ClinicTime {
        session: use_session(),
    }
}

impl ClinicTime {
    /// The clinic's IANA time zone (UTC while nobody is signed in).
    pub fn zone(self) -> String {
        self.session
            .member
            .with_untracked(|member| member.as_ref().map(|m| m.clinic.time_zone.clone()))
            .unwrap_or_else(|| "UTC".to_owned())
    }

    /// `iso` (RFC 3339) as a short date and time in the clinic, e.g. "22 Nov 2026, 09:12".
    pub fn local_time(self, iso: &str) -> String {
        local_time(iso, &self.zone())
    }

    /// `iso` (RFC 3339) in the clinic's time as a date-and-time field holds it, e.g.
    /// "2026-11-22T09:12"; empty when it cannot be read.
    pub fn field_value(self, iso: &str) -> String {
        field_value(iso, &self.zone())
    }

    /// The clinic's today.
    pub fn today(self) -> NaiveDate {
        today(&self.zone())
    }

    /// The clinic's day that instant `iso` (RFC 3339) falls on.
    pub fn day_of(self, iso: &str) -> Option<NaiveDate> {
        let date = js_sys::Date::new(&JsValue::from_str(iso));
        (!date.get_time().is_nan()).then(|| day_in(&self.zone(), &date))?
    }
}

/// `iso` (RFC 3339) as a short local date and time in `time_zone`, e.g. "22 Nov 2026, 09:12".
fn local_time(iso: &str, time_zone: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_str(iso));
    if date.get_time().is_nan() {
        return iso.to_owned();
    }
    let options = js_sys::Object::new();
    for (key, value) in [
        ("timeZone", time_zone),
        ("dateStyle", "medium"),
        ("timeStyle", "short"),
    ] {
        let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
    }
    date.to_locale_string("en-GB", &options).into()
}

/// `iso` (RFC 3339) as `YYYY-MM-DDTHH:MM` in `time_zone`; empty when it cannot be read.
fn field_value(iso: &str, time_zone: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_str(iso));
    if date.get_time().is_nan() {
        return String::new();
    }
    let options = js_sys::Object::new();
    for (key, value) in [
        ("timeZone", time_zone),
        ("year", "numeric"),
        ("month", "2-digit"),
        ("day", "2-digit"),
        ("hour", "2-digit"),
        ("minute", "2-digit"),
        ("hourCycle", "h23"),
    ] {
        let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
    }
    // Swedish writes a date and time as ISO does: 2026-11-22 09:12.
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::of1(&"sv-SE".into()), &options);
    format
        .format()
        .call1(&JsValue::UNDEFINED, &date)
        .ok()
        .and_then(|text| text.as_string())
        .map(|text| text.replacen(' ', "T", 1))
        .unwrap_or_default()
}

/// The day in `time_zone` by the browser's clock.
fn today(time_zone: &str) -> NaiveDate {
    day_in(time_zone, &js_sys::Date::new_0()).unwrap_or_else(|| now().date_naive())
}

/// The day `date` falls on in `time_zone`.
fn day_in(time_zone: &str, date: &js_sys::Date) -> Option<NaiveDate> {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"timeZone".into(), &time_zone.into());
    // Canadian English writes dates as ISO does: 2026-11-22.
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::of1(&"en-CA".into()), &options);
    format
        .format()
        .call1(&JsValue::UNDEFINED, date)
        .ok()
        .and_then(|text| text.as_string())
        .and_then(|text| text.parse().ok())
}

/// The browser's own time zone (`Intl.DateTimeFormat().resolvedOptions().timeZone`), or UTC.
pub fn browser_time_zone() -> String {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into())
        .ok()
        .and_then(|zone| zone.as_string())
        .unwrap_or_else(|| "UTC".to_owned())
}

/// The browser's clock, as an instant.
pub fn now() -> DateTime<chrono::Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}
