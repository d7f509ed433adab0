//! Who is still waiting for a callback: a caller whose missed inbound calls came after the last
//! time anyone actually spoke with them (an answered callback, or an answered call from them),
//! after their last booking, and after staff last dismissed them with a reason. Unanswered callback
//! attempts do not end the wait; they are counted so staff see them. Calls stored under a stand-in
//! key (a restricted or erased caller) wait for nobody.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::attribution::{CallDirection, CallRecord};
use crate::caller_key::is_anonymous;

/// Something that ends a caller's wait for the missed calls before it: a booking, or staff
/// dismissing the caller. A missed call after it starts a new wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitEnd {
    pub caller_key: String,
    pub at: DateTime<Utc>,
}

/// Why staff took a caller off the worklist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DismissalReason {
    Spam,
    WrongNumber,
    NoActionNeeded,
    HandledElsewhere,
}

impl DismissalReason {
    /// Every reason, in the order the dashboard offers them.
    pub const ALL: [DismissalReason; 4] = [
        DismissalReason::NoActionNeeded,
        DismissalReason::HandledElsewhere,
        DismissalReason::WrongNumber,
        DismissalReason::Spam,
    ];

    /// The stored name, e.g. `wrong_number`.
    pub fn as_str(self) -> &'static str {
        match self {
            DismissalReason::Spam => "spam",
            DismissalReason::WrongNumber => "wrong_number",
            DismissalReason::NoActionNeeded => "no_action_needed",
            DismissalReason::HandledElsewhere => "handled_elsewhere",
        }
    }

    /// Parses [`DismissalReason::as_str`]'s output.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == name)
    }

    /// The reason in plain words, for staff.
    pub fn words(self) -> &'static str {
        match self {
            DismissalReason::Spam => "Spam",
            DismissalReason::WrongNumber => "Wrong number",
            DismissalReason::NoActionNeeded => "No action needed",
            DismissalReason::HandledElsewhere => "Already handled elsewhere",
        }
    }
}

/// A caller waiting for a callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub caller_key: String,
    /// The first missed call since the caller was last spoken with.
    pub first_missed_at: DateTime<Utc>,
    /// The latest missed call: the one a callback answers.
    pub latest_missed: Uuid,
    pub latest_missed_at: DateTime<Utc>,
    /// Missed calls since the caller was last spoken with.
    pub missed_calls: usize,
    /// Callback attempts nobody answered since then.
    pub attempts: usize,
}

/// The waiting callers among `calls` (any order), given what ended waits (`ends`: bookings and
/// dismissals, any order), longest-waiting first (ties by caller key).
pub fn waiting(calls: &[CallRecord], ends: &[WaitEnd]) -> Vec<Waiting> {
    let mut by_caller: BTreeMap<&str, Vec<&CallRecord>> = BTreeMap::new();
    // A caller stored under a stand-in key (restricted, or erased) is nobody to call back.
    for call in calls.iter().filter(|call| !is_anonymous(&call.caller_key)) {
        by_caller.entry(&call.caller_key).or_default().push(call);
    }
    let mut last_end: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for end in ends {
        let latest = last_end.entry(&end.caller_key).or_insert(end.at);
        *latest = (*latest).max(end.at);
    }
    let mut waiting: Vec<Waiting> = by_caller
        .into_values()
        .filter_map(|mut history| {
            history.sort_by_key(|call| (call.at, call.id));
            let spoken = history
                .iter()
                .rposition(|call| call.recovery_touch_kind().is_some());
            let since = &history[spoken.map_or(0, |index| index + 1)..];
            let ended = last_end.get(first_key(&history)).copied();
            let missed: Vec<&&CallRecord> = since
                .iter()
                .filter(|c| c.is_missed_inbound() && ended.is_none_or(|end| c.at > end))
                .collect();
            let (first, latest) = (missed.first()?, missed.last()?);
            Some(Waiting {
                caller_key: first.caller_key.clone(),
                first_missed_at: first.at,
                latest_missed: latest.id,
                latest_missed_at: latest.at,
                missed_calls: missed.len(),
                attempts: since
                    .iter()
                    .filter(|c| c.direction == CallDirection::Outbound && c.at >= first.at)
                    .count(),
            })
        })
        .collect();
    waiting.sort_by(|a, b| {
        (a.first_missed_at, &a.caller_key).cmp(&(b.first_missed_at, &b.caller_key))
    });
    waiting
}

/// The caller key of a caller's (non-empty) history.
fn first_key<'c>(history: &[&'c CallRecord]) -> &'c str {
    history.first().map_or("", |call| call.caller_key.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::CallOutcome;
    use chrono::TimeZone;

    fn call(
        n: u128,
        key: &str,
        minute: u32,
        direction: CallDirection,
        outcome: CallOutcome,
    ) -> CallRecord {
        CallRecord {
            id: Uuid::from_u128(n),
            caller_key: key.to_owned(),
            at: Utc.with_ymd_and_hms(2026, 11, 20, 9, minute, 0).unwrap(),
            direction,
            outcome,
        }
    }

    #[test]
    fn callers_wait_until_someone_speaks_with_them() {
        use CallDirection::{Inbound, Outbound};
        use CallOutcome::{Answered, Busy, NoAnswer};
        let calls = vec![
            // a: missed twice, one unanswered attempt: still waiting.
            call(1, "a", 10, Inbound, NoAnswer),
            call(2, "a", 12, Outbound, NoAnswer),
            call(3, "a", 14, Inbound, Busy),
            // b: missed, then called back and answered: done.
            call(4, "b", 5, Inbound, NoAnswer),
            call(5, "b", 20, Outbound, Answered),
            // c: answered before, missed after: waiting since the miss.
            call(6, "c", 1, Inbound, Answered),
            call(7, "c", 30, Inbound, NoAnswer),
            // d: rang back and got through: done.
            call(8, "d", 2, Inbound, NoAnswer),
            call(9, "d", 3, Inbound, Answered),
        ];
        let list = waiting(&calls, &[]);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].caller_key, "a");
        assert_eq!(list[0].missed_calls, 2);
        assert_eq!(list[0].attempts, 1);
        assert_eq!(list[0].latest_missed, Uuid::from_u128(3));
        assert_eq!(list[1].caller_key, "c");
        assert_eq!(list[1].missed_calls, 1);
    }

    #[test]
    fn a_booking_or_a_dismissal_ends_the_wait_until_the_next_miss() {
        use CallDirection::Inbound;
        use CallOutcome::NoAnswer;
        let calls = vec![
            call(1, "booked", 10, Inbound, NoAnswer),
            call(2, "dismissed", 10, Inbound, NoAnswer),
            call(3, "again", 10, Inbound, NoAnswer),
            call(4, "again", 30, Inbound, NoAnswer),
        ];
        let end = |key: &str, minute: u32| WaitEnd {
            caller_key: key.to_owned(),
            at: Utc.with_ymd_and_hms(2026, 11, 20, 9, minute, 0).unwrap(),
        };
        let ends = [end("booked", 20), end("dismissed", 11), end("again", 20)];
        let list = waiting(&calls, &ends);
        assert_eq!(list.len(), 1, "{list:?}");
        assert_eq!(list[0].caller_key, "again");
        assert_eq!(list[0].missed_calls, 1, "only the miss after the dismissal");
        assert_eq!(list[0].latest_missed, Uuid::from_u128(4));
        assert_eq!(
            waiting(&calls, &[end("booked", 5)]).len(),
            3,
            "a booking before the miss ends nothing"
        );
    }

    #[test]
    fn reasons_round_trip() {
        for reason in DismissalReason::ALL {
            assert_eq!(DismissalReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(DismissalReason::parse("bored"), None);
    }
}
