//! The notice of texts not sent, for admins on the overview: how many, linking to their page.

use leptos::prelude::*;
use leptos_router::components::A;
use ringback_shared::display;

use crate::api::{self, dead_letters};

/// For admins on the overview: how many texts were not sent, linking to them; nothing when none.
#[component]
pub fn UndeliveredNotice() -> impl IntoView {
    let data = LocalResource::new(|| api::run::<api::DeadLetters>(dead_letters::Variables));
    move || {
        data.get()
            .and_then(Result::ok)
            .filter(|data| !data.dead_letters.is_empty())
            .map(|data| {
                let texts = display::count(data.dead_letters.len() as i64, "text", "texts");
                view! {
                    <p class="notice" role="status" data-testid="undelivered-notice">
                        <A href="/settings/undelivered">
                            {format!("{texts} could not be sent: review")}
                        </A>
                    </p>
                }
            })
    }
}
