//! Billing in the browser, against the real binary and the fake Stripe: the demo clinic's owner
//! opens Billing, chooses a plan, pays on Stripe's (fake) hosted Checkout page, and lands back on
//! Billing, which shows the plan chosen with its allowance, trialing (the free trial is kept), as soon as Stripe's signed event has
//! reached the server (no reload); a receptionist has no Billing link and the page refuses them.

use ringback_api::fakes::stripe::FakeStripe;
use ringback_e2e::browser::Browser;
use ringback_e2e::pages::{
    AcceptInvitePage, BillingPage, OverviewPage, has_link, sign_in, wait_for_forbidden,
};
use ringback_e2e::server::{DEMO_OWNER, Data, RingbackServer};
use ringback_e2e::{E2eError, report};
use serde_json::json;

const STRIPE_KEY: &str = "sk_test_e2e0123456789";
const STRIPE_WEBHOOK_SECRET: &str = "whsec_e2e0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_pays_for_a_plan_and_a_receptionist_sees_no_billing() {
    let stripe = FakeStripe::start(
        STRIPE_KEY,
        STRIPE_WEBHOOK_SECRET,
        ringback_api::clock::Clock::system(),
    )
    .await
    .unwrap_or_else(|e| panic!("fake Stripe: {e}"));
    // Checkout returns the browser to the public URL: here, the server itself.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("a free port: {e}"));
    let listen = format!("127.0.0.1:{port}");
    let public_url = format!("http://{listen}");
    let server = RingbackServer::start_with_env(
        Data::Demo,
        &[
            ("RINGBACK_LISTEN", &listen),
            ("RINGBACK_PUBLIC_URL", &public_url),
            ("RINGBACK_STRIPE_SECRET_KEY", STRIPE_KEY),
            ("RINGBACK_STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET),
            ("RINGBACK_STRIPE_API_URL", stripe.api_url()),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    stripe.deliver_events_to(&format!("{}webhooks/stripe", server.url));
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = pay_then_look_as_a_receptionist(&browser, &server, &stripe).await;
    report(
        "an_owner_pays_for_a_plan_and_a_receptionist_sees_no_billing",
        browser,
        &server,
        outcome,
    )
    .await;
}

async fn pay_then_look_as_a_receptionist(
    browser: &Browser,
    server: &RingbackServer,
    stripe: &FakeStripe,
) -> Result<(), E2eError> {
    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let billing = BillingPage::open(&browser.client).await?;
    let (plan, _, _) = billing.current().await?;
    if plan != "Free trial" {
        return Err(E2eError::Assertion(format!("a new clinic shows {plan:?}")));
    }
    let (kept, _) = billing.trial().await?;
    if !kept
        .as_deref()
        .is_some_and(|said| said.contains("keeps the rest of the free trial"))
    {
        return Err(E2eError::Assertion(format!(
            "the plans do not say the trial is kept: {kept:?}"
        )));
    }
    billing.choose_and_pay("growth", "Growth").await?;
    let (plan, status, usage) = billing.current().await?;
    if (plan.as_str(), status.as_str()) != ("Growth", "Trialing")
        || !usage.ends_with("of 1000 texts")
    {
        return Err(E2eError::Assertion(format!(
            "after paying the page shows {plan:?}, {status:?}, {usage:?}"
        )));
    }
    let (kept, left) = billing.trial().await?;
    if kept.is_some()
        || !left
            .as_deref()
            .is_some_and(|said| said.ends_with("then the plan is paid for"))
    {
        return Err(E2eError::Assertion(format!(
            "after paying in the trial the page says {kept:?}, {left:?}"
        )));
    }
    let delivered = stripe.deliveries();
    if delivered.is_empty() || delivered.iter().any(|(_, status)| *status != 200) {
        return Err(E2eError::Assertion(format!(
            "Stripe's events were not all accepted: {:?}",
            delivered
                .iter()
                .map(|(_, status)| status)
                .collect::<Vec<_>>()
        )));
    }

    // A receptionist joins: no Billing link, and the page refuses them.
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let (_, invited) = server.graphql_as(
        Some(&cookie),
        "mutation { inviteMember(email: \"desk@demo.ringback.test\", displayName: \"Sam\", \
         role: RECEPTIONIST) { token } }",
        json!({}),
    )?;
    let token = invited["data"]["inviteMember"]["token"]
        .as_str()
        .ok_or_else(|| E2eError::Assertion(format!("no invitation: {invited}")))?;
    browser.client.goto(&server.url).await?;
    OverviewPage::wait(&browser.client)
        .await?
        .sign_out()
        .await?;
    AcceptInvitePage::open(
        &browser.client,
        &format!("{}accept-invite#{token}", server.url),
    )
    .await?
    .join("reception password 1")
    .await?;
    OverviewPage::wait(&browser.client).await?;
    if has_link(&browser.client, "Billing").await? {
        return Err(E2eError::Assertion(
            "a receptionist is shown the Billing link".to_owned(),
        ));
    }
    browser
        .client
        .goto(&format!("{}billing", server.url))
        .await?;
    wait_for_forbidden(&browser.client).await?;
    Ok(())
}
