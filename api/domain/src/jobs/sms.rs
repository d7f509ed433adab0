//! Sending one job's text at most once. A job whose work is one text implements [`TextJob`] and
//! runs like every other such job: [`prepare`] opens, inside the claim's transaction, what the
//! text needs (the caller's opt-out, the sealed number and text, the clinic's sending number);
//! [`send`] then talks to the provider outside any transaction. A job whose earlier attempt may have
//! reached the provider (the worker died, or the provider did not answer) is in doubt: before it
//! sends, [`send`] lists what the provider sent to that number since the doubtful claim and, when
//! the text is there, takes it as sent. So after an outage every owed text still goes out, once.
//! A job given up in doubt (its worker died on its last attempt) reads the same list
//! ([`Runnable::look_up`]): a text the provider has is recorded as sent, not as failed.
//! A provider that refuses because the recipient opted out with it (a STOP sent to the carrier or
//! the provider, which we never saw) cancels the text as opted out and puts the caller on the
//! clinic's opt-out list, so no later text is tried; one that says the number cannot receive
//! texts cancels it as a landline. Neither is a dead letter: there is nothing to retry.

use chrono::{DateTime, Utc};
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::{TenantScope, TenantTxn};
use ringback_entity::{clinic as clinic_row, job_outbox};
use ringback_providers::sms::{OutgoingSms, ProviderError, SentSms, SmsProvider};
use ringback_shared::phone::{self, E164};
use ringback_shared::sms;
use ringback_shared::text_back::SkipReason;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};

use std::future::Future;

use ringback_core::outbox::Job;

use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::callers::CallerKeyer;
use crate::service::phone_lines::{self, Recipient};
use crate::service::{clinic, keys, messages, opt_outs, restrictions, usage};
use uuid::Uuid;

/// How far before the doubtful claim the provider's list is read (its clock and ours differ, and
/// its timestamps have whole seconds).
const DOUBT_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// A job whose work is one text: who receives it (for the opt-out check when it is sent) and what
/// its own records become once the text is sent or will not be.
pub trait TextJob: Job + Send + Sync + 'static {
    /// The recipient's caller key.
    fn recipient_key(&self) -> &str;

    /// The missed call the text answers, if it answers one: it goes from the number that call
    /// came in on.
    fn about_call(&self) -> Option<Uuid> {
        None
    }

    /// The provider has the text (`receipt`): record it.
    fn sent(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        receipt: &Receipt,
        context: &JobContext,
    ) -> impl Future<Output = Result<(), DomainError>> + Send;

    /// The text will not be sent: `status` is `failed` or why it was cancelled.
    fn not_sent(
        &self,
        txn: &TenantTxn,
        status: &str,
    ) -> impl Future<Output = Result<(), DomainError>> + Send;

    /// Why the text may no longer go, asked as it is about to be sent (it may have waited for
    /// retries since it was queued): `None` when it may. A text an earlier attempt may have sent
    /// is still looked for at the provider first, and recorded as sent when found.
    fn held_back(
        &self,
        txn: &TenantTxn,
        context: &JobContext,
    ) -> impl Future<Output = Result<Option<&'static str>, DomainError>> + Send {
        let _ = (txn, context);
        async { Ok(None) }
    }
}

impl<T: TextJob> Runnable for T {
    type Ready = ReadyText;

    async fn prepare(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        context: &JobContext,
    ) -> Result<Result<ReadyText, Attempt>, DomainError> {
        let held_back = self.held_back(txn, context).await?;
        prepare(txn, row, (recipient(self, row), held_back), context).await
    }

    async fn perform(
        &self,
        ready: ReadyText,
        _row: &job_outbox::Model,
        context: &JobContext,
    ) -> Attempt {
        send(ready, context).await
    }

    async fn done(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        receipt: &Receipt,
        context: &JobContext,
    ) -> Result<(), DomainError> {
        self.sent(txn, row, receipt, context).await?;
        count_segments(txn, row, context).await?;
        catch_up(txn, receipt).await
    }

    async fn look_up(
        &self,
        scope: &TenantScope,
        row: &job_outbox::Model,
        context: &JobContext,
    ) -> Result<Option<Receipt>, DomainError> {
        match row.in_doubt_since {
            Some(since) => look_up_text(scope, (row, recipient(self, row)), since, context).await,
            None => Ok(None),
        }
    }

    async fn given_up(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        status: &str,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        if status == SkipReason::OptedOut.status() {
            // Whether found on our list or told by the provider, the list keeps it from now on.
            opt_outs::opt_out(txn, self.recipient_key()).await?;
        }
        self.not_sent(txn, status).await
    }
}

/// Whom `job`'s text (queued as `row`) goes to, as its sending number is chosen.
fn recipient<'j>(job: &'j impl TextJob, row: &job_outbox::Model) -> Recipient<'j> {
    Recipient {
        caller_key: job.recipient_key(),
        about_call: job.about_call(),
        as_of: row.created_at,
        pinned: row.sender_number_id,
    }
}

/// A text ready to go. Holds a number: never logged.
pub struct ReadyText {
    message: OutgoingSms,
    /// When this attempt's claim was made: the start of any doubt it leaves.
    claimed_at: DateTime<Utc>,
    in_doubt_since: Option<DateTime<Utc>>,
    /// Why the text may not go now, for one an earlier attempt may have sent: it is looked for
    /// at the provider (and recorded as sent when found), never sent again.
    refused: Option<&'static str>,
    /// Whether the recipient's number is of another region than the clinic's (a Crown
    /// Dependency's for a UK clinic): a provider account that may not text there refuses.
    abroad: bool,
}

/// Opens what `row`'s text needs, or says why nothing is to be sent: the job type holds it back
/// (`held_back`), the recipient opted out or restricted processing, the job holds no text, or the
/// clinic has no number to send from. A text an earlier attempt may have sent is opened all the
/// same, to be looked for at the provider first ([`send`]): cancelling it here would record as
/// unsent a text the caller has (and whose STOP may be their answer to it).
async fn prepare(
    txn: &TenantTxn,
    row: &job_outbox::Model,
    (to, held_back): (Recipient<'_>, Option<&'static str>),
    context: &JobContext,
) -> Result<Result<ReadyText, Attempt>, DomainError> {
    let caller_key = to.caller_key;
    let mut refused = held_back;
    if refused.is_none() && opt_outs::is_opted_out(txn, caller_key).await? {
        refused = Some(SkipReason::OptedOut.status());
    }
    if refused.is_none() && restrictions::is_restricted(txn, &[caller_key.to_owned()]).await? {
        refused = Some(SkipReason::Restricted.status());
    }
    let in_doubt = row.in_doubt_since.is_some();
    if let Some(why) = refused.filter(|_| !in_doubt) {
        return Ok(Err(Attempt::Cancelled(why)));
    }
    let Some(opened) = open(txn, row, context).await? else {
        return Ok(Err(Attempt::Cancelled("nothing to send")));
    };
    let secrets = &context.backend.secrets;
    if refused.is_none()
        && opted_out_under_another_key(txn, secrets, &opened.settings, &opened.to, caller_key)
            .await?
    {
        if !in_doubt {
            return Ok(Err(Attempt::Cancelled(SkipReason::OptedOut.status())));
        }
        refused = Some(SkipReason::OptedOut.status());
    }
    Ok(ready_to_send(txn, row, (opened, to), context)
        .await?
        .map(|ready| ReadyText { refused, ..ready }))
}

/// The caller's number and the text a job holds, opened with the clinic's key (read from
/// `settings`). Holds a number: never logged.
struct OpenedText {
    settings: clinic_row::Model,
    to: String,
    body: String,
}

/// Opens the number and the text `row` holds; `None` when it holds none.
async fn open(
    txn: &TenantTxn,
    row: &job_outbox::Model,
    context: &JobContext,
) -> Result<Option<OpenedText>, DomainError> {
    let (Some(sealed_number), Some(body_sealed)) = (&row.sealed_number, &row.body_sealed) else {
        return Ok(None);
    };
    let settings = clinic::get(txn).await?;
    let key = keys::data_key(&context.backend.secrets, &settings)?;
    Ok(Some(OpenedText {
        to: keys::open_caller_number(&key, txn.clinic_id(), sealed_number)?,
        body: keys::open_message(&key, txn.clinic_id(), body_sealed)?,
        settings,
    }))
}

/// The `opened` text as it goes out to `to` from the number the clinic answers them from (pinned
/// on the job the first time), or why it cannot: the clinic has no number to send from.
async fn ready_to_send(
    txn: &TenantTxn,
    row: &job_outbox::Model,
    (opened, to): (OpenedText, Recipient<'_>),
    context: &JobContext,
) -> Result<Result<ReadyText, Attempt>, DomainError> {
    let sender = phone_lines::sending_number(txn, &context.backend.secrets, to).await?;
    let Some(sender) = sender else {
        let no_sender = Attempt::provider_failed(&ProviderError::NoSender, row.in_doubt_since);
        return Ok(Err(no_sender));
    };
    if row.sender_number_id != Some(sender.id) {
        pin_sender(txn, row, sender.id).await?;
    }
    let abroad = E164::parse(&opened.to)
        .ok()
        .and_then(|number| phone::region_of(&number))
        .is_some_and(|region| region.as_str() != opened.settings.default_region);
    let message = OutgoingSms {
        to: opened.to,
        from: sender.e164,
        body: opened.body,
        status_callback: context.sms_status_callback.clone(),
    };
    Ok(Ok(ReadyText {
        message,
        claimed_at: row.claimed_at.unwrap_or_else(|| txn.now()),
        in_doubt_since: row.in_doubt_since,
        refused: None,
        abroad,
    }))
}

/// Keeps on job `row` the number its text goes from, for its later attempts.
async fn pin_sender(
    txn: &TenantTxn,
    row: &job_outbox::Model,
    number_id: Uuid,
) -> Result<(), DomainError> {
    txn.update_many::<job_outbox::Entity>()
        .col_expr(job_outbox::Column::SenderNumberId, Expr::value(number_id))
        .filter(job_outbox::Column::Id.eq(row.id))
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Whether the provider has `row`'s text to `to`, sent since `since` (the job is in doubt from
/// then): the text opened as for sending, without the opt-out checks (a look-up sends nothing,
/// and a caller who sent STOP after the text went still got it).
async fn look_up_text(
    scope: &TenantScope,
    (row, to): (&job_outbox::Model, Recipient<'_>),
    since: DateTime<Utc>,
    context: &JobContext,
) -> Result<Option<Receipt>, DomainError> {
    let txn = scope.begin().await?;
    let ready = match open(&txn, row, context).await? {
        Some(opened) => ready_to_send(&txn, row, (opened, to), context).await?,
        None => return Ok(None),
    };
    txn.commit().await?;
    let Ok(ready) = ready else {
        return Ok(None);
    };
    let Some(provider) = context.sms.as_deref() else {
        return Err(DomainError::Unavailable(NO_PROVIDER.to_owned()));
    };
    match already_sent(&ready.message, since, provider).await {
        Ok(sent) => Ok(sent.map(found)),
        Err(error) => Err(DomainError::Unavailable(format!(
            "the provider's list of sent texts: {error}"
        ))),
    }
}

/// Whether the caller `to` is on the opt-out list under a key other than `checked` (the job's, from
/// when it was queued): only possible while a pepper rotation is under way, which may have moved
/// the caller's opt-out to their new key since. Without a previous pepper nothing is keyed here.
async fn opted_out_under_another_key(
    txn: &TenantTxn,
    secrets: &Secrets,
    settings: &clinic_row::Model,
    to: &str,
    checked: &str,
) -> Result<bool, DomainError> {
    if secrets.previous_pepper.is_none() {
        return Ok(false);
    }
    let caller = CallerKeyer::new(secrets, txn, &settings.default_region)?.key(to)?;
    for key in caller.keys().iter().filter(|key| key.as_str() != checked) {
        if opt_outs::is_opted_out(txn, key).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Why a text job cannot run: the deployment has no phone provider (no worker claims one then).
const NO_PROVIDER: &str = "no SMS provider is configured";

/// Sends `ready` unless the provider already has it from an earlier, doubtful attempt (or, when
/// it may no longer go, only looks for it there).
async fn send(ready: ReadyText, context: &JobContext) -> Attempt {
    let Some(provider) = context.sms.as_deref() else {
        return Attempt::retry_later(NO_PROVIDER.to_owned());
    };
    if let Some(since) = ready.in_doubt_since {
        match already_sent(&ready.message, since, provider).await {
            Ok(Some(sent)) => return Attempt::Done(found(sent)),
            Ok(None) => {}
            Err(error) => return Attempt::provider_failed(&error, Some(since)),
        }
    }
    if let Some(why) = ready.refused {
        return Attempt::Cancelled(why);
    }
    match provider.send(&ready.message).await {
        Ok(sent) => Attempt::Done(receipt(sent)),
        Err(error) => match refusal_as_skip(&error, ready.abroad) {
            Some(skip) => Attempt::Cancelled(skip.status()),
            None => {
                let doubt = error.may_have_sent().then_some(ready.claimed_at);
                Attempt::provider_failed(&error, doubt)
            }
        },
    }
}

/// A refusal that says this text can never reach its caller, as the skip it amounts to: they
/// opted out with the provider (a STOP we never saw: as good as ours), their number cannot
/// receive texts (a landline the number plan took for a mobile), or the provider account may not
/// text their country when it is not the clinic's (`abroad`: a Crown Dependency's mobile on an
/// account that texts the UK only). An account that may not text the clinic's own country is
/// misconfigured: that refusal stays a failure, a dead letter for an admin to see.
fn refusal_as_skip(error: &ProviderError, abroad: bool) -> Option<SkipReason> {
    if error.recipient_opted_out() {
        Some(SkipReason::OptedOut)
    } else if error.recipient_cannot_text() {
        Some(SkipReason::Landline)
    } else if abroad && error.recipient_country_not_permitted() {
        Some(SkipReason::OtherCountry)
    } else {
        None
    }
}

/// The provider's copy of `message`, if an earlier attempt did send it.
async fn already_sent(
    message: &OutgoingSms,
    since: DateTime<Utc>,
    provider: &dyn SmsProvider,
) -> Result<Option<SentSms>, ProviderError> {
    let sent = provider
        .sent_since(&message.to, &message.from, since - DOUBT_MARGIN)
        .await?;
    Ok(sent
        .into_iter()
        .find(|sent| sms::same_text(&sent.body, &message.body)))
}

/// The receipt of a text the provider took just now.
fn receipt(sent: SentSms) -> Receipt {
    Receipt {
        provider_id: sent.provider_id,
        provider_status: sent.status,
        done_at: None,
    }
}

/// The receipt of a text an earlier attempt sent, found in the provider's list: dated when the
/// provider took it.
fn found(sent: SentSms) -> Receipt {
    Receipt {
        done_at: sent.created_at,
        ..receipt(sent)
    }
}

/// Counts the segments of `row`'s text against the clinic's plan, with billing on.
async fn count_segments(
    txn: &TenantTxn,
    row: &job_outbox::Model,
    context: &JobContext,
) -> Result<(), DomainError> {
    let (Some(billing), Some(body_sealed)) = (&context.backend.billing, &row.body_sealed) else {
        return Ok(());
    };
    let settings = clinic::get(txn).await?;
    let key = keys::data_key(&context.backend.secrets, &settings)?;
    let body = keys::open_message(&key, txn.clinic_id(), body_sealed)?;
    let segments = u64::try_from(sms::segments(&body).count).unwrap_or(u64::MAX);
    usage::count_sent(txn, &billing.settings, row.id, segments).await
}

/// The delivery status a message takes from the provider's first answer.
pub fn delivery_status(receipt: &Receipt) -> &'static str {
    messages::delivery_status(&receipt.provider_status)
}

/// Applies delivery reports that arrived before the provider's id for `receipt` was stored, and
/// brings the text-back status of the call they concern up to date.
async fn catch_up(txn: &TenantTxn, receipt: &Receipt) -> Result<(), DomainError> {
    if let Some(caught_up) = messages::catch_up_reports(txn, &receipt.provider_id).await?
        && let Some(call_id) = caught_up.call_id
    {
        crate::service::calls::set_text_back_delivery(txn, call_id, &caught_up).await?;
    }
    Ok(())
}
