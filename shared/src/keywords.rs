//! SMS keywords that change whether a caller may be texted: the message must be just the keyword
//! (any case, surrounding spaces and a trailing full stop or exclamation mark ignored), as carriers
//! expect.

/// What a keyword asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsKeyword {
    /// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT: no more texts.
    Stop,
    /// START, UNSTOP, YES: texts again.
    Start,
    /// HELP, INFO: the clinic's help text.
    Help,
}

/// The provider's own list (Twilio's default opt-out keywords), so that a caller the provider
/// stops texting is on the clinic's list too.
const STOP: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const START: &[&str] = &["START", "UNSTOP", "YES"];
const HELP: &[&str] = &["HELP", "INFO"];

/// The keyword `body` is, if it is one.
pub fn classify(body: &str) -> Option<SmsKeyword> {
    let word = body
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_ascii_uppercase();
    if STOP.contains(&word.as_str()) {
        Some(SmsKeyword::Stop)
    } else if START.contains(&word.as_str()) {
        Some(SmsKeyword::Start)
    } else if HELP.contains(&word.as_str()) {
        Some(SmsKeyword::Help)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_in_any_case() {
        for word in [
            "stop",
            "StopAll",
            "UNSUBSCRIBE",
            "cancel",
            "end",
            " quit. ",
            "Revoke",
            "optout",
        ] {
            assert_eq!(classify(word), Some(SmsKeyword::Stop), "{word}");
        }
        for word in ["start", "Unstop", "YES!"] {
            assert_eq!(classify(word), Some(SmsKeyword::Start), "{word}");
        }
        assert_eq!(classify("help"), Some(SmsKeyword::Help));
        assert_eq!(classify("Info"), Some(SmsKeyword::Help));
    }

    #[test]
    fn sentences_are_not_keywords() {
        assert_eq!(classify("Please stop by on Tuesday"), None);
        assert_eq!(classify("yes please, a check-up"), None);
        assert_eq!(classify(""), None);
    }
}
