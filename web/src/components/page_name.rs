//! Naming the page for people who cannot see it change: the browser tab takes the page's heading
//! as its title ("Worklist · Ringback"), and after each move to another page a polite live region
//! says which page opened (as screen readers announce a full page load). Focus stays where it
//! was, so the skip link is still the first stop of the keyboard.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// The product's name, after the page's in the title.
const PRODUCT: &str = "Ringback";

/// Names each page in the title and announces it on navigation (inside the router).
#[component]
pub fn PageName() -> impl IntoView {
    let location = use_location();
    let announced = RwSignal::new(String::new());
    let first = StoredValue::new(true);
    Effect::new(move |_| {
        location.pathname.track();
        let moved = !first.get_value();
        first.set_value(false);
        name_when_shown(HEADING_TRIES, move |heading| {
            if moved {
                announced.set(format!(
                    "{} opened",
                    heading.unwrap_or_else(|| PRODUCT.to_owned())
                ));
            }
        });
    });
    view! {
        <p class="visually-hidden" aria-live="polite" data-testid="page-announcer">{announced}</p>
    }
}

/// Times the title waits for a page's heading, a tenth of a second apart (a page loading its data
/// shows its heading once the data came).
const HEADING_TRIES: u32 = 30;

/// Names the page once its heading shows (or after `tries` more looks without one), then tells
/// `named` the heading.
fn name_when_shown(tries: u32, named: impl FnOnce(Option<String>) + 'static) {
    request_animation_frame(move || {
        let heading = name_the_page();
        if heading.is_none() && tries > 0 {
            set_timeout(
                move || name_when_shown(tries - 1, named),
                std::time::Duration::from_millis(100),
            );
        } else {
            named(heading);
        }
    });
}

/// Titles the tab after the page's first heading; that heading, if the page has one.
fn name_the_page() -> Option<String> {
    let document = document();
    let heading = document
        .query_selector("main h1")
        .ok()
        .flatten()
        .and_then(|heading| heading.text_content())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    document.set_title(&match &heading {
        Some(heading) => format!("{heading} · {PRODUCT}"),
        None => PRODUCT.to_owned(),
    });
    heading
}
