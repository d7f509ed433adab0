//! Checks for small screens and assistive technology, run in the browser on a page as rendered
//! (`audit.js`): nothing wider than the window, every control, button, link and chart named, one
//! main heading, the document's language, no forced tab order, and WCAG AA text contrast. Plus the
//! keyboard's first stop: the "skip to content" link, with a visible focus ring.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

use crate::E2eError;

/// The checks, as a script returning a list of problems.
const AUDIT: &str = include_str!("audit.js");

/// How long a page may take to settle.
const SETTLE: Duration = Duration::from_secs(20);

/// What is wrong with the page as shown now, one sentence each.
pub async fn problems(client: &Client) -> Result<Vec<String>, E2eError> {
    let found = client.execute(AUDIT, vec![]).await?;
    serde_json::from_value(found).map_err(|e| E2eError::WebDriver(e.to_string()))
}

/// Waits until the page has its heading and nothing on it is still loading.
pub async fn wait_until_settled(client: &Client) -> Result<(), E2eError> {
    let deadline = Instant::now() + SETTLE;
    let settled = "return document.querySelector('main h1') !== null \
                   && document.querySelector('[aria-busy=true]') === null;";
    while client.execute(settled, vec![]).await? != serde_json::Value::Bool(true) {
        if Instant::now() > deadline {
            let url = client.current_url().await?;
            return Err(E2eError::Assertion(format!("{url} never finished loading")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Whether the browser tab is titled after the page's heading ("Worklist · Ringback"), as a
/// screen reader reads it out on arrival; what is wrong if not (looked at for two seconds).
pub async fn title_names_the_page(client: &Client) -> Result<Option<String>, E2eError> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let read = "const h1 = document.querySelector('main h1'); \
                return [document.title, h1 ? h1.textContent.trim() + ' · Ringback' : 'Ringback'];";
    loop {
        let answer = client.execute(read, vec![]).await?;
        let [title, expected] = serde_json::from_value::<[String; 2]>(answer)
            .map_err(|e| E2eError::WebDriver(e.to_string()))?;
        if title == expected {
            return Ok(None);
        }
        if Instant::now() > deadline {
            return Ok(Some(format!(
                "the tab is titled {title:?}, not {expected:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Presses Tab once on a freshly loaded page: the focus must land on the skip link and show.
pub async fn first_tab_stop_is_the_skip_link(client: &Client) -> Result<(), E2eError> {
    client
        .find(Locator::Css("body"))
        .await?
        .send_keys("\u{E004}")
        .await?;
    let focused = client
        .execute(
            "const el = document.activeElement; const style = getComputedStyle(el); \
             return [el.className, style.outlineStyle, style.outlineWidth];",
            vec![],
        )
        .await?;
    let [class, outline, outline_width] = serde_json::from_value::<[String; 3]>(focused)
        .map_err(|e| E2eError::WebDriver(e.to_string()))?;
    if class != "skip" || outline == "none" || outline_width == "0px" {
        return Err(E2eError::Assertion(format!(
            "the first Tab reached class {class:?} with outline {outline} {outline_width}"
        )));
    }
    Ok(())
}
