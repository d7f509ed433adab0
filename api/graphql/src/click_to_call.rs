//! Click-to-call over GraphQL (receptionists and up, signed in as a person): `callBack` rings the
//! staff member's phone and connects them to a missed caller without the number ever reaching the
//! browser; `setMyCallbackLine` chooses the phone rung first; `callBackSetup` says whether calling
//! back from the dashboard is possible and which phone it rings.

use async_graphql::{Context, ID, Object, SimpleObject};
use ringback_shared::access::Permission;

use crate::error::graphql_error;
use crate::guard::{Access, principal, uuid_arg, with_tenant};
use ringback_domain::Backend;
use ringback_domain::service::{click_to_call, clinic};

/// Whether "Call back" works here, and what it rings.
#[derive(SimpleObject)]
pub struct CallBackSetup {
    /// True when the dashboard can place callbacks (a phone provider is configured and the clinic
    /// keeps numbers sealed in the `text_back` privacy mode).
    pub available: bool,
    /// Why not, in staff's words, when it is not available.
    pub unavailable_reason: Option<String>,
    /// The masked tail of your own callback line, if you set one.
    pub my_line_tail: Option<String>,
    /// The masked tail of the phone a callback rings first (yours, else the clinic's line).
    pub rings_tail: Option<String>,
}

/// A callback the phone provider is placing.
#[derive(SimpleObject)]
pub struct CallBackPlaced {
    /// The masked tail of the phone that is ringing now: answer it to be connected.
    pub ringing_tail: String,
}

#[derive(Default)]
pub struct ClickToCallQuery;

#[Object]
impl ClickToCallQuery {
    /// Whether "Call back" works here, and which phone it rings.
    async fn call_back_setup(&self, ctx: &Context<'_>) -> async_graphql::Result<CallBackSetup> {
        let backend = ctx.data::<Backend>()?;
        let configured = backend.voice.is_some();
        with_tenant(
            ctx,
            Access::Read(Permission::WorkCalls),
            async |txn, principal| {
                let settings = clinic::get(txn).await?;
                let my_line_tail = match principal.user_id() {
                    Ok(user) => click_to_call::callback_line_tail(txn, user).await?,
                    Err(_) => None,
                };
                let unavailable_reason = if settings.privacy_mode != clinic::TEXT_BACK_MODE {
                    Some(click_to_call::STRICT_MODE_NOTE.to_owned())
                } else if !configured {
                    Some(click_to_call::NO_PROVIDER.to_owned())
                } else {
                    None
                };
                Ok(CallBackSetup {
                    available: unavailable_reason.is_none(),
                    unavailable_reason,
                    rings_tail: my_line_tail.clone().or(settings.forwarding_line_tail),
                    my_line_tail,
                })
            },
        )
        .await
    }
}

#[derive(Default)]
pub struct ClickToCallMutation;

#[Object]
impl ClickToCallMutation {
    /// Rings your callback line (else the clinic's forwarding line); when you answer, you are
    /// connected to the caller of missed call `callId`, shown the clinic's number. The outcome is
    /// recorded as a callback. CONFLICT while a callback to the caller is under way (yours too,
    /// unless Twilio never answered about it and a minute has passed); BAD_USER_INPUT when your
    /// callback phone is one of the clinic's numbers. Audited; at most 10 a minute per person.
    async fn call_back(
        &self,
        ctx: &Context<'_>,
        call_id: ID,
    ) -> async_graphql::Result<CallBackPlaced> {
        let backend = ctx.data::<Backend>()?;
        let principal = principal(ctx).await?;
        let placing = async {
            let scope = principal.require_write(Permission::WorkCalls)?;
            let user = principal.user_id()?;
            let call_id = uuid_arg(&call_id)?;
            backend.rate_limits.callback(user)?;
            click_to_call::place(
                scope,
                &backend.secrets,
                backend.voice.as_ref(),
                user,
                call_id,
            )
            .await
        };
        let placed = placing.await.map_err(graphql_error)?;
        Ok(CallBackPlaced {
            ringing_tail: placed.ringing_tail,
        })
    }

    /// Sets (or with null clears) the phone Ringback rings first when you call a caller back: not
    /// one of the clinic's own numbers (BAD_USER_INPUT). Stored sealed; only its last digits are
    /// shown. Returns them.
    async fn set_my_callback_line(
        &self,
        ctx: &Context<'_>,
        number: Option<String>,
    ) -> async_graphql::Result<Option<String>> {
        let backend = ctx.data::<Backend>()?;
        with_tenant(
            ctx,
            Access::Write(Permission::WorkCalls),
            async |txn, principal| {
                let user = principal.user_id()?;
                click_to_call::set_callback_line(txn, &backend.secrets, user, number.as_deref())
                    .await
            },
        )
        .await
    }
}
