//! Whether a missed caller may be texted back, decided the same way wherever it is decided: only
//! callers who rang us (the missed call is their consent to be contacted about it), never an
//! opted-out caller, never a fixed line, never a number in a country the clinic does not text,
//! never when the clinic turned text-backs off, not for calls reported too late to be useful, never
//! while billing has stopped the clinic's text-backs, and never beyond its allowance for the period
//! or its (or the reporting API key's) daily limit. A text that waited (the clinic's delay, a
//! retry) does not go to a caller who was spoken with or booked meanwhile, nor a day after the
//! call.

use chrono::TimeDelta;

use crate::attribution::CallRecord;

/// Calls reported later than this after they started are not texted back.
pub const MAX_AGE: TimeDelta = TimeDelta::minutes(30);

/// A text-back that could not go within this time of its missed call (the provider down through
/// every retry, or a deployment that had no phone provider yet) is not sent: "sorry we missed
/// you" days later would read as a mistake.
pub const SEND_WITHIN: TimeDelta = TimeDelta::hours(24);

/// Why a missed caller is not texted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    Disabled,
    OptedOut,
    Landline,
    TooOld,
    /// Already texted within the last 24 hours.
    Duplicate,
    /// The text would go beyond the allowance of the clinic's plan (or its own cap) this period.
    OverQuota,
    /// Billing stopped text-backs: the trial ended, the subscription is cancelled or unpaid, or a
    /// payment stayed overdue past its grace period.
    Billing,
    /// The number belongs to a country the clinic does not text.
    OtherCountry,
    /// The clinic (or the API key that reported the call) reached its texts for 24 hours.
    DailyLimit,
    /// The caller asked the clinic to restrict the processing of their data: no texts, no AI, no
    /// conversation; the call is counted but stored without their key.
    Restricted,
    /// The caller withheld their number: the call is counted, stored without a key, and there is
    /// nobody to text.
    Withheld,
    /// The provider reported a caller ID that cannot be read as a phone number: the call is
    /// counted like a withheld one, and there is nobody to text.
    Unreadable,
    /// By the time the text was to go (after the clinic's delay, or a retry), the caller had been
    /// spoken with (an answered call either way) or booked since the missed call.
    SpokenWithSince,
}

impl SkipReason {
    /// The status recorded on the call, e.g. `skipped:landline`.
    pub fn status(self) -> &'static str {
        match self {
            SkipReason::Disabled => "skipped:disabled",
            SkipReason::OptedOut => "skipped:opted_out",
            SkipReason::Landline => "skipped:landline",
            SkipReason::TooOld => "skipped:too_old",
            SkipReason::Duplicate => "skipped:duplicate",
            SkipReason::OverQuota => "skipped:over_quota",
            SkipReason::Billing => "skipped:billing",
            SkipReason::OtherCountry => "skipped:other_country",
            SkipReason::DailyLimit => "skipped:daily_limit",
            SkipReason::Restricted => "skipped:restricted",
            SkipReason::Withheld => "skipped:withheld",
            SkipReason::Unreadable => "skipped:unreadable",
            SkipReason::SpokenWithSince => "skipped:spoken_with",
        }
    }
}

/// How every [`SkipReason::status`] begins.
const SKIPPED_PREFIX: &str = "skipped:";

/// Whether a call's text-back `status` says no text was to be sent (rather than queued, sent or
/// tried).
pub fn is_skipped(status: &str) -> bool {
    status.starts_with(SKIPPED_PREFIX)
}

/// Whether a text-back is no longer owed as it is about to go: since the missed call, one of the
/// caller's `later_calls` was answered (a callback that reached them, or a call from them that
/// the clinic took), or they were `booked_since`. Unanswered callbacks and further missed calls
/// leave it owed.
pub fn settled_since(later_calls: &[CallRecord], booked_since: bool) -> bool {
    booked_since
        || later_calls
            .iter()
            .any(|call| call.recovery_touch_kind().is_some())
}

/// What is known about a missed call when it is recorded.
#[derive(Clone, Copy, Debug)]
pub struct MissedCallFacts {
    pub text_back_enabled: bool,
    pub opted_out: bool,
    /// False for fixed lines and other numbers that cannot receive SMS.
    pub accepts_sms: bool,
    /// How long after the call started it was reported.
    pub reported_after: TimeDelta,
    /// Whether this caller was texted back in the last 24 hours.
    pub texted_in_last_day: bool,
    /// Whether billing has stopped the clinic's text-backs.
    pub billing_stopped: bool,
    /// Whether this text would go beyond the clinic's allowance for the period.
    pub over_quota: bool,
    /// Whether the number belongs to a country the clinic texts.
    pub in_texted_country: bool,
    /// Whether the clinic, or the API key behind the report, reached its texts for 24 hours.
    pub over_daily_limit: bool,
}

/// `Ok` to queue a text-back, or the first reason not to (checked in this order).
pub fn decide(facts: MissedCallFacts) -> Result<(), SkipReason> {
    if !facts.text_back_enabled {
        return Err(SkipReason::Disabled);
    }
    if facts.opted_out {
        return Err(SkipReason::OptedOut);
    }
    if !facts.accepts_sms {
        return Err(SkipReason::Landline);
    }
    if !facts.in_texted_country {
        return Err(SkipReason::OtherCountry);
    }
    if facts.reported_after > MAX_AGE {
        return Err(SkipReason::TooOld);
    }
    if facts.texted_in_last_day {
        return Err(SkipReason::Duplicate);
    }
    if facts.billing_stopped {
        return Err(SkipReason::Billing);
    }
    if facts.over_quota {
        return Err(SkipReason::OverQuota);
    }
    if facts.over_daily_limit {
        return Err(SkipReason::DailyLimit);
    }
    Ok(())
}

/// A call's text-back status in words staff understand (`skipped:landline` → "Not sent: a
/// landline"); unknown statuses are shown as they are.
pub fn status_words(status: Option<&str>) -> String {
    let words = match status {
        None => "No text-back",
        Some("queued") => "Queued",
        Some("sending") => "Sending",
        Some("sent") => "Sent",
        Some("delivered") => "Delivered",
        Some("undelivered") => "Not delivered",
        Some("failed") => "Failed to send",
        Some("cancelled") => "Cancelled",
        Some("received") => "Received",
        Some("skipped:disabled") => "Not sent: text-backs are off",
        Some("skipped:opted_out") => "Not sent: the caller opted out",
        Some("skipped:landline") => "Not sent: a landline",
        Some("skipped:too_old") => "Not sent: reported too late",
        Some("skipped:duplicate") => "Not sent: texted in the last 24 hours",
        Some("skipped:over_quota") => "Not sent: this period's text allowance is used",
        Some("skipped:billing") => "Not sent: billing has paused text-backs",
        Some("skipped:other_country") => "Not sent: a number abroad",
        Some("skipped:daily_limit") => "Not sent: daily texting limit reached",
        Some("skipped:restricted") => "Not sent: the caller restricted processing",
        Some("skipped:withheld") => "Not sent: the caller withheld their number",
        Some("skipped:unreadable") => "Not sent: the caller's number could not be read",
        Some("skipped:spoken_with") => "Not sent: spoken with or booked since the call",
        Some(other) => other,
    };
    words.to_owned()
}

/// Why a text was not delivered, in words staff can act on, from the provider's error code
/// (Twilio's `ErrorCode` on a delivery report); a code without words of its own is named.
pub fn delivery_problem(code: i64) -> String {
    let words = match code {
        30003 => "the phone was switched off or out of signal",
        30004 => "the caller's phone or network blocks these texts",
        30005 => "the number does not exist or is no longer in use",
        30006 => "the number cannot receive texts (a landline, or a network that refuses them)",
        30007 => "the network filtered it as unwanted",
        30032 | 30034 => "the sending number is not registered for texting there",
        30008 => "the network did not say why",
        _ => return format!("error {code}"),
    };
    format!("{words} (error {code})")
}

/// A text's status (or a call's text-back's) in words, with why it was not delivered when the
/// provider said so: "Not delivered: the phone was switched off or out of signal (error 30003)".
pub fn delivery_words(status: Option<&str>, error: Option<i64>) -> String {
    let words = status_words(status);
    match error {
        Some(code) if matches!(status, Some("undelivered" | "failed")) => {
            format!("{words}: {}", delivery_problem(code))
        }
        _ => words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_back_is_settled_by_an_answered_call_or_a_booking_since() {
        use crate::attribution::{CallDirection, CallOutcome};
        let call = |direction, outcome| CallRecord {
            id: uuid::Uuid::nil(),
            caller_key: "v1:ab".to_owned(),
            at: chrono::DateTime::UNIX_EPOCH,
            direction,
            outcome,
        };
        let unanswered = [
            call(CallDirection::Outbound, CallOutcome::NoAnswer),
            call(CallDirection::Inbound, CallOutcome::Busy),
        ];
        assert!(!settled_since(&unanswered, false));
        assert!(settled_since(&unanswered, true));
        assert!(settled_since(
            &[call(CallDirection::Outbound, CallOutcome::Answered)],
            false
        ));
        assert!(settled_since(
            &[call(CallDirection::Inbound, CallOutcome::Answered)],
            false
        ));
    }

    #[test]
    fn an_undelivered_text_says_why() {
        assert_eq!(
            delivery_words(Some("undelivered"), Some(30003)),
            "Not delivered: the phone was switched off or out of signal (error 30003)"
        );
        assert_eq!(
            delivery_words(Some("failed"), Some(30999)),
            "Failed to send: error 30999"
        );
        assert_eq!(delivery_words(Some("undelivered"), None), "Not delivered");
        assert_eq!(
            delivery_words(Some("delivered"), Some(30003)),
            "Delivered",
            "a code on a delivered text says nothing"
        );
    }

    #[test]
    fn every_skip_reads_as_skipped_and_in_words() {
        let reasons = [
            SkipReason::Disabled,
            SkipReason::OptedOut,
            SkipReason::Landline,
            SkipReason::TooOld,
            SkipReason::Duplicate,
            SkipReason::OverQuota,
            SkipReason::Billing,
            SkipReason::OtherCountry,
            SkipReason::DailyLimit,
            SkipReason::Restricted,
            SkipReason::Withheld,
            SkipReason::Unreadable,
            SkipReason::SpokenWithSince,
        ];
        for reason in reasons {
            assert!(is_skipped(reason.status()), "{reason:?}");
            assert_ne!(status_words(Some(reason.status())), reason.status());
        }
        for status in [
            "queued",
            "sending",
            "sent",
            "delivered",
            "undelivered",
            "failed",
        ] {
            assert!(!is_skipped(status), "{status}");
        }
    }

    fn facts() -> MissedCallFacts {
        MissedCallFacts {
            text_back_enabled: true,
            opted_out: false,
            accepts_sms: true,
            reported_after: TimeDelta::seconds(5),
            texted_in_last_day: false,
            billing_stopped: false,
            over_quota: false,
            in_texted_country: true,
            over_daily_limit: false,
        }
    }

    #[test]
    fn a_fresh_mobile_caller_is_texted() {
        assert_eq!(decide(facts()), Ok(()));
    }

    #[test]
    fn each_rule_has_its_reason() {
        assert_eq!(
            decide(MissedCallFacts {
                text_back_enabled: false,
                ..facts()
            }),
            Err(SkipReason::Disabled)
        );
        assert_eq!(
            decide(MissedCallFacts {
                opted_out: true,
                ..facts()
            }),
            Err(SkipReason::OptedOut)
        );
        assert_eq!(
            decide(MissedCallFacts {
                accepts_sms: false,
                ..facts()
            }),
            Err(SkipReason::Landline)
        );
        assert_eq!(
            decide(MissedCallFacts {
                reported_after: TimeDelta::hours(2),
                ..facts()
            }),
            Err(SkipReason::TooOld)
        );
        assert_eq!(
            decide(MissedCallFacts {
                texted_in_last_day: true,
                ..facts()
            }),
            Err(SkipReason::Duplicate)
        );
        assert_eq!(
            decide(MissedCallFacts {
                over_quota: true,
                ..facts()
            }),
            Err(SkipReason::OverQuota)
        );
        assert_eq!(
            decide(MissedCallFacts {
                billing_stopped: true,
                over_quota: true,
                ..facts()
            }),
            Err(SkipReason::Billing)
        );
        assert_eq!(
            decide(MissedCallFacts {
                in_texted_country: false,
                ..facts()
            }),
            Err(SkipReason::OtherCountry)
        );
        assert_eq!(
            decide(MissedCallFacts {
                over_daily_limit: true,
                ..facts()
            }),
            Err(SkipReason::DailyLimit)
        );
    }

    #[test]
    fn an_opt_out_outranks_everything_but_the_switch() {
        let everything = MissedCallFacts {
            text_back_enabled: true,
            opted_out: true,
            accepts_sms: false,
            reported_after: TimeDelta::hours(2),
            texted_in_last_day: true,
            billing_stopped: true,
            over_quota: true,
            in_texted_country: false,
            over_daily_limit: true,
        };
        assert_eq!(decide(everything), Err(SkipReason::OptedOut));
    }
}
