//! The AI receptionist's settings as both sides check them: the tones it may take, how long its
//! description and intake questions may be, the follow-up wait, monthly token budget and standard
//! visit's value it accepts,
//! the intake each kind of clinic starts from (dental intake never asks for clinical details), the
//! price list's rules, and what a dental clinic's privacy notice must say once it turns the AI on.

use serde::{Deserialize, Serialize};

/// Tones the AI may write in.
pub const TONES: &[&str] = &["friendly", "professional", "brief"];
/// The tone a clinic starts with.
pub const DEFAULT_TONE: &str = "friendly";
/// Longest business description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// Most intake questions.
pub const MAX_INTAKE_QUESTIONS: usize = 8;
/// Longest intake question, in characters.
pub const MAX_QUESTION_CHARS: usize = 200;
/// Shortest and longest wait before the one follow-up, in minutes (15 minutes to 2 days).
pub const FOLLOW_UP_MINUTES: (i32, i32) = (15, 2_880);
/// Smallest and largest monthly budget of model tokens.
pub const TOKEN_BUDGET: (i64, i64) = (10_000, 100_000_000);
/// The budget a clinic starts with (a few hundred conversations a month).
pub const DEFAULT_TOKEN_BUDGET: i64 = 2_000_000;
/// Most services in a price list.
pub const MAX_SERVICES: usize = 100;
/// Longest service name, in characters.
pub const MAX_SERVICE_NAME_CHARS: usize = 80;
/// Shortest and longest service duration, in minutes.
pub const SERVICE_MINUTES: (i32, i32) = (5, 600);
/// Highest price or value, in minor units (10 million in major units).
pub const MAX_MINOR: i64 = 1_000_000_000;

/// What a dental clinic's privacy notice must tell patients once the AI answers their texts.
pub const DENTAL_PRIVACY_NOTICE: &str = "Turning the AI receptionist on means patients' replies \
    are answered by an automated assistant (Anthropic's Claude) that offers appointment times and \
    books them. Tell patients in your privacy notice: that texts may be answered automatically, \
    that the assistant sees their messages without their phone number, that it never asks for \
    clinical details and hands anything else to your team, and that they can ask for a person at \
    any time. If you promise patients no automated decision-making, leave it off.";

/// Whether the AI still answers a conversation (`conversations.ai_state`).
pub mod state {
    /// The AI answers the caller.
    pub const ACTIVE: &str = "active";
    /// The AI handed the caller to staff (emergency, out of scope, budget, outage).
    pub const HANDED_OFF: &str = "handed_off";
    /// A member of staff took the conversation over.
    pub const TAKEN_OVER: &str = "taken_over";
}

/// Most intake details kept for one conversation.
pub const MAX_DETAILS: usize = 12;
/// Longest intake answer kept, in characters.
pub const MAX_DETAIL_CHARS: usize = 300;
/// Longest hand-off reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// The label of a member's switch for the e-mail they get when the AI hands a caller to them, as
/// the dashboard shows it and the mail names it.
pub const HAND_OFF_MAIL_SWITCH: &str = "E-mail me when the AI receptionist hands a caller to me";

/// Why AI settings or a service were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AiSettingsError {
    #[error("tone must be one of: {}", TONES.join(", "))]
    Tone,
    #[error("the business description has at most {MAX_DESCRIPTION_CHARS} characters")]
    Description,
    #[error(
        "at most {MAX_INTAKE_QUESTIONS} intake questions of 1 to {MAX_QUESTION_CHARS} characters each"
    )]
    Intake,
    #[error("the follow-up wait is {} to {} minutes", FOLLOW_UP_MINUTES.0, FOLLOW_UP_MINUTES.1)]
    FollowUp,
    #[error("the monthly token budget is {} to {}", TOKEN_BUDGET.0, TOKEN_BUDGET.1)]
    Budget,
    #[error("a service name has 1 to {MAX_SERVICE_NAME_CHARS} characters")]
    ServiceName,
    #[error(
        "prices and values are 0 to {MAX_MINOR} in minor units, and a range's top is not below its bottom"
    )]
    Price,
    #[error("a service takes {} to {} minutes", SERVICE_MINUTES.0, SERVICE_MINUTES.1)]
    Duration,
    #[error("a standard visit's value is 0 to {MAX_MINOR} in minor units")]
    StandardVisitValue,
}

/// The intake questions a clinic of `kind` starts with.
pub fn default_intake(kind: &str) -> Vec<String> {
    let questions: &[&str] = match kind {
        "dental" => &[
            "Are you a new or an existing patient?",
            "Is it for a check-up, a problem or pain, cosmetic treatment, or something else?",
        ],
        "trade" => &[
            "What is the job?",
            "Which area or postcode district is it in?",
            "How urgent is it?",
        ],
        _ => &["What can we help with?"],
    };
    questions.iter().map(|q| (*q).to_owned()).collect()
}

/// Checks a tone.
pub fn check_tone(tone: &str) -> Result<(), AiSettingsError> {
    TONES
        .contains(&tone)
        .then_some(())
        .ok_or(AiSettingsError::Tone)
}

/// Checks a business description (already trimmed).
pub fn check_description(description: &str) -> Result<(), AiSettingsError> {
    (description.chars().count() <= MAX_DESCRIPTION_CHARS)
        .then_some(())
        .ok_or(AiSettingsError::Description)
}

/// Trims intake questions, drops empty ones, and checks what is left.
pub fn clean_intake(questions: &[String]) -> Result<Vec<String>, AiSettingsError> {
    let cleaned: Vec<String> = questions
        .iter()
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty())
        .collect();
    let fits = cleaned.len() <= MAX_INTAKE_QUESTIONS
        && cleaned
            .iter()
            .all(|q| q.chars().count() <= MAX_QUESTION_CHARS);
    fits.then_some(cleaned).ok_or(AiSettingsError::Intake)
}

/// Checks a follow-up wait (`None`: no follow-ups).
pub fn check_follow_up(minutes: Option<i32>) -> Result<(), AiSettingsError> {
    match minutes {
        Some(m) if !(FOLLOW_UP_MINUTES.0..=FOLLOW_UP_MINUTES.1).contains(&m) => {
            Err(AiSettingsError::FollowUp)
        }
        _ => Ok(()),
    }
}

/// Checks a monthly token budget.
pub fn check_budget(tokens: i64) -> Result<(), AiSettingsError> {
    (TOKEN_BUDGET.0..=TOKEN_BUDGET.1)
        .contains(&tokens)
        .then_some(())
        .ok_or(AiSettingsError::Budget)
}

/// Checks what a standard visit (a booking without a service from the price list) is worth, in
/// minor units.
pub fn check_standard_visit_value(minor: i64) -> Result<(), AiSettingsError> {
    (0..=MAX_MINOR)
        .contains(&minor)
        .then_some(())
        .ok_or(AiSettingsError::StandardVisitValue)
}

/// One entry of a clinic's price list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    /// The price, or the bottom of its range, in minor units.
    pub price_from_minor: i64,
    /// The top of the range, when the price is a range.
    pub price_to_minor: Option<i64>,
    pub duration_minutes: i32,
    /// What a booking of it is worth to the clinic (the appointment's value), in minor units.
    pub estimated_value_minor: i64,
}

impl Service {
    /// The service with its name trimmed, if every field is within its rules.
    pub fn checked(mut self) -> Result<Self, AiSettingsError> {
        self.name = self.name.trim().to_owned();
        let name_chars = self.name.chars().count();
        if name_chars == 0 || name_chars > MAX_SERVICE_NAME_CHARS {
            return Err(AiSettingsError::ServiceName);
        }
        let in_range = |minor: i64| (0..=MAX_MINOR).contains(&minor);
        let prices_fit = in_range(self.price_from_minor)
            && in_range(self.estimated_value_minor)
            && self
                .price_to_minor
                .is_none_or(|to| in_range(to) && to >= self.price_from_minor);
        if !prices_fit {
            return Err(AiSettingsError::Price);
        }
        if !(SERVICE_MINUTES.0..=SERVICE_MINUTES.1).contains(&self.duration_minutes) {
            return Err(AiSettingsError::Duration);
        }
        Ok(self)
    }

    /// The price as a caller reads it: `£80` or `£80 to £120` (whole units without pence).
    pub fn price_in_words(&self, currency: &str) -> String {
        let from = money(self.price_from_minor, currency);
        match self.price_to_minor {
            Some(to) if to != self.price_from_minor => format!("{from} to {}", money(to, currency)),
            _ => from,
        }
    }
}

/// An amount in minor units as a caller reads it.
fn money(minor: i64, currency: &str) -> String {
    let symbol = match currency {
        "GBP" => "£",
        "EUR" => "€",
        "USD" | "AUD" | "CAD" | "NZD" => "$",
        _ => "",
    };
    let (whole, cents) = (minor / 100, minor % 100);
    let amount = if cents == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{cents:02}")
    };
    if symbol.is_empty() {
        format!("{amount} {currency}")
    } else {
        format!("{symbol}{amount}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Service {
        Service {
            name: "  Boiler service ".to_owned(),
            price_from_minor: 8_000,
            price_to_minor: Some(12_050),
            duration_minutes: 60,
            estimated_value_minor: 10_000,
        }
    }

    #[test]
    fn services_are_checked_and_priced_in_words() {
        let checked = service().checked().expect("valid");
        assert_eq!(checked.name, "Boiler service");
        assert_eq!(checked.price_in_words("GBP"), "£80 to £120.50");
        let fixed = Service {
            price_to_minor: None,
            ..checked.clone()
        };
        assert_eq!(fixed.price_in_words("AUD"), "$80");
        assert_eq!(fixed.price_in_words("SEK"), "80 SEK");
        let upside_down = Service {
            price_to_minor: Some(100),
            ..checked.clone()
        };
        assert_eq!(upside_down.checked(), Err(AiSettingsError::Price));
        let nameless = Service {
            name: "  ".to_owned(),
            ..checked.clone()
        };
        assert_eq!(nameless.checked(), Err(AiSettingsError::ServiceName));
        let endless = Service {
            duration_minutes: 601,
            ..checked
        };
        assert_eq!(endless.checked(), Err(AiSettingsError::Duration));
    }

    #[test]
    fn settings_are_bounded() {
        assert!(check_tone("friendly").is_ok());
        assert_eq!(check_tone("sarcastic"), Err(AiSettingsError::Tone));
        assert!(check_follow_up(None).is_ok());
        assert!(check_follow_up(Some(60)).is_ok());
        assert_eq!(check_follow_up(Some(5)), Err(AiSettingsError::FollowUp));
        assert!(check_budget(DEFAULT_TOKEN_BUDGET).is_ok());
        assert_eq!(check_budget(0), Err(AiSettingsError::Budget));
        let cleaned = clean_intake(&[" What is the job? ".to_owned(), "".to_owned()]);
        assert_eq!(cleaned, Ok(vec!["What is the job?".to_owned()]));
        let too_many = vec!["Why?".to_owned(); MAX_INTAKE_QUESTIONS + 1];
        assert_eq!(clean_intake(&too_many), Err(AiSettingsError::Intake));
        assert!(check_description(&"x".repeat(MAX_DESCRIPTION_CHARS + 1)).is_err());
        assert!(check_standard_visit_value(0).is_ok());
        assert!(check_standard_visit_value(MAX_MINOR).is_ok());
        for outside in [-1, MAX_MINOR + 1] {
            assert_eq!(
                check_standard_visit_value(outside),
                Err(AiSettingsError::StandardVisitValue)
            );
        }
    }

    #[test]
    fn dental_intake_asks_nothing_clinical() {
        let intake = default_intake("dental").join(" ").to_lowercase();
        for clinical in ["symptom", "medication", "diagnos", "medical history"] {
            assert!(!intake.contains(clinical), "{clinical}");
        }
        assert_eq!(default_intake("trade").len(), 3);
    }
}
