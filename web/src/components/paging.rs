//! The buttons under a list shown a page at a time: back to the first page (on a later one) and
//! on to the next (when there is one). The page holds where it starts (`None`: the first page);
//! each button moves that.

use leptos::prelude::*;

/// What a list's paging buttons say.
pub struct PagingWords {
    /// Back to the first page, e.g. "Back to the newest".
    pub first: &'static str,
    /// On to the next page, e.g. "Older entries".
    pub next: &'static str,
    /// The next button's test id.
    pub next_test_id: &'static str,
}

/// The paging buttons of a list that starts at `start`: "back" on a later page, "next" when
/// `next` is where the following page starts.
pub fn paging<Start>(
    start: RwSignal<Option<Start>>,
    next: Option<Start>,
    words: PagingWords,
) -> impl IntoView + use<Start>
where
    Start: Clone + Send + Sync + 'static,
{
    let on_later_page = start.with_untracked(Option::is_some);
    view! {
        <div class="actions">
            {on_later_page.then(|| view! {
                <button type="button" on:click=move |_| start.set(None)>{words.first}</button>
            })}
            {next.map(|from| view! {
                <button type="button" data-testid=words.next_test_id
                    on:click=move |_| start.set(Some(from.clone()))>
                    {words.next}
                </button>
            })}
        </div>
    }
}
