//! The attribution engine: decides, deterministically, which appointments were *recovered* from missed
//! calls, and why. The same function runs on the server (over one clinic's rows) and in the dashboard
//! (for what-if previews), so both always agree.
//!
//! # The rule (published; see DESIGN.md, "Attribution")
//!
//! All inputs belong to one clinic. An appointment A is **recovered** when, for the same caller key,
//! there is a missed inbound call M (no answer, busy, failed, canceled, or answered by voicemail or an
//! answering machine) and a recovery touch T with `M.at ≤ T.at ≤ A.created_at` and
//! `A.created_at − M.at ≤ window`. Recovery touches are: an answered outbound call from the clinic (a
//! callback), an inbound text reply, and an answered inbound call (a return call).
//!
//! Appointments are taken in order of creation (then id). Each takes the **latest** eligible missed call
//! that no earlier appointment has been credited with, so every missed call is credited at most once.
//! Cancelled appointments take no credit. Everything else is unattributed, with a reason.
//!
//! # Tie-breaks (so that the answer never depends on input order)
//!
//! - Missed calls are ordered by `(at, id)`; "latest" is the greatest in that order, so between two
//!   missed calls at the same instant the one with the greater id is taken first.
//! - The touch reported for a recovery is the **earliest** touch at or after the credited missed call
//!   (it is then necessarily at or before the appointment), ordered by `(at, id, kind)`.
//! - Appointments are processed, and reported, in `(created_at, id)` order.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The attribution window a clinic gets unless it chooses another.
pub const DEFAULT_WINDOW_DAYS: u32 = 7;
/// The shortest attribution window a clinic may choose.
pub const MIN_WINDOW_DAYS: u32 = 1;
/// The longest attribution window a clinic may choose.
pub const MAX_WINDOW_DAYS: u32 = 30;

/// Errors from building attribution inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributionError {
    /// The clinic asked for a window outside the allowed range.
    #[error(
        "attribution window must be between {MIN_WINDOW_DAYS} and {MAX_WINDOW_DAYS} days, got {days}"
    )]
    WindowOutOfRange {
        /// The rejected number of days.
        days: u32,
    },
}

/// How long after a missed call an appointment may still be credited to it: whole days, 1–30,
/// default 7. Serialised as the plain number of days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct AttributionWindow {
    days: u32,
}

impl AttributionWindow {
    /// A window of `days` whole days, if the clinic is allowed to choose it.
    pub fn from_days(days: u32) -> Result<Self, AttributionError> {
        if (MIN_WINDOW_DAYS..=MAX_WINDOW_DAYS).contains(&days) {
            Ok(Self { days })
        } else {
            Err(AttributionError::WindowOutOfRange { days })
        }
    }

    /// The window in whole days.
    pub fn days(self) -> u32 {
        self.days
    }

    /// The window as a duration.
    pub fn duration(self) -> TimeDelta {
        TimeDelta::days(i64::from(self.days))
    }

    /// Whether a booking made at `booked_at` can still count for a call missed at `missed_at`
    /// (a touch in between permitting): the rule [`attribute`] applies, for the worklist to warn.
    pub fn covers(self, missed_at: DateTime<Utc>, booked_at: DateTime<Utc>) -> bool {
        booked_at - missed_at <= self.duration()
    }
}

impl Default for AttributionWindow {
    fn default() -> Self {
        Self {
            days: DEFAULT_WINDOW_DAYS,
        }
    }
}

impl TryFrom<u32> for AttributionWindow {
    type Error = AttributionError;

    fn try_from(days: u32) -> Result<Self, Self::Error> {
        Self::from_days(days)
    }
}

impl From<AttributionWindow> for u32 {
    fn from(window: AttributionWindow) -> Self {
        window.days
    }
}

/// Which way a call went, from the clinic's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    /// A caller rang the clinic.
    Inbound,
    /// The clinic rang a caller.
    Outbound,
}

/// How a call ended, as reported by the phone provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// A person picked up.
    Answered,
    /// Nobody picked up before the ring timeout.
    NoAnswer,
    /// The line was busy.
    Busy,
    /// The call could not be connected.
    Failed,
    /// The caller hung up before it was answered.
    Canceled,
    /// Voicemail picked up.
    Voicemail,
    /// An answering machine picked up.
    Machine,
    /// No forwarding line was set, so nobody could answer: the caller was told they would be
    /// texted back.
    NoLine,
}

impl CallOutcome {
    /// Whether no person took the call (voicemail and machines count as missed).
    pub fn is_missed(self) -> bool {
        !matches!(self, CallOutcome::Answered)
    }
}

/// One call, as the attribution engine and the metrics need it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallRecord {
    /// The call's id.
    pub id: Uuid,
    /// The caller key (for example `v1:ab12…`) of the other party.
    pub caller_key: String,
    /// When the call started.
    pub at: DateTime<Utc>,
    /// Which way the call went.
    pub direction: CallDirection,
    /// How it ended.
    pub outcome: CallOutcome,
}

impl CallRecord {
    /// Whether this is a missed inbound call: the kind of call that recovery starts from.
    pub fn is_missed_inbound(&self) -> bool {
        self.direction == CallDirection::Inbound && self.outcome.is_missed()
    }

    /// The kind of recovery touch this call is, if it is one.
    pub fn recovery_touch_kind(&self) -> Option<RecoveryTouchKind> {
        match (self.direction, self.outcome) {
            (CallDirection::Outbound, CallOutcome::Answered) => Some(RecoveryTouchKind::Callback),
            (CallDirection::Inbound, CallOutcome::Answered) => Some(RecoveryTouchKind::ReturnCall),
            _ => None,
        }
    }
}

/// An inbound text from a caller (a reply to the text-back).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplyRecord {
    /// The message's id.
    pub id: Uuid,
    /// The caller key of the sender.
    pub caller_key: String,
    /// When it was received.
    pub at: DateTime<Utc>,
}

/// An appointment, with the value the clinic puts on it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppointmentRecord {
    /// The appointment's id.
    pub id: Uuid,
    /// The caller key of the patient or customer.
    pub caller_key: String,
    /// When the appointment was created (booked), not when it takes place.
    pub created_at: DateTime<Utc>,
    /// The clinic-provided value, in minor units of the clinic's currency (pence, cents).
    pub value_minor: i64,
    /// Whether the appointment has been cancelled.
    pub cancelled: bool,
}

/// The kinds of contact that show the clinic reached the caller after a missed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryTouchKind {
    /// An answered outbound call from the clinic.
    Callback,
    /// An inbound text reply to the text-back.
    TextReply,
    /// An answered inbound call from the caller.
    ReturnCall,
}

/// The missed call an appointment was credited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MissedCallRef {
    /// The call's id.
    pub call_id: Uuid,
    /// When it was missed.
    pub at: DateTime<Utc>,
}

/// The recovery touch that links a missed call to an appointment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecoveryTouch {
    /// What kind of touch it was.
    pub kind: RecoveryTouchKind,
    /// The id of the call or the message.
    pub id: Uuid,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// Why an appointment was not counted as recovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnattributedReason {
    /// Cancelled appointments take no credit.
    Cancelled,
    /// The caller had no missed call within the window before the appointment was created.
    NoMissedCallInWindow,
    /// There were missed calls in the window, but no recovery touch between any of them and the
    /// appointment's creation.
    NoRecoveryTouch,
    /// Every eligible missed call had already been credited to an earlier appointment.
    MissedCallsAlreadyCredited,
}

/// What the engine decided for one appointment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AttributionOutcome {
    /// The appointment was recovered from `missed_call` through `touch`.
    Recovered {
        /// The missed call credited.
        missed_call: MissedCallRef,
        /// The touch that links them.
        touch: RecoveryTouch,
    },
    /// The appointment was not recovered.
    Unattributed {
        /// Why not.
        reason: UnattributedReason,
    },
}

/// The decision for one appointment, with what the rollups need to bucket it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attribution {
    /// The appointment's id.
    pub appointment_id: Uuid,
    /// When the appointment was created.
    pub created_at: DateTime<Utc>,
    /// The clinic-provided value of the appointment, in minor units.
    pub value_minor: i64,
    /// The decision and its reason.
    pub outcome: AttributionOutcome,
}

impl Attribution {
    /// Whether the appointment was recovered.
    pub fn is_recovered(&self) -> bool {
        matches!(self.outcome, AttributionOutcome::Recovered { .. })
    }

    /// The revenue this appointment contributes: its value when recovered, else zero.
    pub fn recovered_value_minor(&self) -> i64 {
        if self.is_recovered() {
            self.value_minor
        } else {
            0
        }
    }
}

/// The result of [`attribute`]: one attribution per appointment, in `(created_at, id)` order, and
/// the totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttributionReport {
    /// One entry per input appointment, in processing order.
    pub attributions: Vec<Attribution>,
    /// How many appointments were recovered.
    pub recovered_count: u64,
    /// The summed value of recovered appointments, in minor units (saturating on overflow).
    pub recovered_revenue_minor: i64,
}

impl AttributionReport {
    /// Recovered appointments and their revenue among those created in `range`.
    pub fn recovered_between(&self, range: std::ops::Range<DateTime<Utc>>) -> (u64, i64) {
        self.attributions
            .iter()
            .filter(|a| a.is_recovered() && range.contains(&a.created_at))
            .fold((0, 0), |(count, revenue), a| {
                (count + 1, revenue.saturating_add(a.value_minor))
            })
    }
}

/// Applies the attribution rule to one clinic's calls, replies and appointments.
///
/// Input order does not matter. Calls and replies of callers without appointments are ignored.
pub fn attribute(
    window: AttributionWindow,
    calls: &[CallRecord],
    replies: &[ReplyRecord],
    appointments: &[AppointmentRecord],
) -> AttributionReport {
    let processing_order = appointments_in_processing_order(appointments);
    let callers = CallerGroups::from_appointments(appointments, &processing_order);
    let mut timelines = CallerTimelines::build(&callers, calls, replies);
    let queue = AppointmentQueue::build(&callers, appointments, &processing_order);

    let mut outcomes = vec![None; appointments.len()];
    let mut ledger = CreditLedger::default();
    for caller_appointments in queue.per_caller() {
        let Some(first) = caller_appointments.first() else {
            continue;
        };
        let (missed, touches) = timelines.for_caller(first.caller);
        ledger.reset(missed.len());
        for appointment in caller_appointments {
            let outcome = decide(window, appointment, missed, touches, &mut ledger);
            if let Some(slot) = outcomes.get_mut(appointment.processing_position) {
                *slot = Some(outcome);
            }
        }
    }

    build_report(appointments, &processing_order, &outcomes)
}

/// Interned caller keys: callers are numbered in the order their first appointment is processed.
type CallerId = usize;

/// A fast, deterministic hasher for caller keys. Caller keys are HMAC outputs that nobody can choose,
/// so there is no flooding risk to key against; and the crate takes no randomness.
#[derive(Default)]
struct CallerKeyHasher {
    state: u64,
}

impl CallerKeyHasher {
    const MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

    fn mix(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(Self::MULTIPLIER);
    }
}

impl Hasher for CallerKeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let mut tail = [0u8; 8];
        let remainder = chunks.remainder();
        if let Some(prefix) = tail.get_mut(..remainder.len()) {
            prefix.copy_from_slice(remainder);
        }
        self.mix(u64::from_le_bytes(tail) ^ ((remainder.len() as u64) << 56));
    }

    fn finish(&self) -> u64 {
        self.state
    }
}

/// The callers that have appointments, numbered densely.
struct CallerGroups<'a> {
    ids: HashMap<&'a str, CallerId, BuildHasherDefault<CallerKeyHasher>>,
}

impl<'a> CallerGroups<'a> {
    fn from_appointments(appointments: &'a [AppointmentRecord], order: &[usize]) -> Self {
        let mut ids: HashMap<&'a str, CallerId, BuildHasherDefault<CallerKeyHasher>> =
            HashMap::default();
        for appointment in order.iter().filter_map(|&index| appointments.get(index)) {
            let next_id = ids.len();
            ids.entry(appointment.caller_key.as_str())
                .or_insert(next_id);
        }
        Self { ids }
    }

    fn get(&self, caller_key: &str) -> Option<CallerId> {
        self.ids.get(caller_key).copied()
    }
}

/// Indices of `appointments` in processing order: `(created_at, id)`, then the remaining fields so
/// that even duplicated ids sort the same whatever the input order.
fn appointments_in_processing_order(appointments: &[AppointmentRecord]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..appointments.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (&appointments[a], &appointments[b]);
        (
            a.created_at,
            a.id,
            &a.caller_key,
            a.value_minor,
            a.cancelled,
        )
            .cmp(&(
                b.created_at,
                b.id,
                &b.caller_key,
                b.value_minor,
                b.cancelled,
            ))
    });
    order
}

#[derive(Clone, Copy)]
struct MissedCallEntry {
    caller: CallerId,
    at: DateTime<Utc>,
    id: Uuid,
}

#[derive(Clone, Copy)]
struct TouchEntry {
    caller: CallerId,
    at: DateTime<Utc>,
    id: Uuid,
    kind: RecoveryTouchKind,
}

impl TouchEntry {
    fn as_touch(self) -> RecoveryTouch {
        RecoveryTouch {
            kind: self.kind,
            id: self.id,
            at: self.at,
        }
    }
}

/// Every caller's missed calls and touches, grouped by caller and sorted in time within each group.
struct CallerTimelines {
    missed: Vec<MissedCallEntry>,
    touches: Vec<TouchEntry>,
    missed_cursor: usize,
    touches_cursor: usize,
}

impl CallerTimelines {
    fn build(callers: &CallerGroups<'_>, calls: &[CallRecord], replies: &[ReplyRecord]) -> Self {
        let mut missed = Vec::new();
        let mut touches = Vec::new();
        for call in calls {
            let Some(caller) = callers.get(&call.caller_key) else {
                continue;
            };
            if call.is_missed_inbound() {
                missed.push(MissedCallEntry {
                    caller,
                    at: call.at,
                    id: call.id,
                });
            } else if let Some(kind) = call.recovery_touch_kind() {
                touches.push(TouchEntry {
                    caller,
                    at: call.at,
                    id: call.id,
                    kind,
                });
            }
        }
        for reply in replies {
            if let Some(caller) = callers.get(&reply.caller_key) {
                touches.push(TouchEntry {
                    caller,
                    at: reply.at,
                    id: reply.id,
                    kind: RecoveryTouchKind::TextReply,
                });
            }
        }
        missed.sort_unstable_by_key(|entry| (entry.caller, entry.at, entry.id));
        touches.sort_unstable_by_key(|entry| (entry.caller, entry.at, entry.id, entry.kind));
        Self {
            missed,
            touches,
            missed_cursor: 0,
            touches_cursor: 0,
        }
    }

    /// The missed calls and touches of `caller`. Callers must be asked for in increasing order.
    fn for_caller(&mut self, caller: CallerId) -> (&[MissedCallEntry], &[TouchEntry]) {
        let missed = take_group(&self.missed, &mut self.missed_cursor, caller, |e| e.caller);
        let touches = take_group(&self.touches, &mut self.touches_cursor, caller, |e| {
            e.caller
        });
        (missed, touches)
    }
}

/// Advances `cursor` past groups before `caller` and returns `caller`'s run (possibly empty).
fn take_group<'e, E>(
    entries: &'e [E],
    cursor: &mut usize,
    caller: CallerId,
    caller_of: impl Fn(&E) -> CallerId,
) -> &'e [E] {
    let rest = entries.get(*cursor..).unwrap_or_default();
    let skip = rest.partition_point(|entry| caller_of(entry) < caller);
    let rest = rest.get(skip..).unwrap_or_default();
    let len = rest.partition_point(|entry| caller_of(entry) == caller);
    *cursor += skip + len;
    rest.get(..len).unwrap_or_default()
}

#[derive(Clone, Copy)]
struct QueuedAppointment {
    caller: CallerId,
    processing_position: usize,
    created_at: DateTime<Utc>,
    cancelled: bool,
}

/// Appointments grouped by caller, in processing order within each caller.
struct AppointmentQueue {
    entries: Vec<QueuedAppointment>,
}

impl AppointmentQueue {
    fn build(
        callers: &CallerGroups<'_>,
        appointments: &[AppointmentRecord],
        order: &[usize],
    ) -> Self {
        let mut entries: Vec<QueuedAppointment> = order
            .iter()
            .enumerate()
            .filter_map(|(processing_position, &index)| {
                let appointment = appointments.get(index)?;
                Some(QueuedAppointment {
                    caller: callers.get(&appointment.caller_key)?,
                    processing_position,
                    created_at: appointment.created_at,
                    cancelled: appointment.cancelled,
                })
            })
            .collect();
        entries.sort_unstable_by_key(|entry| (entry.caller, entry.processing_position));
        Self { entries }
    }

    fn per_caller(&self) -> impl Iterator<Item = &[QueuedAppointment]> {
        self.entries.chunk_by(|a, b| a.caller == b.caller)
    }
}

/// Which of one caller's missed calls are still uncredited, answering "latest uncredited at or before
/// index i" in near-constant time (a disjoint-set forest pointing leftwards, with path halving).
#[derive(Default)]
struct CreditLedger {
    /// Slot `k` stands for missed call `k − 1`; slot 0 is the sentinel "none left". A slot that points
    /// to itself is uncredited.
    parent: Vec<usize>,
}

impl CreditLedger {
    fn reset(&mut self, missed_calls: usize) {
        self.parent.clear();
        self.parent.extend(0..=missed_calls);
    }

    fn latest_uncredited_at_or_before(&mut self, index: usize) -> Option<usize> {
        let mut slot = index + 1;
        loop {
            let parent = *self.parent.get(slot)?;
            if parent == slot {
                return slot.checked_sub(1);
            }
            let grandparent = *self.parent.get(parent)?;
            if let Some(link) = self.parent.get_mut(slot) {
                *link = grandparent;
            }
            slot = grandparent;
        }
    }

    fn credit(&mut self, index: usize) {
        if let Some(link) = self.parent.get_mut(index + 1) {
            *link = index;
        }
    }
}

/// Applies the rule to one appointment, given its caller's sorted missed calls and touches.
fn decide(
    window: AttributionWindow,
    appointment: &QueuedAppointment,
    missed: &[MissedCallEntry],
    touches: &[TouchEntry],
    ledger: &mut CreditLedger,
) -> AttributionOutcome {
    let unattributed = |reason| AttributionOutcome::Unattributed { reason };
    if appointment.cancelled {
        return unattributed(UnattributedReason::Cancelled);
    }
    let created_at = appointment.created_at;
    let first_in_window = missed.partition_point(|call| !window.covers(call.at, created_at));
    let end_at_creation = missed.partition_point(|call| call.at <= created_at);
    if first_in_window >= end_at_creation {
        return unattributed(UnattributedReason::NoMissedCallInWindow);
    }

    // A missed call is eligible when some touch lies between it and the appointment, i.e. when it is
    // no later than the latest touch at or before the appointment.
    let touches_until_creation = touches.partition_point(|touch| touch.at <= created_at);
    let Some(latest_touch) = touches_until_creation
        .checked_sub(1)
        .and_then(|index| touches.get(index))
    else {
        return unattributed(UnattributedReason::NoRecoveryTouch);
    };
    let end_eligible = missed.partition_point(|call| call.at <= latest_touch.at);
    let Some(last_eligible) = end_eligible
        .checked_sub(1)
        .filter(|&i| i >= first_in_window)
    else {
        return unattributed(UnattributedReason::NoRecoveryTouch);
    };

    let credited = ledger
        .latest_uncredited_at_or_before(last_eligible)
        .filter(|&index| index >= first_in_window)
        .and_then(|index| Some((index, missed.get(index)?)));
    let Some((index, missed_call)) = credited else {
        return unattributed(UnattributedReason::MissedCallsAlreadyCredited);
    };
    let first_touch_after = touches.partition_point(|touch| touch.at < missed_call.at);
    let Some(touch) = touches.get(first_touch_after) else {
        // Unreachable: `latest_touch` is at or after the missed call.
        return unattributed(UnattributedReason::NoRecoveryTouch);
    };
    ledger.credit(index);
    AttributionOutcome::Recovered {
        missed_call: MissedCallRef {
            call_id: missed_call.id,
            at: missed_call.at,
        },
        touch: touch.as_touch(),
    }
}

fn build_report(
    appointments: &[AppointmentRecord],
    order: &[usize],
    outcomes: &[Option<AttributionOutcome>],
) -> AttributionReport {
    let attributions: Vec<Attribution> = order
        .iter()
        .zip(outcomes)
        .filter_map(|(&index, outcome)| {
            let appointment = appointments.get(index)?;
            Some(Attribution {
                appointment_id: appointment.id,
                created_at: appointment.created_at,
                value_minor: appointment.value_minor,
                outcome: (*outcome)?,
            })
        })
        .collect();
    let recovered = attributions.iter().filter(|a| a.is_recovered());
    let recovered_count = recovered.clone().count() as u64;
    let recovered_revenue_minor = recovered
        .map(Attribution::recovered_value_minor)
        .fold(0i64, i64::saturating_add);
    AttributionReport {
        attributions,
        recovered_count,
        recovered_revenue_minor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_covers_bookings_up_to_its_last_instant() {
        let window = AttributionWindow::from_days(7).expect("window");
        let missed = DateTime::parse_from_rfc3339("2026-11-01T09:00:00Z")
            .expect("instant")
            .with_timezone(&Utc);
        assert!(window.covers(missed, missed + TimeDelta::days(7)));
        assert!(!window.covers(missed, missed + TimeDelta::days(7) + TimeDelta::seconds(1)));
        assert!(window.covers(missed, missed));
    }
    use chrono::TimeZone;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, day, hour, 0, 0).unwrap()
    }

    fn call(
        n: u128,
        key: &str,
        when: DateTime<Utc>,
        direction: CallDirection,
        outcome: CallOutcome,
    ) -> CallRecord {
        CallRecord {
            id: id(n),
            caller_key: key.to_owned(),
            at: when,
            direction,
            outcome,
        }
    }

    fn missed(n: u128, key: &str, when: DateTime<Utc>) -> CallRecord {
        call(n, key, when, CallDirection::Inbound, CallOutcome::NoAnswer)
    }

    fn callback(n: u128, key: &str, when: DateTime<Utc>) -> CallRecord {
        call(n, key, when, CallDirection::Outbound, CallOutcome::Answered)
    }

    fn reply(n: u128, key: &str, when: DateTime<Utc>) -> ReplyRecord {
        ReplyRecord {
            id: id(n),
            caller_key: key.to_owned(),
            at: when,
        }
    }

    fn appointment(n: u128, key: &str, when: DateTime<Utc>, value: i64) -> AppointmentRecord {
        AppointmentRecord {
            id: id(n),
            caller_key: key.to_owned(),
            created_at: when,
            value_minor: value,
            cancelled: false,
        }
    }

    fn credited_call(report: &AttributionReport, appointment: u128) -> Option<Uuid> {
        report
            .attributions
            .iter()
            .find(|a| a.appointment_id == id(appointment))
            .and_then(|a| match a.outcome {
                AttributionOutcome::Recovered { missed_call, .. } => Some(missed_call.call_id),
                AttributionOutcome::Unattributed { .. } => None,
            })
    }

    fn reason(report: &AttributionReport, appointment: u128) -> Option<UnattributedReason> {
        report
            .attributions
            .iter()
            .find(|a| a.appointment_id == id(appointment))
            .and_then(|a| match a.outcome {
                AttributionOutcome::Unattributed { reason } => Some(reason),
                AttributionOutcome::Recovered { .. } => None,
            })
    }

    #[test]
    fn window_accepts_one_to_thirty_days_and_defaults_to_seven() {
        assert_eq!(AttributionWindow::default().days(), 7);
        assert!(AttributionWindow::from_days(1).is_ok());
        assert!(AttributionWindow::from_days(30).is_ok());
        assert_eq!(
            AttributionWindow::from_days(0),
            Err(AttributionError::WindowOutOfRange { days: 0 })
        );
        assert!(AttributionWindow::from_days(31).is_err());
        assert!(serde_json::from_str::<AttributionWindow>("31").is_err());
        let window: AttributionWindow = serde_json::from_str("14").unwrap();
        assert_eq!(window.days(), 14);
        assert_eq!(serde_json::to_string(&window).unwrap(), "14");
    }

    #[test]
    fn missed_call_then_callback_then_booking_is_recovered_with_its_reason() {
        let calls = [missed(1, "k", at(3, 9)), callback(2, "k", at(3, 10))];
        let appointments = [appointment(10, "k", at(3, 11), 12_000)];
        let report = attribute(AttributionWindow::default(), &calls, &[], &appointments);
        assert_eq!(report.recovered_count, 1);
        assert_eq!(report.recovered_revenue_minor, 12_000);
        assert_eq!(
            report.attributions[0].outcome,
            AttributionOutcome::Recovered {
                missed_call: MissedCallRef {
                    call_id: id(1),
                    at: at(3, 9)
                },
                touch: RecoveryTouch {
                    kind: RecoveryTouchKind::Callback,
                    id: id(2),
                    at: at(3, 10)
                },
            }
        );
    }

    #[test]
    fn every_missed_outcome_counts_and_answered_inbound_is_a_return_call() {
        for outcome in [
            CallOutcome::NoAnswer,
            CallOutcome::Busy,
            CallOutcome::Failed,
            CallOutcome::Canceled,
            CallOutcome::Voicemail,
            CallOutcome::Machine,
            CallOutcome::NoLine,
        ] {
            let calls = [
                call(1, "k", at(3, 9), CallDirection::Inbound, outcome),
                call(
                    2,
                    "k",
                    at(3, 10),
                    CallDirection::Inbound,
                    CallOutcome::Answered,
                ),
            ];
            let report = attribute(
                AttributionWindow::default(),
                &calls,
                &[],
                &[appointment(10, "k", at(3, 11), 1)],
            );
            assert_eq!(credited_call(&report, 10), Some(id(1)), "{outcome:?}");
        }
    }

    #[test]
    fn unanswered_outbound_call_is_not_a_touch_and_outbound_misses_are_not_missed_calls() {
        let calls = [
            missed(1, "k", at(3, 9)),
            call(
                2,
                "k",
                at(3, 10),
                CallDirection::Outbound,
                CallOutcome::NoAnswer,
            ),
        ];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &[],
            &[appointment(10, "k", at(3, 11), 1)],
        );
        assert_eq!(
            reason(&report, 10),
            Some(UnattributedReason::NoRecoveryTouch)
        );

        let outbound_only = [call(
            1,
            "k",
            at(3, 9),
            CallDirection::Outbound,
            CallOutcome::Busy,
        )];
        let report = attribute(
            AttributionWindow::default(),
            &outbound_only,
            &[reply(2, "k", at(3, 10))],
            &[appointment(10, "k", at(3, 11), 1)],
        );
        assert_eq!(
            reason(&report, 10),
            Some(UnattributedReason::NoMissedCallInWindow)
        );
    }

    #[test]
    fn touch_before_the_missed_call_does_not_count() {
        let calls = [callback(2, "k", at(3, 8)), missed(1, "k", at(3, 9))];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &[],
            &[appointment(10, "k", at(3, 11), 1)],
        );
        assert_eq!(
            reason(&report, 10),
            Some(UnattributedReason::NoRecoveryTouch)
        );
    }

    #[test]
    fn touch_after_the_appointment_does_not_count() {
        let calls = [missed(1, "k", at(3, 9)), callback(2, "k", at(3, 12))];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &[],
            &[appointment(10, "k", at(3, 11), 1)],
        );
        assert_eq!(
            reason(&report, 10),
            Some(UnattributedReason::NoRecoveryTouch)
        );
    }

    #[test]
    fn boundaries_are_inclusive() {
        let calls = [missed(1, "k", at(1, 9))];
        let replies = [reply(2, "k", at(1, 9))];
        let window = AttributionWindow::from_days(2).unwrap();
        let on_the_edge = [appointment(10, "k", at(3, 9), 1)];
        let report = attribute(window, &calls, &replies, &on_the_edge);
        assert_eq!(credited_call(&report, 10), Some(id(1)));

        let just_past = [appointment(
            10,
            "k",
            at(3, 9) + TimeDelta::nanoseconds(1),
            1,
        )];
        let report = attribute(window, &calls, &replies, &just_past);
        assert_eq!(
            reason(&report, 10),
            Some(UnattributedReason::NoMissedCallInWindow)
        );
    }

    #[test]
    fn each_appointment_takes_the_latest_missed_call_not_yet_credited() {
        // Missed calls at 9:00 (1), 10:00 (2) and 11:00 (3), one text reply at 12:00, three bookings.
        let calls = [
            missed(1, "k", at(3, 9)),
            missed(2, "k", at(3, 10)),
            missed(3, "k", at(3, 11)),
        ];
        let replies = [reply(20, "k", at(3, 12))];
        let appointments = [
            appointment(12, "k", at(3, 15), 300),
            appointment(11, "k", at(3, 14), 200),
            appointment(10, "k", at(3, 13), 100),
            appointment(13, "k", at(3, 16), 400),
        ];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &replies,
            &appointments,
        );
        assert_eq!(credited_call(&report, 10), Some(id(3)));
        assert_eq!(credited_call(&report, 11), Some(id(2)));
        assert_eq!(credited_call(&report, 12), Some(id(1)));
        assert_eq!(
            reason(&report, 13),
            Some(UnattributedReason::MissedCallsAlreadyCredited)
        );
        assert_eq!(report.recovered_count, 3);
        assert_eq!(report.recovered_revenue_minor, 600);
        let ids: Vec<Uuid> = report
            .attributions
            .iter()
            .map(|a| a.appointment_id)
            .collect();
        assert_eq!(ids, vec![id(10), id(11), id(12), id(13)]);
    }

    #[test]
    fn a_missed_call_after_the_last_touch_is_skipped_for_an_earlier_one() {
        // 9:00 missed, 10:00 callback, 11:00 missed again, 12:00 booked: only the 9:00 call has a touch
        // after it, so it is credited even though 11:00 is later.
        let calls = [
            missed(1, "k", at(3, 9)),
            callback(2, "k", at(3, 10)),
            missed(3, "k", at(3, 11)),
        ];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &[],
            &[appointment(10, "k", at(3, 12), 1)],
        );
        assert_eq!(credited_call(&report, 10), Some(id(1)));
    }

    #[test]
    fn ties_break_by_time_then_id() {
        // Two missed calls at the same instant: the greater id is "latest". Two touches at the same
        // instant: the smaller id is reported. Two appointments at the same instant: smaller id first.
        let calls = [
            missed(1, "k", at(3, 9)),
            missed(2, "k", at(3, 9)),
            callback(31, "k", at(3, 10)),
        ];
        let replies = [reply(30, "k", at(3, 10))];
        let appointments = [
            appointment(11, "k", at(3, 12), 1),
            appointment(10, "k", at(3, 12), 1),
        ];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &replies,
            &appointments,
        );
        assert_eq!(credited_call(&report, 10), Some(id(2)));
        assert_eq!(credited_call(&report, 11), Some(id(1)));
        let touch = match report.attributions[0].outcome {
            AttributionOutcome::Recovered { touch, .. } => touch,
            AttributionOutcome::Unattributed { .. } => panic!("expected a recovery"),
        };
        assert_eq!(touch.id, id(30));
        assert_eq!(touch.kind, RecoveryTouchKind::TextReply);
    }

    #[test]
    fn reported_touch_is_the_earliest_after_the_credited_missed_call() {
        let calls = [
            callback(20, "k", at(3, 8)),
            missed(1, "k", at(3, 9)),
            callback(21, "k", at(3, 11)),
        ];
        let replies = [reply(22, "k", at(3, 10))];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &replies,
            &[appointment(10, "k", at(3, 12), 1)],
        );
        match report.attributions[0].outcome {
            AttributionOutcome::Recovered { touch, .. } => assert_eq!(touch.id, id(22)),
            AttributionOutcome::Unattributed { reason } => panic!("unexpected {reason:?}"),
        }
    }

    #[test]
    fn cancelled_appointments_take_no_credit_and_leave_the_call_for_the_next() {
        let calls = [missed(1, "k", at(3, 9))];
        let replies = [reply(2, "k", at(3, 10))];
        let mut cancelled = appointment(10, "k", at(3, 11), 500);
        cancelled.cancelled = true;
        let appointments = [cancelled, appointment(11, "k", at(3, 12), 700)];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &replies,
            &appointments,
        );
        assert_eq!(reason(&report, 10), Some(UnattributedReason::Cancelled));
        assert_eq!(credited_call(&report, 11), Some(id(1)));
        assert_eq!(report.recovered_revenue_minor, 700);
    }

    #[test]
    fn callers_are_kept_apart() {
        let calls = [missed(1, "a", at(3, 9)), callback(2, "b", at(3, 10))];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &[],
            &[appointment(10, "a", at(3, 11), 1)],
        );
        assert_eq!(
            reason(&report, 10),
            Some(UnattributedReason::NoRecoveryTouch)
        );
    }

    #[test]
    fn empty_inputs_give_an_empty_report() {
        let report = attribute(AttributionWindow::default(), &[], &[], &[]);
        assert_eq!(report, AttributionReport::default());
    }

    #[test]
    fn revenue_saturates_instead_of_overflowing() {
        let calls = [missed(1, "k", at(3, 9)), missed(2, "k", at(3, 9))];
        let replies = [reply(3, "k", at(3, 10))];
        let appointments = [
            appointment(10, "k", at(3, 11), i64::MAX),
            appointment(11, "k", at(3, 12), i64::MAX),
        ];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &replies,
            &appointments,
        );
        assert_eq!(report.recovered_count, 2);
        assert_eq!(report.recovered_revenue_minor, i64::MAX);
    }

    #[test]
    fn report_round_trips_through_json() {
        let calls = [missed(1, "k", at(3, 9)), callback(2, "k", at(3, 10))];
        let report = attribute(
            AttributionWindow::default(),
            &calls,
            &[],
            &[
                appointment(10, "k", at(3, 11), 5),
                appointment(11, "k", at(3, 12), 5),
            ],
        );
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"status\":\"recovered\""));
        assert!(json.contains("\"reason\":\"missed_calls_already_credited\""));
        let back: AttributionReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }
}

/// Stable names, as stored by the server and sent over the API.
mod names {
    use super::{CallDirection, CallOutcome, RecoveryTouchKind, UnattributedReason};

    impl CallDirection {
        /// Both directions.
        pub const ALL: [CallDirection; 2] = [CallDirection::Inbound, CallDirection::Outbound];

        /// `inbound` or `outbound`.
        pub fn as_str(self) -> &'static str {
            match self {
                CallDirection::Inbound => "inbound",
                CallDirection::Outbound => "outbound",
            }
        }

        /// Parses a stored name.
        pub fn parse(name: &str) -> Option<Self> {
            Self::ALL
                .into_iter()
                .find(|direction| direction.as_str() == name)
        }
    }

    impl CallOutcome {
        /// Every outcome.
        pub const ALL: [CallOutcome; 8] = [
            CallOutcome::Answered,
            CallOutcome::NoAnswer,
            CallOutcome::Busy,
            CallOutcome::Failed,
            CallOutcome::Canceled,
            CallOutcome::Voicemail,
            CallOutcome::Machine,
            CallOutcome::NoLine,
        ];

        /// The snake_case name, e.g. `no_answer`.
        pub fn as_str(self) -> &'static str {
            match self {
                CallOutcome::Answered => "answered",
                CallOutcome::NoAnswer => "no_answer",
                CallOutcome::Busy => "busy",
                CallOutcome::Failed => "failed",
                CallOutcome::Canceled => "canceled",
                CallOutcome::Voicemail => "voicemail",
                CallOutcome::Machine => "machine",
                CallOutcome::NoLine => "no_line",
            }
        }

        /// Parses a stored name.
        pub fn parse(name: &str) -> Option<Self> {
            Self::ALL
                .into_iter()
                .find(|outcome| outcome.as_str() == name)
        }
    }

    impl RecoveryTouchKind {
        /// `callback`, `text_reply` or `return_call`.
        pub fn as_str(self) -> &'static str {
            match self {
                RecoveryTouchKind::Callback => "callback",
                RecoveryTouchKind::TextReply => "text_reply",
                RecoveryTouchKind::ReturnCall => "return_call",
            }
        }
    }

    impl UnattributedReason {
        /// The snake_case name, e.g. `no_recovery_touch`.
        pub const fn as_str(self) -> &'static str {
            match self {
                UnattributedReason::Cancelled => "cancelled",
                UnattributedReason::NoMissedCallInWindow => "no_missed_call_in_window",
                UnattributedReason::NoRecoveryTouch => "no_recovery_touch",
                UnattributedReason::MissedCallsAlreadyCredited => "missed_calls_already_credited",
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn names_round_trip() {
            for outcome in CallOutcome::ALL {
                assert_eq!(CallOutcome::parse(outcome.as_str()), Some(outcome));
            }
            for direction in CallDirection::ALL {
                assert_eq!(CallDirection::parse(direction.as_str()), Some(direction));
            }
        }
    }
}
