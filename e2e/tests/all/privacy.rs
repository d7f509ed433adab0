//! A caller's data-protection request in the browser, against the real binary: the demo clinic's
//! owner takes a caller waiting on the worklist, looks them up on the Privacy page by the number
//! they would give, downloads the JSON copy (no number in it), erases them after confirming, and
//! the worklist and the look-up by number no longer show that caller.

use ringback_e2e::browser::Browser;
use ringback_e2e::pages::{AiReceptionistPage, PrivacyPage, WorklistPage, sign_in};
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

/// A settings page left open while another member changes a setting it shows saves only what it
/// changed itself: the AI's budget and the conversation retention changed meanwhile stay as that
/// member set them when the AI page saves a visit's worth and the Privacy page a call retention.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_left_open_saves_only_what_it_changed() {
    on_demo(
        "a_page_left_open_saves_only_what_it_changed",
        saves_only_what_it_changed,
    )
    .await;
}

async fn saves_only_what_it_changed(
    browser: &Browser,
    server: &RingbackServer,
) -> Result<(), E2eError> {
    let client = &browser.client;
    sign_in(client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let colleague = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let read = |query: &str| -> Result<serde_json::Value, E2eError> {
        let (_, answer) = server.graphql_as(Some(&colleague), query, serde_json::json!({}))?;
        match answer["errors"].is_null() {
            true => Ok(answer["data"].clone()),
            false => Err(E2eError::Assertion(format!("{query}: {answer}"))),
        }
    };

    let ai = AiReceptionistPage::open(client).await?;
    read("mutation { updateAiReceptionist(input: { monthlyTokenBudget: 123456 }) { enabled } }")?;
    ai.set_standard_visit_value("75").await?;
    let held = read("{ aiReceptionist { monthlyTokenBudget standardVisitValueMinor } }")?;
    if held["aiReceptionist"]
        != serde_json::json!({ "monthlyTokenBudget": 123456, "standardVisitValueMinor": 7500 })
    {
        return Err(E2eError::Assertion(format!(
            "after the AI page saved: {held}"
        )));
    }

    let privacy = PrivacyPage::open(client).await?;
    let before = read("{ clinic { callRetentionDays conversationRetentionDays } }")?;
    let days = |field: &str| before["clinic"][field].as_i64().unwrap_or_default();
    let (calls, conversations) = (
        days("callRetentionDays") - 1,
        days("conversationRetentionDays") + 2,
    );
    read(&format!(
        "mutation {{ updateClinicSettings(input: {{ conversationRetentionDays: {conversations} }}) {{ id }} }}"
    ))?;
    privacy.save_call_retention(&calls.to_string()).await?;
    let after = read("{ clinic { callRetentionDays conversationRetentionDays } }")?;
    if after["clinic"]
        != serde_json::json!({ "callRetentionDays": calls, "conversationRetentionDays": conversations })
    {
        return Err(E2eError::Assertion(format!(
            "after the Privacy page saved {calls} days of calls: {after}"
        )));
    }
    Ok(())
}
