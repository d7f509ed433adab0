//! SMS keywords that change whether a caller may be texted: the message must be just the keyword
//! (any case, surrounding spaces and a trailing full stop or exclamation mark ignored), as carriers
//! expect. A short plain request to stop is a STOP too ([`is_plain_stop_request`]: "Please stop
//! texting me", "STOP please", "unsubscribe me"): UK guidance expects any clear opt-out to be
//! honoured, not only the bare word.

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

/// The words a plain request to stop is made of: a word that asks to stop, and nothing but
/// these around it (so "Please stop by on Tuesday" is a reply, not a STOP).
const STOP_REQUEST_WORDS: &[&str] = &[
    "stop",
    "stopall",
    "unsubscribe",
    "optout",
    "please",
    "pls",
    "plz",
    "texting",
    "text",
    "texts",
    "messaging",
    "message",
    "messages",
    "sending",
    "send",
    "me",
    "now",
    "all",
    "these",
    "them",
    "thanks",
    "thank",
    "you",
    "unsub",
];
/// Of those, the words that ask to stop ("opt out" and "opt-out" are read as one).
const STOP_REQUEST_VERBS: &[&str] = &["stop", "stopall", "unsubscribe", "optout", "unsub"];
/// The most words a plain request to stop has.
const STOP_REQUEST_MOST_WORDS: usize = 8;

/// Whether `body` is a short plain request to stop being texted: at most
/// [`STOP_REQUEST_MOST_WORDS`] words (punctuation ignored), one of them asking to stop, every
/// one from [`STOP_REQUEST_WORDS`].
pub fn is_plain_stop_request(body: &str) -> bool {
    let lower = body
        .to_lowercase()
        .replace("opt-out", "optout")
        .replace("opt out", "optout");
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    !words.is_empty()
        && words.len() <= STOP_REQUEST_MOST_WORDS
        && words.iter().any(|word| STOP_REQUEST_VERBS.contains(word))
        && words.iter().all(|word| STOP_REQUEST_WORDS.contains(word))
}

/// The keyword `body` is, if it is one.
pub fn classify(body: &str) -> Option<SmsKeyword> {
    let word = body
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_ascii_uppercase();
    // "Help?" asks for help; "Cancel?", "End?" or "Info?" may ask about an appointment or
    // answer a question, so only HELP is read through a question mark.
    let asked = word.trim_end_matches('?').trim_end();
    if STOP.contains(&word.as_str()) || is_plain_stop_request(body) {
        Some(SmsKeyword::Stop)
    } else if START.contains(&word.as_str()) {
        Some(SmsKeyword::Start)
    } else if HELP.contains(&word.as_str()) || asked == "HELP" {
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
        assert_eq!(classify("Can you stop the leak today?"), None);
        assert_eq!(classify("Cancel my appointment please"), None);
        assert_eq!(classify("Please text me back"), None);
    }

    #[test]
    fn a_plain_request_to_stop_is_a_stop() {
        for body in [
            "Please stop texting me",
            "STOP please",
            "stop, thanks",
            "Stop sending me texts!",
            "unsubscribe me",
            "Please stop now. Thank you",
            "Opt out",
            "opt-out please",
            "unsub",
            "Please stop sending me these messages thanks",
        ] {
            assert_eq!(classify(body), Some(SmsKeyword::Stop), "{body}");
        }
        assert_eq!(classify("Help?"), Some(SmsKeyword::Help));
        // Replies about the job or the channel, not requests to stop texting.
        for body in [
            "Cancel?",
            "End?",
            "Info?",
            "Can I opt out of the reminder but keep Tuesday?",
            "Please stop calling me, text me",
            "Stop it now please",
        ] {
            assert_eq!(classify(body), None, "{body}");
        }
    }
}
