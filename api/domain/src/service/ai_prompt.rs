//! What the AI receptionist tells the model: a system prompt built only from the clinic's own
//! settings (name, kind, tone, description, opening hours, intake questions, the names of its
//! services) and the rules it must keep, and the tools it may ask for, each with its input's JSON
//! schema. Nothing here holds a phone number, a caller key or another caller's words: the clinic's
//! description and every text of the conversation pass through `ringback_shared::redact` first, and the
//! prompt never names a caller.

use chrono::{Datelike, NaiveDate, Weekday};
use ringback_entity::clinic as clinic_row;
use ringback_providers::anthropic::ToolDefinition;
use ringback_shared::ai::Service;
use ringback_shared::hours::{BusinessHours, format_day};
use ringback_shared::redact::remove_numbers;
use serde_json::json;

use crate::service::ai_settings::AiSettings;
use crate::service::clinic;

/// Most tool-use rounds in one answer; then the agent hands the conversation to staff.
pub const MAX_STEPS: usize = 6;
/// Most times one answer takes in texts the caller wrote while the model thought (each asks the
/// model again); a caller who keeps writing past it is handed to staff.
pub const MAX_TAKEN_IN: usize = 4;
/// Most answers the AI writes in one conversation in 24 hours; the next caller text goes to staff.
/// A caller's auto-responder ("I'm driving") answering every answer would otherwise use up the
/// clinic's daily texts and the month's AI budget in a loop, as would a caller who never stops.
pub const MAX_ANSWERS_A_DAY: u64 = 20;
/// Tokens the model may write in one turn (a text is short).
pub const MAX_TOKENS: u32 = 600;

/// The tools' names, as the model asks for them.
pub mod tool {
    pub const FIND_SLOTS: &str = "find_slots";
    pub const BOOK_APPOINTMENT: &str = "book_appointment";
    pub const QUOTE: &str = "quote";
    pub const HAND_OFF: &str = "hand_off";
    pub const SAVE_DETAILS: &str = "save_details";
}

/// The name of every tool in [`tools`].
pub const TOOL_NAMES: [&str; 5] = [
    tool::FIND_SLOTS,
    tool::BOOK_APPOINTMENT,
    tool::QUOTE,
    tool::HAND_OFF,
    tool::SAVE_DETAILS,
];

/// The tools the model may ask for; our code runs each inside the clinic's scope.
pub fn tools() -> Vec<ToolDefinition> {
    let define = |name: &str, description: &str, schema: serde_json::Value| ToolDefinition {
        name: name.to_owned(),
        description: description.to_owned(),
        input_schema: schema,
    };
    vec![
        define(
            tool::FIND_SLOTS,
            "Free appointment slots between two days (inclusive), for one service of the price list \
             (or a standard 30-minute visit when none fits). Returns local start times.",
            json!({ "type": "object", "properties": {
                "from": { "type": "string", "format": "date", "description": "first day, YYYY-MM-DD" },
                "to": { "type": "string", "format": "date", "description": "last day, YYYY-MM-DD" },
                "kind": { "type": "string", "description": "the service's name from the price list" } },
                "required": ["from", "to"] }),
        ),
        define(
            tool::BOOK_APPOINTMENT,
            "Books the caller into one slot that find_slots returned. Refused if it was taken \
             meanwhile: then offer another.",
            json!({ "type": "object", "properties": {
                "slot": { "type": "string", "description": "a start time exactly as find_slots gave it" },
                "kind": { "type": "string", "description": "the service's name from the price list" } },
                "required": ["slot"] }),
        ),
        define(
            tool::QUOTE,
            "The price (or price range) of a service, from the clinic's own price list. Never state \
             a price that this tool did not give.",
            json!({ "type": "object", "properties": {
                "service": { "type": "string" } }, "required": ["service"] }),
        ),
        define(
            tool::HAND_OFF,
            "Hands the conversation to the clinic's staff and stops answering: for emergencies, \
             complaints, anything out of scope, or when the caller asks for a person.",
            json!({ "type": "object", "properties": {
                "reason": { "type": "string", "description": "why, in a few plain words" } },
                "required": ["reason"] }),
        ),
        define(
            tool::SAVE_DETAILS,
            "Saves the caller's answers to the intake questions (question → answer).",
            json!({ "type": "object", "properties": {
                "fields": { "type": "object", "additionalProperties": { "type": "string" } } },
                "required": ["fields"] }),
        ),
    ]
}

/// What the prompt says about the clinic itself.
pub struct ClinicFacts {
    pub name: String,
    pub kind: String,
    pub hours: BusinessHours,
}

impl ClinicFacts {
    /// The facts `clinic` holds.
    pub fn of(clinic: &clinic_row::Model) -> Self {
        Self {
            name: clinic.name.clone(),
            kind: clinic.kind.clone(),
            hours: clinic::business_hours(clinic),
        }
    }
}

/// The system prompt for `clinic` with `settings` and its `services`, on the clinic-local day
/// `today`.
pub fn system_prompt(
    clinic: &ClinicFacts,
    settings: &AiSettings,
    services: &[Service],
    today: NaiveDate,
) -> String {
    let mut prompt = format!(
        "You answer text messages for {name}, a {kind} business, as its receptionist. Write in a \
         {tone} tone, in at most two short sentences a message, in the caller's language. \
         Today is {today} ({weekday}).\n",
        name = remove_numbers(&clinic.name),
        kind = kind_in_words(&clinic.kind),
        tone = settings.tone,
        weekday = weekday_name(today.weekday()),
    );
    if let Some(description) = &settings.business_description {
        prompt.push_str(&format!(
            "About the business: {}\n",
            remove_numbers(description)
        ));
    }
    prompt.push_str("Opening hours:\n");
    let mut day = Weekday::Mon;
    for spans in &clinic.hours.days {
        let open = format_day(spans);
        let open = if open.is_empty() {
            "closed".to_owned()
        } else {
            open
        };
        prompt.push_str(&format!("- {}: {open}\n", weekday_name(day)));
        day = day.succ();
    }
    if !services.is_empty() {
        let names: Vec<String> = services.iter().map(|s| remove_numbers(&s.name)).collect();
        prompt.push_str(&format!("Services: {}.\n", names.join("; ")));
    }
    if !settings.intake_questions.is_empty() {
        prompt.push_str(
            "Before booking, find out (one question at a time, save answers with save_details):\n",
        );
        for question in &settings.intake_questions {
            prompt.push_str(&format!("- {}\n", remove_numbers(question)));
        }
    }
    prompt.push_str(RULES);
    if clinic.kind == "dental" {
        prompt.push_str(DENTAL_RULES);
    }
    prompt
}

/// The rules every clinic's receptionist keeps.
const RULES: &str = "Rules:\n\
- Offer only times find_slots returned and book only with book_appointment; never say a booking \
  is made unless book_appointment confirmed it.\n\
- State prices only as the quote tool gives them; if a service is not on the price list, say \
  the team will confirm the price.\n\
- Emergencies, danger to anyone, complaints, or anything you cannot help with: use hand_off at \
  once.\n\
- Never ask for or repeat phone numbers, payment details or passwords.\n\
- If the caller asks for a person, use hand_off.\n";

/// What a dental clinic's receptionist never does.
const DENTAL_RULES: &str = "- Never ask about or discuss symptoms, medication, medical history \
  or treatment advice; for anything clinical or urgent pain, use hand_off.\n";

fn kind_in_words(kind: &str) -> &'static str {
    match kind {
        "dental" => "dental practice",
        "trade" => "trades",
        _ => "local",
    }
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// A text of the conversation (the caller's or to the caller) as the model may see it:
/// number-like runs removed; a text with no words (a picture message, say) says so, as the model
/// reads no empty text.
pub fn text_for_model(text: &str) -> String {
    let shown = remove_numbers(text);
    if shown.trim().is_empty() {
        "[a text with no words]".to_owned()
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringback_shared::redact::holds_number;

    fn settings(kind: &str) -> AiSettings {
        AiSettings {
            enabled: true,
            tone: "friendly".to_owned(),
            business_description: Some(
                "Emergency plumbing; call 07700 900123 out of hours".to_owned(),
            ),
            intake_questions: ringback_shared::ai::default_intake(kind),
            follow_up_minutes: None,
            monthly_token_budget: 100_000,
            standard_visit_value_minor: 0,
        }
    }

    fn facts(kind: &str) -> ClinicFacts {
        ClinicFacts {
            name: "Riverside +44 7700 900456".to_owned(),
            kind: kind.to_owned(),
            hours: BusinessHours::default(),
        }
    }

    fn service() -> Service {
        Service {
            name: "Boiler service".to_owned(),
            price_from_minor: 8_000,
            price_to_minor: None,
            duration_minutes: 60,
            estimated_value_minor: 8_000,
        }
    }

    #[test]
    fn the_prompt_holds_the_clinic_and_no_number() {
        let day = NaiveDate::from_ymd_opt(2030, 3, 4).expect("a day");
        let prompt = system_prompt(&facts("trade"), &settings("trade"), &[service()], day);
        assert!(!holds_number(&prompt), "{prompt}");
        assert!(prompt.contains("Boiler service"));
        assert!(prompt.contains("Monday: 09:00–17:30"));
        assert!(prompt.contains("Sunday: closed"));
        assert!(prompt.contains("What is the job?"));
        assert!(
            !prompt.contains("symptoms"),
            "dental rules are for dental clinics"
        );
        let dental = system_prompt(&facts("dental"), &settings("dental"), &[], day);
        assert!(dental.contains("Never ask about or discuss symptoms"));
        assert!(!holds_number(&dental));
    }

    #[test]
    fn every_tool_has_a_schema_with_its_required_fields() {
        let tools = tools();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                tool::FIND_SLOTS,
                tool::BOOK_APPOINTMENT,
                tool::QUOTE,
                tool::HAND_OFF,
                tool::SAVE_DETAILS
            ]
        );
        for tool in &tools {
            let required = tool.input_schema["required"].as_array().expect("required");
            for field in required {
                let field = field.as_str().expect("a name");
                assert!(
                    tool.input_schema["properties"][field].is_object(),
                    "{} {field}",
                    tool.name
                );
            }
        }
        assert_eq!(
            text_for_model("ring me on 07700900123"),
            "ring me on [number removed]"
        );
    }
}
