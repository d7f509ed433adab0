//! The privacy and cookie notice.

use leptos::prelude::*;

#[component]
pub fn Privacy() -> impl IntoView {
    view! {
        <h1>"Privacy and cookies"</h1>
        <h2>"Cookies"</h2>
        <p>
            "This dashboard sets only the cookies that keep you signed in: a short-lived session cookie and "
            "the refresh cookie that renews it (both HttpOnly and Secure, sent to this site only). They are "
            "strictly necessary, so no consent banner is needed; nothing else is stored in your browser and "
            "no analytics or advertising cookies are used. If that ever changes, we will ask first."
        </p>
        <h2>"Callers' phone numbers"</h2>
        <p>
            "Ringback never stores a caller's number in clear. It keeps a keyed hash (the caller key) and the "
            "last digits for staff to recognise; a number needed to text someone back is kept encrypted with "
            "your clinic's own key, only as long as your privacy mode allows."
        </p>
    }
}
