//! [`Backend`]: what every caller of the domain shares on one server — the database pool, the clock,
//! the secrets, the session keys, the rate limits, the wake-up call of the outbox workers, the
//! writer of read notes, the provider account's number directory and records, the mailer and the
//! model the AI receptionist asks. GraphQL resolvers, webhooks and workers all reach the domain through it; the
//! binary adds its configuration and providers on top.

use std::sync::Arc;

use crate::service::billing::BillingContext;
use crate::service::click_to_call::VoiceLine;
use ringback_core::clock::Clock;
use ringback_core::db::DatabaseKind;
use ringback_core::read_notes::NoteWriter;
use ringback_core::secrets::Secrets;
use ringback_providers::anthropic::ConversationModel;
use ringback_providers::records::ProviderRecords;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::auth::rate_limit::RateLimits;
use crate::auth::session::SessionKeys;
use crate::service::mail_links::MailLinks;

/// The shared handles of one server. Cheap to clone.
#[derive(Clone)]
pub struct Backend {
    pub db: DatabaseConnection,
    /// Which engine `db` speaks.
    pub database_kind: DatabaseKind,
    /// Where every "now" comes from: the system clock in a deployment, a settable one in tests.
    pub clock: Clock,
    pub secrets: Arc<Secrets>,
    pub session_keys: SessionKeys,
    pub rate_limits: Arc<RateLimits>,
    /// Wakes the outbox workers when a request queues a job, so a text-back with no delay does
    /// not wait for the next poll.
    pub jobs_queued: Arc<Notify>,
    /// Writes the notes of reads that ended without a commit, several requests' at a time.
    pub read_notes: NoteWriter,
    /// The provider account's numbers (which a clinic's number must be among, and which numbers
    /// are bought and pointed through) and the public URL they point at; `None` when no provider
    /// account is configured (no number can then be added).
    pub numbers: Option<crate::service::numbers::NumberDesk>,
    /// Mail and the public URL its links point at; `None` when no SMTP server is configured
    /// (sign-up then signs in at once, without confirming the address).
    pub mail: Option<MailLinks>,
    /// The provider that places calls for staff, and where its webhooks reach us; `None` when no
    /// provider account is configured (staff then call back from their own phones).
    pub voice: Option<VoiceLine>,
    /// Where the provider account's records of calls and texts are deleted; `None` when no
    /// provider account is configured (the jobs that delete them then wait).
    pub provider_records: Option<Arc<dyn ProviderRecords>>,
    /// Billing through Stripe; `None` when no Stripe key is configured (no limits apply).
    pub billing: Option<Arc<BillingContext>>,
    /// The model behind the AI receptionist; `None` without an Anthropic key (conversations of
    /// clinics that turned the AI on then fall back to the template and staff).
    pub ai_model: Option<Arc<dyn ConversationModel>>,
    /// Google Calendar, where clinics' bookings are kept as events; `None` without a service
    /// account (no clinic can then choose a calendar).
    pub calendar: Option<crate::service::calendar::CalendarDesk>,
    /// How long the AI may take to answer one caller text before the fallback goes out.
    pub ai_answer_within: std::time::Duration,
}

impl Backend {
    /// Billing's settings, when billing is on.
    pub fn billing_settings(&self) -> Option<&crate::service::billing::BillingSettings> {
        self.billing.as_deref().map(|billing| &billing.settings)
    }

    /// The handles for a server on `db` (of engine `database_kind`) with `secrets`, whose "now"
    /// comes from `clock`.
    pub fn new(
        db: DatabaseConnection,
        database_kind: DatabaseKind,
        secrets: Secrets,
        clock: Clock,
    ) -> Self {
        Self {
            session_keys: SessionKeys::new(secrets.session_secret.expose()),
            read_notes: NoteWriter::new(db.clone()),
            db,
            database_kind,
            clock,
            secrets: Arc::new(secrets),
            rate_limits: Arc::new(RateLimits::default()),
            jobs_queued: Arc::new(Notify::new()),
            numbers: None,
            mail: None,
            voice: None,
            provider_records: None,
            billing: None,
            ai_model: None,
            calendar: None,
            ai_answer_within: ringback_providers::anthropic::DEFAULT_ANSWER_WITHIN,
        }
    }

    /// Tells the workers that a job is waiting.
    pub fn wake_workers(&self) {
        self.jobs_queued.notify_waiters();
        self.jobs_queued.notify_one();
    }
}
