//! The clinic and its settings: everyone in the clinic reads them; admins change them.

use async_graphql::{Context, InputObject, Object};
use ringback_shared::access::Permission;

use crate::guard::{Access, with_tenant};
use crate::types::Clinic;
use ringback_domain::service::clinic::{self, SettingsChange};

/// Settings to change; omitted fields stay as they are.
#[derive(InputObject, Default)]
pub struct ClinicSettingsInput {
    pub name: Option<String>,
    /// dental, trade or other.
    pub kind: Option<String>,
    pub time_zone: Option<String>,
    pub default_region: Option<String>,
    pub currency: Option<String>,
    /// 1–30 days.
    pub attribution_window_days: Option<i32>,
    /// strict or text_back.
    pub privacy_mode: Option<String>,
    /// 30–3650 days.
    pub conversation_retention_days: Option<i32>,
    /// 1–90 days.
    pub call_retention_days: Option<i32>,
}

#[derive(Default)]
pub struct ClinicQuery;

#[Object]
impl ClinicQuery {
    /// The caller's clinic and its settings.
    async fn clinic(&self, ctx: &Context<'_>) -> async_graphql::Result<Clinic> {
        let model = with_tenant(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
            clinic::get(txn).await
        })
        .await?;
        Ok(Clinic::from(&model))
    }
}

#[derive(Default)]
pub struct ClinicMutation;

#[Object]
impl ClinicMutation {
    /// Changes clinic settings; all fields are validated before anything is saved.
    async fn update_clinic_settings(
        &self,
        ctx: &Context<'_>,
        input: ClinicSettingsInput,
    ) -> async_graphql::Result<Clinic> {
        let change = SettingsChange {
            name: input.name,
            kind: input.kind,
            time_zone: input.time_zone,
            default_region: input.default_region,
            currency: input.currency,
            attribution_window_days: input.attribution_window_days,
            privacy_mode: input.privacy_mode,
            conversation_retention_days: input.conversation_retention_days,
            call_retention_days: input.call_retention_days,
            ..Default::default()
        };
        let model = with_tenant(
            ctx,
            Access::Write(Permission::ManageSettings),
            async |txn, principal| clinic::update(txn, principal.user_id()?, change).await,
        )
        .await?;
        Ok(Clinic::from(&model))
    }
}
