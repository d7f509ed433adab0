//! The privacy and cookie notice, and the terms of service a clinic accepts at sign-up.

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

/// The terms of service (version [`ringback_shared::terms::VERSION`]), which the sign-up page
/// asks a new owner to accept with the privacy notice.
#[component]
pub fn Terms() -> impl IntoView {
    view! {
        <h1>"Terms of service"</h1>
        <p data-testid="terms-version">{format!("Version {}", ringback_shared::terms::VERSION)}</p>
        <h2>"The service"</h2>
        <p>
            "Ringback texts back the callers your clinic misses, keeps the conversations and bookings "
            "that follow, and shows what that recovered. This deployment is run by its operator; the "
            "software is open source."
        </p>
        <h2>"Your part"</h2>
        <p>
            "You may text only people who called your clinic, about their call, and you answer to them "
            "for what your team writes. You keep your clinic's data and can take all of it away or "
            "delete it from the dashboard at any time; callers' requests about their data are yours to "
            "answer, with the tools the dashboard gives you."
        </p>
        <h2>"Numbers and texts"</h2>
        <p>
            "Numbers are bought from and billed by the telephony provider of this deployment. Some "
            "countries require the business to be registered before texts are delivered; the number "
            "page says which, and texts are not promised until that is done."
        </p>
        <h2>"Changes"</h2>
        <p>
            "When these terms or the privacy notice change, the version above changes and you are asked "
            "to accept the new one."
        </p>
    }
}
