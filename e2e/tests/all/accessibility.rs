//! Every page of the dashboard, on a 375 px wide phone screen, checked as rendered in headless
//! Chromium by `ringback_e2e::audit`: it fits the width, every control is labelled, text has
//! enough contrast, and the keyboard's first stop is the skip link; the appointment dialog is
//! checked open. The demo clinic gives every page real content (long names, tables, the chart).
//! Each page is saved as a screenshot at 375 and at 1280 px (`page-<path>-<width>.png` among the
//! test artefacts).

use ringback_e2e::browser::Browser;
use ringback_e2e::server::{DEMO_OWNER, RingbackServer};
use ringback_e2e::{E2eError, audit, on_demo, pages};

/// A small phone's viewport.
const PHONE: (u32, u32) = (375, 812);
/// A laptop's viewport.
const DESKTOP: (u32, u32) = (1280, 900);

/// Pages anyone can open.
const PUBLIC: [&str; 6] = [
    "sign-in",
    "sign-up",
    "accept-invite",
    "about",
    "privacy",
    "terms",
];

/// Pages seen signed in (the owner may open all of them; privacy and not-found are public).
const SIGNED_IN: [&str; 18] = [
    "",
    "worklist",
    "inbox",
    "appointments",
    "settings",
    "settings/numbers",
    "settings/numbers/test-call",
    "settings/ai",
    "settings/attribution",
    "settings/undelivered",
    "settings/privacy",
    "account",
    "team",
    "api-keys",
    "audit-log",
    "export",
    "privacy",
    "no-such-page",
];

/// Opens `path`, waits for it to settle and returns its problems, each prefixed with the path.
async fn audit_path(
    browser: &Browser,
    server: &RingbackServer,
    path: &str,
) -> Result<Vec<String>, E2eError> {
    browser
        .client
        .goto(&format!("{}{path}", server.url))
        .await?;
    audit::wait_until_settled(&browser.client).await?;
    let mut problems = audit::problems(&browser.client).await?;
    if let Some(problem) = audit::title_names_the_page(&browser.client).await? {
        problems.push(problem);
    }
    Ok(problems
        .into_iter()
        .map(|problem| format!("/{path}: {problem}"))
        .collect())
}

/// The name `path`'s screenshot at `width` is saved under, e.g. `page-settings-numbers-375`.
fn shot_name(path: &str, width: u32) -> String {
    let page = if path.is_empty() { "overview" } else { path };
    format!("page-{}-{width}", page.replace('/', "-"))
}

/// Opens each of `paths` at the laptop's width and saves its screenshot.
async fn screenshot_on_a_laptop(
    browser: &Browser,
    server: &RingbackServer,
    paths: &[&str],
) -> Result<(), E2eError> {
    browser.client.set_window_size(DESKTOP.0, DESKTOP.1).await?;
    for path in paths {
        browser
            .client
            .goto(&format!("{}{path}", server.url))
            .await?;
        audit::wait_until_settled(&browser.client).await?;
        browser.screenshot(&shot_name(path, DESKTOP.0)).await?;
    }
    Ok(())
}

/// The appointment dialog, opened from the list, audited and saved as a screenshot.
async fn audit_the_appointment_dialog(browser: &Browser) -> Result<Vec<String>, E2eError> {
    let page = pages::AppointmentsPage::open(&browser.client).await?;
    page.open_first_dialog().await?;
    browser
        .screenshot(&shot_name("appointments-dialog", PHONE.0))
        .await?;
    Ok(audit::problems(&browser.client)
        .await?
        .into_iter()
        .map(|problem| format!("/appointments (dialog open): {problem}"))
        .collect())
}

/// The audit itself can fail: faults planted in a page are each reported.
async fn the_audit_sees_faults(browser: &Browser, server: &RingbackServer) -> Result<(), E2eError> {
    audit_path(browser, server, "about").await?;
    browser
        .client
        .execute(
            // Styles are set from script (CSSOM): the Content-Security-Policy refuses style
            // attributes in markup, as it should.
            "const main = document.querySelector('main'); \
             const faint = document.createElement('p'); \
             faint.textContent = 'planted faint text'; faint.style.color = '#bbb'; \
             const input = document.createElement('input'); input.id = 'planted-input'; \
             const wide = document.createElement('div'); wide.id = 'planted-wide'; \
             wide.textContent = 'wide'; wide.style.width = '600px'; wide.style.minWidth = '600px'; \
             main.append(faint, input, wide);",
            vec![],
        )
        .await?;
    let found = audit::problems(&browser.client).await?;
    let expected = ["planted faint text", "planted-input", "planted-wide"];
    if !expected
        .iter()
        .all(|fault| found.iter().any(|problem| problem.contains(fault)))
    {
        return Err(E2eError::Assertion(format!(
            "the audit missed a planted fault: {found:?}"
        )));
    }
    Ok(())
}

async fn every_page_on_a_phone(browser: &Browser, server: &RingbackServer) -> Result<(), E2eError> {
    screenshot_on_a_laptop(browser, server, &PUBLIC).await?;
    browser.client.set_window_size(PHONE.0, PHONE.1).await?;
    let width = browser
        .client
        .execute("return window.innerWidth;", vec![])
        .await?;
    if width
        .as_u64()
        .is_none_or(|width| width > u64::from(PHONE.0))
    {
        return Err(E2eError::Assertion(format!(
            "the window is {width} px wide"
        )));
    }
    the_audit_sees_faults(browser, server).await?;
    let mut found = Vec::new();
    for path in PUBLIC {
        found.extend(audit_path(browser, server, path).await?);
        browser.screenshot(&shot_name(path, PHONE.0)).await?;
    }
    audit::first_tab_stop_is_the_skip_link(&browser.client).await?;

    pages::sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    for path in SIGNED_IN {
        found.extend(audit_path(browser, server, path).await?);
        browser.screenshot(&shot_name(path, PHONE.0)).await?;
        // Reloaded, every page (public ones too) still shows the signed-in navigation.
        if !pages::shows_link(&browser.client, "Inbox").await? {
            found.push(format!(
                "/{path}: no navigation after a reload while signed in"
            ));
        }
    }
    let thread = pages::InboxPage::open(&browser.client)
        .await?
        .first_conversation()
        .await?;
    found.extend(audit_path(browser, server, thread.trim_start_matches('/')).await?);
    browser
        .screenshot(&shot_name("inbox-conversation", PHONE.0))
        .await?;
    audit::first_tab_stop_is_the_skip_link(&browser.client).await?;
    found.extend(audit_the_appointment_dialog(browser).await?);
    screenshot_on_a_laptop(browser, server, &SIGNED_IN).await?;

    if found.is_empty() {
        Ok(())
    } else {
        Err(E2eError::Assertion(format!(
            "{} problems:\n{}",
            found.len(),
            found.join("\n")
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_phone_and_reads_aloud() {
    on_demo(
        "every_page_fits_a_phone_and_reads_aloud",
        every_page_on_a_phone,
    )
    .await;
}
