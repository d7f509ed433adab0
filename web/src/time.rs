//! Instants shown in the clinic's time zone, formatted by the browser's own database (`Intl`), so
//! the dashboard ships no time-zone data.

use wasm_bindgen::JsValue;

/// `iso` (RFC 3339) as a short local date and time in `time_zone`, e.g. "22 Nov 2026, 09:12".
pub fn local_time(iso: &str, time_zone: &str) -> String {
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

/// The IANA time zones the browser knows (`Intl.supportedValuesOf("timeZone")`), to suggest in
/// the settings; empty in a browser without that list (the field still takes any name, and the
/// server checks it).
pub fn known_time_zones() -> Vec<String> {
    use js_sys::{Array, Function, Reflect};
    use wasm_bindgen::JsCast;
    let Ok(intl) = Reflect::get(&js_sys::global(), &"Intl".into()) else {
        return Vec::new();
    };
    let listed = Reflect::get(&intl, &"supportedValuesOf".into())
        .ok()
        .and_then(|list| list.dyn_into::<Function>().ok())
        .and_then(|list| list.call1(&intl, &"timeZone".into()).ok());
    listed
        .and_then(|zones| zones.dyn_into::<Array>().ok())
        .map(|zones| zones.iter().filter_map(|zone| zone.as_string()).collect())
        .unwrap_or_default()
}

/// The browser's clock, as an instant.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}
