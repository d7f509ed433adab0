//! Stripe, for billing: its settings (`RINGBACK_STRIPE_SECRET_KEY`, `RINGBACK_STRIPE_WEBHOOK_SECRET`,
//! `RINGBACK_STRIPE_API_URL`), the plan catalogue (`[[plans]]`), the trial and grace periods, and
//! the signature its webhooks carry ([`signature`]), and the client billing uses ([`client`]). Without a secret key billing is off: a
//! self-hosted deployment runs every clinic without limits.

pub mod client;
pub mod event;
pub mod signature;

use ringback_core::settings::{ConfigError, RawSettings, SecretString};

/// Stripe's public API.
pub const DEFAULT_API_URL: &str = "https://api.stripe.com";
/// A new clinic's trial, unless configured: its length in days and its text allowance.
pub const DEFAULT_TRIAL_DAYS: u32 = 14;
pub const DEFAULT_TRIAL_SMS: u32 = 50;
/// Days a clinic whose payment failed keeps texting before text-backs pause.
pub const DEFAULT_GRACE_DAYS: u32 = 7;
/// The billing meter's event name that overage prices bill, unless configured.
pub const DEFAULT_METER_EVENT: &str = "ringback_sms_segments";

/// One plan a clinic can subscribe to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Our name for it (`starter`), as the API and the dashboard use it.
    pub key: String,
    /// What the dashboard shows (`Starter`).
    pub name: String,
    /// Its Stripe price id (`price_…`), billed per period.
    pub price: String,
    /// SMS segments included per billing period.
    pub sms_per_period: u32,
    /// A metered Stripe price for segments beyond the allowance; without one, text-backs beyond
    /// it are skipped.
    pub overage_price: Option<String>,
}

/// Billing's settings, when billing is on.
#[derive(Clone, Debug)]
pub struct BillingSettings {
    pub secret_key: SecretString,
    pub webhook_secret: SecretString,
    pub api_url: String,
    pub plans: Vec<Plan>,
    pub trial_days: u32,
    pub trial_sms: u32,
    pub grace_days: u32,
    /// The event name of the Stripe meter behind the plans' overage prices: SMS segments beyond
    /// the allowance are reported under it.
    pub meter_event: String,
}

impl BillingSettings {
    /// Billing's settings, `None` (billing off) without a secret key; with one, every other
    /// setting must be present and well formed, and the error names the one that is not.
    pub fn from_settings(settings: &RawSettings) -> Result<Option<Self>, ConfigError> {
        let Some(secret_key) = settings.parse("stripe_secret_key", parse_secret_key)? else {
            return Ok(None);
        };
        let webhook_secret = settings
            .parse("stripe_webhook_secret", parse_webhook_secret)?
            .ok_or_else(|| ConfigError::Missing {
                key: settings.origin("stripe_webhook_secret"),
                hint: "billing is on (a Stripe secret key is set): give the webhook endpoint's \
                       signing secret (whsec_…) from Stripe's dashboard"
                    .to_owned(),
            })?;
        let days = |key: &str, default: u32, range: std::ops::RangeInclusive<u32>| {
            settings
                .parse(key, |value| parse_in(value, &range))
                .map(|parsed| parsed.unwrap_or(default))
        };
        let live = is_live_mode(&secret_key);
        Ok(Some(Self {
            secret_key,
            webhook_secret,
            api_url: settings
                .parse("stripe_api_url", crate::parse_base_url)?
                .unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            plans: plans(settings, live)?,
            trial_days: days("trial_days", DEFAULT_TRIAL_DAYS, 0..=365)?,
            trial_sms: days("trial_sms", DEFAULT_TRIAL_SMS, 0..=100_000)?,
            grace_days: days("past_due_grace_days", DEFAULT_GRACE_DAYS, 0..=60)?,
            meter_event: settings
                .parse("stripe_meter_event", parse_meter_event)?
                .unwrap_or_else(|| DEFAULT_METER_EVENT.to_owned()),
        }))
    }

    /// The plan named `key`.
    pub fn plan(&self, key: &str) -> Option<&Plan> {
        self.plans.iter().find(|plan| plan.key == key)
    }

    /// The plan billed at Stripe price `price`.
    pub fn plan_with_price(&self, price: &str) -> Option<&Plan> {
        self.plans.iter().find(|plan| plan.price == price)
    }
}

fn parse_secret_key(value: &str) -> Result<SecretString, String> {
    let well_formed = ["sk_test_", "sk_live_", "rk_test_", "rk_live_"]
        .iter()
        .any(|prefix| value.starts_with(prefix) && value.len() > prefix.len() + 8)
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if well_formed {
        Ok(SecretString::new(value))
    } else {
        Err("expected a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_…)".to_owned())
    }
}

fn parse_webhook_secret(value: &str) -> Result<SecretString, String> {
    if value.starts_with("whsec_") && value.len() > 16 && !value.contains(char::is_whitespace) {
        Ok(SecretString::new(value))
    } else {
        Err("expected a webhook signing secret (whsec_…)".to_owned())
    }
}

fn parse_meter_event(value: &str) -> Result<String, String> {
    let well_formed = !value.is_empty()
        && value.len() <= 100
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if well_formed {
        Ok(value.to_owned())
    } else {
        Err("expected a meter event name (letters, digits, _ - .)".to_owned())
    }
}

fn parse_in(value: &str, range: &std::ops::RangeInclusive<u32>) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "expected a whole number from {} to {}",
                range.start(),
                range.end()
            )
        })
}

/// Whether `key` reaches Stripe's live mode, where clinics pay real money.
fn is_live_mode(key: &SecretString) -> bool {
    ["sk_live_", "rk_live_"]
        .iter()
        .any(|prefix| key.expose().starts_with(prefix))
}

/// The catalogue from `[[plans]]`, or the default one (in test mode only: its price ids are
/// placeholders that a live Stripe account refuses, so no clinic could ever pay).
fn plans(settings: &RawSettings, live: bool) -> Result<Vec<Plan>, ConfigError> {
    let Some((origin, value)) = settings.plans() else {
        if live {
            return Err(ConfigError::Missing {
                key: "[[plans]] (or RINGBACK_PLANS)".to_owned(),
                hint: "a live Stripe key is set: list the deployment's own plans with their \
                       Stripe price ids (the default catalogue's prices are placeholders)"
                    .to_owned(),
            });
        }
        return Ok(default_plans());
    };
    let malformed = |reason: String| ConfigError::Malformed {
        key: origin.to_owned(),
        reason,
    };
    let tables = value
        .as_array()
        .ok_or_else(|| malformed("expected [[plans]] tables".to_owned()))?;
    let mut plans: Vec<Plan> = Vec::with_capacity(tables.len());
    for (index, entry) in tables.iter().enumerate() {
        let plan = plan_from(entry)
            .map_err(|reason| malformed(format!("plan {}: {reason}", index + 1)))?;
        if plans
            .iter()
            .any(|known| known.key == plan.key || known.price == plan.price)
        {
            return Err(malformed(format!(
                "plan {}: its key or price is repeated",
                index + 1
            )));
        }
        plans.push(plan);
    }
    if plans.is_empty() {
        return Err(malformed("list at least one plan".to_owned()));
    }
    Ok(plans)
}

fn plan_from(entry: &toml::Value) -> Result<Plan, String> {
    let text = |name: &str| -> Result<String, String> {
        entry
            .get(name)
            .and_then(toml::Value::as_str)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("`{name}` is required text"))
    };
    let key = text("key")?;
    if !key
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err("`key` is lower-case letters, digits, - and _".to_owned());
    }
    let price = text("price")?;
    let overage_price = match entry.get("overage_price") {
        None => None,
        Some(value) => Some(
            value
                .as_str()
                .filter(|p| p.starts_with("price_"))
                .ok_or("`overage_price` is a Stripe price id (price_…)")?
                .to_owned(),
        ),
    };
    if !price.starts_with("price_") {
        return Err("`price` is a Stripe price id (price_…)".to_owned());
    }
    let sms_per_period = entry
        .get("sms_per_period")
        .and_then(toml::Value::as_integer)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or("`sms_per_period` is a whole number")?;
    Ok(Plan {
        key,
        name: text("name")?,
        price,
        sms_per_period,
        overage_price,
    })
}

/// The catalogue a deployment starts with (its price ids are placeholders: a live deployment
/// lists its own Stripe prices in `[[plans]]`).
fn default_plans() -> Vec<Plan> {
    let plan = |key: &str, name: &str, sms: u32, overage: bool| Plan {
        key: key.to_owned(),
        name: name.to_owned(),
        price: format!("price_ringback_{key}"),
        sms_per_period: sms,
        overage_price: overage.then(|| "price_ringback_sms_overage".to_owned()),
    };
    vec![
        plan("starter", "Starter", 300, false),
        plan("growth", "Growth", 1_000, true),
        plan("practice", "Practice", 3_000, true),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> RawSettings {
        RawSettings::load(
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        )
        .expect("settings")
    }

    const KEY: (&str, &str) = ("RINGBACK_STRIPE_SECRET_KEY", "sk_test_0123456789abcdef");
    const SECRET: (&str, &str) = ("RINGBACK_STRIPE_WEBHOOK_SECRET", "whsec_0123456789abcdef");

    #[test]
    fn billing_is_off_without_a_secret_key() {
        assert!(
            BillingSettings::from_settings(&settings(&[]))
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn a_missing_or_malformed_setting_is_named() {
        let error = BillingSettings::from_settings(&settings(&[KEY])).expect_err("no secret");
        assert!(
            error.to_string().contains("RINGBACK_STRIPE_WEBHOOK_SECRET"),
            "{error}"
        );
        let error = BillingSettings::from_settings(&settings(&[
            ("RINGBACK_STRIPE_SECRET_KEY", "pk_test_public"),
            SECRET,
        ]))
        .expect_err("a publishable key");
        assert!(
            error.to_string().contains("RINGBACK_STRIPE_SECRET_KEY"),
            "{error}"
        );
        assert!(
            !error.to_string().contains("pk_test_public"),
            "secrets are not echoed"
        );
        let error = BillingSettings::from_settings(&settings(&[
            KEY,
            SECRET,
            (
                "RINGBACK_PLANS",
                r#"[{ key = "x", name = "X", price = "nope", sms_per_period = 1 }]"#,
            ),
        ]))
        .expect_err("a bad price");
        assert!(
            error.to_string().contains("RINGBACK_PLANS") && error.to_string().contains("price"),
            "{error}"
        );
    }

    #[test]
    fn a_live_key_needs_the_deployments_own_plans() {
        let live = ("RINGBACK_STRIPE_SECRET_KEY", "sk_live_0123456789abcdef");
        let error = BillingSettings::from_settings(&settings(&[live, SECRET]))
            .expect_err("placeholder prices with a live key");
        assert!(error.to_string().contains("[[plans]]"), "{error}");
        assert!(
            !error.to_string().contains("sk_live_"),
            "secrets are not echoed"
        );
        let listed = BillingSettings::from_settings(&settings(&[
            live,
            SECRET,
            (
                "RINGBACK_PLANS",
                r#"[{ key = "solo", name = "Solo", price = "price_1", sms_per_period = 200 }]"#,
            ),
        ]))
        .expect("ok")
        .expect("on");
        assert_eq!(listed.plans.len(), 1);
    }

    #[test]
    fn plans_come_from_the_catalogue_or_the_default() {
        let on = BillingSettings::from_settings(&settings(&[KEY, SECRET]))
            .expect("ok")
            .expect("on");
        assert_eq!(on.plans.len(), 3);
        assert_eq!((on.trial_days, on.trial_sms, on.grace_days), (14, 50, 7));
        let custom = BillingSettings::from_settings(&settings(&[
            KEY,
            SECRET,
            (
                "RINGBACK_PLANS",
                r#"[{ key = "solo", name = "Solo", price = "price_1", sms_per_period = 200, overage_price = "price_2" }]"#,
            ),
            ("RINGBACK_TRIAL_DAYS", "30"),
        ]))
        .expect("ok")
        .expect("on");
        assert_eq!(custom.plans.len(), 1);
        assert_eq!(custom.plan("solo").map(|p| p.sms_per_period), Some(200));
        assert_eq!(
            custom.plan_with_price("price_1").map(|p| p.key.as_str()),
            Some("solo")
        );
        assert_eq!(custom.trial_days, 30);
    }
}
