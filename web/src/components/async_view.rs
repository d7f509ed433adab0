//! Data loaded from the API, shown the same way on every page: words while it first loads (marked
//! `aria-busy`), the data once it is there (kept on screen while it reloads), or why it failed.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::components::Alert;

/// Shows what `resource` loaded, drawn by `children`; `loading` while it first loads; why it
/// failed, as an alert, when it could not be loaded.
#[component]
pub fn AsyncView<T, Draw, Drawn>(
    resource: LocalResource<Result<T, ApiError>>,
    loading: &'static str,
    children: Draw,
) -> impl IntoView
where
    T: Clone + 'static,
    Draw: Fn(T) -> Drawn + Send + 'static,
    Drawn: IntoView + 'static,
{
    view! {
        <Transition fallback=move || view! { <p aria-busy="true">{loading}</p> }>
            {move || resource.get().map(|loaded| match loaded {
                Ok(data) => children(data).into_any(),
                Err(error) => view! { <Alert message=Some(error.to_string()) /> }.into_any(),
            })}
        </Transition>
    }
}
