//! A caller's data-protection request in the browser, against the real binary: the demo clinic's
//! owner takes a caller waiting on the worklist, looks them up on the Privacy page by the number
//! they would give, downloads the JSON copy (no number in it), erases them after confirming, and
//! the worklist and the look-up by number no longer show that caller.

use ringback_e2e::browser::Browser;
use ringback_e2e::pages::{PrivacyPage, WorklistPage, sign_in};
use ringback_e2e::server::{DEMO_OWNER, RingbackServer};
use ringback_e2e::{E2eError, on_demo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_looks_up_exports_and_erases_a_demo_caller() {
    on_demo(
        "an_admin_looks_up_exports_and_erases_a_demo_caller",
        look_up_export_and_erase,
    )
    .await;
}

async fn look_up_export_and_erase(
    browser: &Browser,
    server: &RingbackServer,
) -> Result<(), E2eError> {
    let client = &browser.client;
    sign_in(client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let worklist = WorklistPage::open(client).await?;
    let key = worklist
        .caller_keys()
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| E2eError::Assertion("the demo worklist is empty".to_owned()))?;
    // Demo callers have fiction numbers 07700 900xxx: the tail gives the whole number.
    let tail = worklist.tail_of(&key).await?;
    let digits: String = tail.chars().filter(char::is_ascii_digit).collect();
    let number = format!("07700 900{digits}");
    if worklist.find_caller(&number).await? != key {
        return Err(E2eError::Assertion(format!("{number} is not {tail}")));
    }

    let privacy = PrivacyPage::open(client).await?;
    let calls = privacy.look_up(&number).await?;
    if calls == 0 {
        return Err(E2eError::Assertion(format!("no calls held for {tail}")));
    }
    let (content_type, document) = privacy.export().await?;
    if !content_type.starts_with("application/json") || !document.contains("\"calls\"") {
        return Err(E2eError::Assertion(format!(
            "the copy is {content_type}: {document:.120}"
        )));
    }
    if document.contains(&format!("7700900{digits}")) || document.contains("v1:") {
        return Err(E2eError::Assertion(
            "the copy holds a number or a key".to_owned(),
        ));
    }
    let answer = privacy.erase().await?;
    if !answer.contains("linked to nobody") {
        return Err(E2eError::Assertion(format!("the erasure said {answer:?}")));
    }

    let worklist = WorklistPage::open(client).await?;
    if worklist.caller_keys().await?.contains(&key) {
        return Err(E2eError::Assertion(
            "the erased caller is still on the worklist".to_owned(),
        ));
    }
    let nothing = worklist.find_nobody(&number).await?;
    if !nothing.contains("Nothing is held") {
        return Err(E2eError::Assertion(format!("the look-up said {nothing:?}")));
    }
    Ok(())
}
