//! `TestApp`: the whole server around a fresh database, in one line of set-up.
//!
//! `TestApp::new(kind).await` gives a clinic and its signed-in owner (`app.owner`); the builder adds
//! settings, the fake Twilio (the clinic then has a provider number, and the fake's signed
//! callbacks reach the app), workers that send through it, and the fake Stripe (billing on, its
//! signed events reach the app's `/webhooks/stripe`). Dropping the app drops its database
//! (see [`TestDb`]), which also checks that no job was left claimed.

use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, Response};
use ringback_api::config::DatabaseKind;
use ringback_api::fakes::stripe::FakeStripe;
use ringback_api::fakes::twilio::{ACCOUNT_SID, FakeTwilio};
use ringback_api::integrations::twilio::{TwilioAccount, TwilioClient};
use ringback_api::jobs::worker::{Worker, WorkerSettings};
use ringback_api::tenant::TenantScope;
use ringback_api::{AppState, build_app};
use serde_json::json;
use uuid::Uuid;

use crate::common::graphql::{Browser, SIGN_UP, sign_up_input};
use crate::common::{PUBLIC_URL, TWILIO_AUTH_TOKEN, TestDb, serve};

/// The application as tests drive it.
pub type App = BoxEndpoint<'static, Response>;

/// The e-mail address of every test clinic's owner.
pub const OWNER_EMAIL: &str = "owner@clinic.test";
/// The provider number a clinic gets with the fake Twilio.
pub const CLINIC_NUMBER: &str = "+447700900777";

/// The Stripe secret key and webhook signing secret of test deployments with billing on.
pub const STRIPE_SECRET_KEY: &str = "sk_test_0123456789abcdef";
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_0123456789abcdef";

/// A running server on its own database, with a clinic and its signed-in owner.
pub struct TestApp {
    pub state: AppState,
    /// The owner of the clinic, signed in (a browser with its cookies).
    pub owner: Browser<App>,
    pub clinic_id: Uuid,
    /// The fake provider, when the builder asked for it.
    pub twilio: Option<FakeTwilio>,
    /// The fake Stripe, when the builder asked for it.
    pub stripe: Option<FakeStripe>,
    _web: tempfile::TempDir,
    // Last, so that the database is dropped after everything that uses it.
    pub db: TestDb,
}

/// How a [`TestApp`] is set up.
pub struct TestAppBuilder {
    kind: DatabaseKind,
    settings: Vec<(String, String)>,
    twilio: bool,
    stripe: bool,
    midday: bool,
    /// The SMTP server the app mails through once the owner signed up.
    smtp_url: Option<String>,
}

impl TestApp {
    /// A clinic and its signed-in owner on a fresh database of `kind`.
    pub async fn new(kind: DatabaseKind) -> Self {
        Self::builder(kind).build().await
    }

    /// A set-up to extend before [`TestAppBuilder::build`].
    pub fn builder(kind: DatabaseKind) -> TestAppBuilder {
        TestAppBuilder {
            kind,
            settings: Vec::new(),
            twilio: false,
            stripe: false,
            midday: false,
            smtp_url: None,
        }
    }

    /// A new endpoint serving the same state (for another browser or client).
    pub fn app(&self) -> App {
        app_of(&self.state)
    }

    /// Every audit entry of the database, oldest first: `(action, detail as text)`.
    pub async fn audit_actions(&self) -> Vec<(String, String)> {
        self.db
            .query_strings(
                "SELECT action, CAST(detail AS TEXT) AS detail FROM audit_log ORDER BY seq",
                &["action", "detail"],
            )
            .await
            .into_iter()
            .map(|row| (row[0].clone(), row[1].clone()))
            .collect()
    }

    /// Signs the owner in again (moving the clock days ahead ends sessions).
    pub async fn sign_in_again(&mut self) {
        let signed_in = self
            .owner
            .run(
                crate::common::graphql::SIGN_IN,
                serde_json::json!({ "email": OWNER_EMAIL, "password": "correct horse battery" }),
            )
            .await;
        assert!(signed_in["errors"].is_null(), "{signed_in}");
    }

    /// The owner pays plan `plan` on the fake Stripe's Checkout; the subscription's id once its
    /// events were applied.
    pub async fn subscribe(&mut self, plan: &str) -> String {
        let started = self
            .owner
            .run(
                "mutation($plan: String!) { startCheckout(plan: $plan) }",
                serde_json::json!({ "plan": plan }),
            )
            .await;
        let url = started["data"]["startCheckout"]
            .as_str()
            .unwrap_or_else(|| panic!("{started}"))
            .to_owned();
        let session = url.rsplit('/').next().expect("session id").to_owned();
        let stripe = self.stripe.as_ref().expect("built with_stripe()");
        let earlier = stripe.deliveries().len();
        let subscription = stripe.pay(&session).await.expect("paid");
        for (event, status) in stripe.deliveries().into_iter().skip(earlier) {
            assert_eq!(status, 200, "{event}");
        }
        subscription
    }

    /// A Checkout page for `plan` that Stripe opened for the clinic's customer but the clinic never
    /// stored (its storing failed, or it was opened beside another request): its session id.
    pub async fn checkout_not_stored_here(&self, plan: &str) -> String {
        let billing = self.state.billing.clone().expect("billing is on");
        let stripe = self.stripe.as_ref().expect("built with_stripe()");
        let customer = stripe.customers()[0].id.clone();
        let plan = billing.settings.plan(plan).expect("a plan");
        let back = "https://clinic.test/billing";
        let clinic = self.clinic_id.to_string();
        billing
            .stripe
            .checkout(&customer, &clinic, (plan, None), back, back)
            .await
            .expect("a page Stripe opened")
            .session
    }

    /// Damages the stored text of the message the provider knows as `provider_id`, as a broken
    /// disk or a bad restore would: it can no longer be opened.
    pub async fn damage_message(&self, provider_id: &str) {
        self.db
            .execute_as_owner(&format!(
                "UPDATE messages SET body_sealed = substr(body_sealed, 1, 8) \
                 WHERE provider_message_id = '{provider_id}'"
            ))
            .await;
    }

    /// Makes the database refuse any row of `table` (one with an `action` column: `audit_log`,
    /// `audit_pending`, `ai_steps`) whose action is `action`, as a failing disk or a full table
    /// would refuse a write.
    pub async fn refuse_inserts(&self, table: &str, action: &str) {
        let trigger = format!("refuse_{table}_{}", action.replace('.', "_"));
        let statements = match self.db.kind {
            DatabaseKind::Postgres => vec![
                "CREATE OR REPLACE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused'; END $$"
                    .to_owned(),
                format!(
                    "CREATE TRIGGER {trigger} BEFORE INSERT ON {table} FOR EACH ROW \
                     WHEN (NEW.action = '{action}') EXECUTE FUNCTION refuse_row()"
                ),
            ],
            DatabaseKind::Sqlite => vec![format!(
                "CREATE TRIGGER {trigger} BEFORE INSERT ON {table} \
                 WHEN NEW.action = '{action}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )],
        };
        for statement in statements {
            self.db.execute_as_owner(&statement).await;
        }
    }

    /// Switches the clinic to the `text_back` privacy mode (numbers kept sealed for replies);
    /// returns the clinic's name.
    pub async fn keep_numbers(&mut self) -> String {
        let set = self
            .owner
            .run(
                "mutation { updateClinicSettings(input: { privacyMode: \"text_back\" }) { name } }",
                serde_json::json!({}),
            )
            .await;
        set["data"]["updateClinicSettings"]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{set}"))
            .to_owned()
    }

    /// A text from `from` (E.164) arriving now with provider id `sid`; the automated answer, if
    /// it was a keyword.
    pub async fn receive_text(&self, sid: &str, from: &str, text: &str) -> Option<String> {
        use ringback_api::service::inbound_sms::{self, InboundSms};
        let txn = self.tenant().begin().await.expect("txn");
        let inbound = InboundSms {
            provider_id: sid,
            from,
            text,
            at: txn.now(),
            provider_number_id: None,
            to_held_back_number: false,
        };
        let answer = inbound_sms::receive(&txn, &self.state.secrets, inbound)
            .await
            .expect("received");
        txn.commit().await.expect("commit");
        answer
    }

    /// A browser nobody has signed in with.
    pub fn browser(&self) -> Browser<App> {
        Browser::new(self.app())
    }

    /// The door to the test clinic's data, for checks below the API.
    pub fn tenant(&self) -> TenantScope {
        TenantScope::for_test(
            self.state.db.clone(),
            self.state.clock.clone(),
            self.clinic_id,
        )
    }

    /// Points the clinic's calls at a forwarding line, so that Twilio's `<Dial>` rings it.
    pub async fn forward_to_a_line(&mut self) {
        let line = self
            .owner
            .run(
                "mutation { setForwardingLine(number: \"020 7946 0321\") { forwardingLineTail } }",
                json!({}),
            )
            .await;
        assert!(line["errors"].is_null(), "{line}");
    }

    /// A call from `from` (E.164) with Twilio's `sid` that rings the forwarding line unanswered,
    /// played by the fake Twilio through the voice webhook.
    pub async fn ring_unanswered(&self, sid: &str, from: &str) {
        use ringback_api::fakes::twilio::{Answerer, EndReports};
        let fake = self.twilio.as_ref().expect("TestApp built with_twilio()");
        let voice = format!("{PUBLIC_URL}/webhooks/twilio/voice");
        let rung = fake.ring_in(
            &voice,
            (sid, from, CLINIC_NUMBER),
            Answerer::Nobody,
            EndReports::DialFirst,
        );
        rung.await.unwrap_or_else(|e| panic!("{sid}: {e}"));
    }

    /// Runs `worker` until no job is pending or claimed (each pass waits for the next retry).
    pub async fn drain(&self, worker: &Worker) {
        for _ in 0..400 {
            worker.run_once().await.expect("worker pass");
            let open = self
                .db
                .query_strings(
                    "SELECT count(*) || '' AS n FROM job_outbox \
                     WHERE status IN ('pending', 'claimed')",
                    &["n"],
                )
                .await;
            if open[0][0] == "0" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("jobs are still open");
    }

    /// A worker named `name` sending through the fake Twilio, retrying quickly.
    pub fn worker(&self, name: &str) -> Worker {
        let fake = self.twilio.as_ref().expect("TestApp built with_twilio()");
        worker_for(&self.state, fake, name, quick_retries())
    }
}

/// Worker settings that retry within milliseconds, for tests.
pub fn quick_retries() -> WorkerSettings {
    WorkerSettings {
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(40),
        ..WorkerSettings::default()
    }
}

/// A worker named `name` on `state`, sending through `fake` with a client that gives up after
/// 300 ms.
pub fn worker_for(
    state: &AppState,
    fake: &FakeTwilio,
    name: &str,
    settings: WorkerSettings,
) -> Worker {
    let account = TwilioAccount {
        api_url: fake.api_url().to_owned(),
        account_sid: ACCOUNT_SID.to_owned(),
        auth_token: ringback_api::config::SecretString::new(TWILIO_AUTH_TOKEN),
    };
    let client = TwilioClient::new(account, Duration::from_millis(300)).expect("client");
    Worker::new(
        state.clone(),
        Some(Arc::new(client)),
        settings,
        name.to_owned(),
    )
}

impl TestAppBuilder {
    /// One more `RINGBACK_*` setting.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The fake Twilio: the app is configured for it, the clinic gets [`CLINIC_NUMBER`], and the
    /// fake's status callbacks reach the app.
    pub fn with_twilio(mut self) -> Self {
        self.twilio = true;
        self
    }

    /// The fake Google's service account (its key file written in `dir`) and Calendar API.
    pub fn with_google(
        self,
        google: &ringback_providers::fakes::google::FakeGoogle,
        dir: &std::path::Path,
    ) -> Self {
        let key_file = google.key_file(dir).expect("key file");
        let key_file = key_file.to_str().expect("path").to_owned();
        self.setting("RINGBACK_GOOGLE_SERVICE_ACCOUNT_FILE", &key_file)
            .setting("RINGBACK_GOOGLE_CALENDAR_API_URL", google.api_url())
    }

    /// The fake Stripe: billing is on with its key, and its events reach the app.
    pub fn with_stripe(mut self) -> Self {
        self.stripe = true;
        self
    }

    /// Mail goes through the SMTP server at `url` (the fake's), once the owner signed up (with
    /// mail configured, sign-up is only by a mailed link).
    pub fn mailing_through(mut self, url: &str) -> Self {
        self.smtp_url = Some(url.to_owned());
        self
    }

    /// The clock starts at noon of today in London (see [`TestDb::at_midday`]).
    pub fn at_midday(mut self) -> Self {
        self.midday = true;
        self
    }

    /// Starts the app and signs the owner up.
    pub async fn build(self) -> TestApp {
        let db = if self.midday {
            TestDb::at_midday(self.kind).await
        } else {
            TestDb::new(self.kind).await
        };
        let web = tempfile::tempdir().expect("tempdir");
        let mut settings = self.settings;
        let twilio = if self.twilio {
            let fake =
                FakeTwilio::start_with_clock(ACCOUNT_SID, TWILIO_AUTH_TOKEN, db.clock.clone())
                    .await
                    .expect("fake Twilio starts");
            fake.provision_number(CLINIC_NUMBER);
            settings.push(("RINGBACK_TWILIO_ACCOUNT_SID".into(), ACCOUNT_SID.into()));
            settings.push(("RINGBACK_TWILIO_API_URL".into(), fake.api_url().into()));
            Some(fake)
        } else {
            None
        };
        let stripe = if self.stripe {
            let fake =
                FakeStripe::start(STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, db.clock.clone())
                    .await
                    .expect("fake Stripe starts");
            settings.push((
                "RINGBACK_STRIPE_SECRET_KEY".into(),
                STRIPE_SECRET_KEY.into(),
            ));
            settings.push((
                "RINGBACK_STRIPE_WEBHOOK_SECRET".into(),
                STRIPE_WEBHOOK_SECRET.into(),
            ));
            settings.push(("RINGBACK_STRIPE_API_URL".into(), fake.api_url().into()));
            Some(fake)
        } else {
            None
        };
        let extra: Vec<(&str, &str)> = settings
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let state = db.state_with(web.path(), &extra);
        let mut owner = Browser::new(app_of(&state));
        let signed_up = owner.run(SIGN_UP, sign_up_input(OWNER_EMAIL)).await;
        assert!(signed_up["errors"].is_null(), "{signed_up}");
        let (state, mut owner) = match &self.smtp_url {
            Some(url) => {
                let mut mailing = extra.clone();
                mailing.push(("RINGBACK_SMTP_URL", url));
                mailing.push(("RINGBACK_MAIL_FROM", "Ringback <no-reply@ringback.test>"));
                let state = db.state_with(web.path(), &mailing);
                let mut signed_in = Browser::new(app_of(&state));
                signed_in.cookies = owner.cookies;
                (state, signed_in)
            }
            None => (state, owner),
        };
        let clinic_id = signed_up["data"]["signUp"]["clinic"]["id"]
            .as_str()
            .and_then(|id| Uuid::try_parse(id).ok())
            .expect("clinic id");
        if let Some(fake) = &twilio {
            fake.forward_callbacks(PUBLIC_URL, &serve(app_of(&state)).await);
            let added = owner
                .run(
                    "mutation($n: String!) { addProviderNumber(number: $n) { id } }",
                    json!({ "n": CLINIC_NUMBER }),
                )
                .await;
            assert!(added["errors"].is_null(), "{added}");
        }
        if let Some(fake) = &stripe {
            let served = serve(app_of(&state)).await;
            fake.deliver_events_to(&format!("{served}/webhooks/stripe"));
        }
        TestApp {
            state,
            owner,
            clinic_id,
            twilio,
            stripe,
            _web: web,
            db,
        }
    }
}

/// The application serving `state`, as tests drive it.
pub fn app_of(state: &AppState) -> App {
    build_app(state.clone()).map_to_response().boxed()
}
