//! The setup checklist a new clinic sees on its overview until it is live. Every step is ticked by
//! what the server knows, never by a click: a texting number is registered, a forwarding line is
//! set, business hours and the text-back wording were saved (its own, or the default kept by saving
//! empty templates), a call came in through the provider's
//! webhooks (noted on the clinic the first time, so the purge cannot undo it), and (with billing
//! on) a plan is subscribed to. Reading it costs one row read and two existence
//! checks (each stops at its first row), whatever the clinic's size.

use ringback_entity::{call, clinic as clinic_row, provider_number};
use ringback_providers::twilio::PROVIDER_NAME;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::service::{billing, clinic};
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// One step of the setup, in the order a new owner takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupStep {
    /// A number callers ring and texts come from.
    TextingNumber,
    /// The line calls are forwarded to before they count as missed.
    ForwardingLine,
    /// Opening hours, which choose the text-back's wording and the AI's offers.
    BusinessHours,
    /// The text-back's own words.
    TextBackWording,
    /// A call received through the number (the guided test call).
    TestCall,
    /// A plan chosen (only while billing is on).
    Plan,
}

/// The checklist: each step and whether it is done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checklist {
    pub steps: Vec<(SetupStep, bool)>,
}

impl Checklist {
    /// Whether every step is done: the clinic is live.
    pub fn live(&self) -> bool {
        self.steps.iter().all(|(_, done)| *done)
    }
}

/// Notes that a call reached the transaction's clinic through the provider's webhooks, unless
/// one did before: the test-call step stays done once the purge deleted that call. An update that
/// finds the time already set changes (and locks) nothing.
pub async fn note_call_through_provider(txn: &TenantTxn) -> Result<(), DomainError> {
    clinic_row::Entity::update_many()
        .col_expr(
            clinic_row::Column::FirstCallAt,
            Expr::value(Some(txn.now())),
        )
        .filter(clinic_row::Column::Id.eq(txn.clinic_id()))
        .filter(clinic_row::Column::FirstCallAt.is_null())
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Where the clinic stands; `billing_on` adds the plan step.
pub async fn checklist(txn: &TenantTxn, billing_on: bool) -> Result<Checklist, DomainError> {
    let settings = clinic::get(txn).await?;
    let has_number = txn
        .find::<provider_number::Entity>()
        .filter(provider_number::Column::StoppedAt.is_null())
        .one(txn.conn())
        .await?
        .is_some();
    let has_call = txn
        .find::<call::Entity>()
        .filter(call::Column::Provider.eq(PROVIDER_NAME))
        .one(txn.conn())
        .await?
        .is_some();
    let mut steps = vec![
        (SetupStep::TextingNumber, has_number),
        (
            SetupStep::ForwardingLine,
            settings.forwarding_line_sealed.is_some(),
        ),
        (SetupStep::BusinessHours, settings.business_hours.is_some()),
        (
            SetupStep::TextBackWording,
            settings.text_back_wording_saved_at.is_some()
                || settings.text_back_template_open.is_some()
                || settings.text_back_template_closed.is_some(),
        ),
        (
            SetupStep::TestCall,
            settings.first_call_at.is_some() || has_call,
        ),
    ];
    if billing_on {
        steps.push((SetupStep::Plan, billing::has_running_plan(&settings)));
    }
    Ok(Checklist { steps })
}
