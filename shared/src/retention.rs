//! How long a clinic keeps what, decided the same way in the purge and on the Privacy page.
//!
//! Call-related data (calls, callbacks, text-back jobs, provider-event records) is kept for the
//! clinic's call retention, at most [`MAX_CALL_DAYS`] and at least a week longer than its
//! attribution window ([`min_call_days`]). Conversations and their messages are kept
//! for the clinic's conversation retention ([`MIN_CONVERSATION_DAYS`] to [`MAX_CONVERSATION_DAYS`],
//! by default [`DEFAULT_CONVERSATION_DAYS`]), except that a clinic in `strict` mode keeps none
//! beyond its call retention. Dead letters go after [`DEAD_LETTER_DAYS`].

use std::ops::RangeInclusive;

use crate::metrics::FIGURES_REACH_DAYS;

/// The most days any clinic keeps call-related data, and the default.
pub const MAX_CALL_DAYS: i32 = 90;
/// The days a clinic may choose to keep call-related data.
pub const CALL_DAYS: RangeInclusive<i32> = 1..=MAX_CALL_DAYS;
/// The fewest days a clinic keeps conversations (staff need time to answer).
pub const MIN_CONVERSATION_DAYS: i32 = 30;
/// The most days a clinic keeps conversations.
pub const MAX_CONVERSATION_DAYS: i32 = 3650;
/// The days a clinic may choose to keep conversations.
pub const CONVERSATION_DAYS: RangeInclusive<i32> = MIN_CONVERSATION_DAYS..=MAX_CONVERSATION_DAYS;
/// Conversation retention of a new clinic.
pub const DEFAULT_CONVERSATION_DAYS: i32 = 365;
/// Days a dead letter is kept for staff to retry.
pub const DEAD_LETTER_DAYS: i32 = 30;

/// The fewest days a clinic whose attribution window is `window_days` keeps calls: a booking
/// looks back over the window for the call it recovered, a day's figures look back
/// [`FIGURES_REACH_DAYS`] (a callback or a reply counted on a later day than what it answers),
/// and the purge goes by whole local days. Calls purged sooner would freeze today's figures and
/// refuse today's bookings, their calls already gone.
pub fn min_call_days(window_days: i32) -> i32 {
    let reach = i32::try_from(FIGURES_REACH_DAYS).unwrap_or(i32::MAX);
    window_days.max(1).saturating_add(reach).saturating_add(1)
}

/// A clinic's retention settings as stored, with the attribution window the calls must outlast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub call_days: i32,
    pub conversation_days: i32,
    /// The clinic is in `strict` privacy mode.
    pub strict: bool,
    /// The clinic's attribution window, in days.
    pub window_days: i32,
}

impl Retention {
    /// Days call-related data is kept: the clinic's choice, never above [`MAX_CALL_DAYS`] nor
    /// below what the figures need ([`min_call_days`]; a setting stored before that rule is kept
    /// to it).
    pub fn call_days(self) -> i32 {
        let least = min_call_days(self.window_days).min(MAX_CALL_DAYS);
        self.call_days.clamp(least, MAX_CALL_DAYS)
    }

    /// Days conversations and messages are kept: the clinic's choice within
    /// [`CONVERSATION_DAYS`], never below what the figures need ([`min_call_days`]: a reply
    /// recovers a booking over the attribution window too), and in strict mode never beyond the
    /// call retention.
    pub fn conversation_days(self) -> i32 {
        let least = MIN_CONVERSATION_DAYS.max(min_call_days(self.window_days));
        let chosen = self
            .conversation_days
            .clamp(least.min(MAX_CONVERSATION_DAYS), MAX_CONVERSATION_DAYS);
        if self.strict {
            chosen.min(self.call_days())
        } else {
            chosen
        }
    }

    /// What is deleted when, in plain words for the Privacy page.
    pub fn in_words(self) -> Vec<String> {
        let mut lines = vec![format!(
            "Calls, callbacks, text-back records and provider reports: deleted after {} days.",
            self.call_days()
        )];
        lines.push(
            if self.strict && self.conversation_days() < self.conversation_days {
                format!(
                    "Conversations and messages: deleted after {} days (strict mode keeps them no \
                 longer than calls).",
                    self.conversation_days()
                )
            } else {
                format!(
                    "Messages: deleted {0} days after they were sent; a conversation: {0} days \
                     after its last message.",
                    self.conversation_days()
                )
            },
        );
        lines.push(format!(
            "Texts that could not be sent: deleted after {DEAD_LETTER_DAYS} days."
        ));
        lines.push(
            "Daily and monthly figures are kept: they cannot be traced back to a caller."
                .to_owned(),
        );
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_mode_keeps_conversations_no_longer_than_calls() {
        let text_back = Retention {
            call_days: 60,
            conversation_days: 365,
            strict: false,
            window_days: 7,
        };
        assert_eq!(text_back.conversation_days(), 365);
        let strict = Retention {
            strict: true,
            ..text_back
        };
        assert_eq!(strict.conversation_days(), 60);
        assert!(strict.in_words()[1].contains("60 days (strict mode"));
        // Each message goes once as old as the setting, whatever came after it.
        assert!(
            text_back.in_words()[1].contains("Messages: deleted 365 days after they were sent"),
            "{:?}",
            text_back.in_words()
        );
    }

    #[test]
    fn stored_values_out_of_range_are_held_to_the_limits() {
        let odd = Retention {
            call_days: 400,
            conversation_days: 3,
            strict: false,
            window_days: 7,
        };
        assert_eq!(odd.call_days(), MAX_CALL_DAYS);
        assert_eq!(odd.conversation_days(), MIN_CONVERSATION_DAYS);
        // Calls outlast the attribution window and the figures' week: a day set before that
        // rule counts as the least allowed.
        let short = Retention {
            call_days: 3,
            window_days: 30,
            ..odd
        };
        assert_eq!(min_call_days(7), 15);
        assert_eq!(short.call_days(), 38);
        assert!(short.in_words()[0].contains("after 38 days"));
        // Conversations too: a reply recovers a booking over the window.
        assert_eq!(short.conversation_days(), 38);
        let default_window = Retention {
            conversation_days: 30,
            ..odd
        };
        assert_eq!(default_window.conversation_days(), MIN_CONVERSATION_DAYS);
    }
}
