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
