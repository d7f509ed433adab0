#![cfg(not(target_arch = "wasm32"))]
//! Property tests of the attribution engine: it matches a direct, slow reading of the published rule,
//! ignores input order, credits each missed call at most once, never credits outside the window or
//! without a touch, keeps callers apart, and never recovers a cancelled appointment.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use ringback_shared::attribution::{
    AppointmentRecord, Attribution, AttributionOutcome, AttributionReport, AttributionWindow,
    CallDirection, CallOutcome, CallRecord, RecoveryTouchKind, ReplyRecord, UnattributedReason,
    attribute,
};
use uuid::Uuid;

const CALLERS: [&str; 3] = ["v1:aa", "v1:bb", "v1:cc"];
const UNRELATED_CALLER: &str = "v1:unrelated";
/// Events land on whole hours of a 20-day stretch, so ties and window edges happen often.
const SPAN_HOURS: i64 = 20 * 24;

#[derive(Clone, Debug)]
struct Inputs {
    window: AttributionWindow,
    calls: Vec<CallRecord>,
    replies: Vec<ReplyRecord>,
    appointments: Vec<AppointmentRecord>,
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()
}

/// Unique ids whose order is unrelated to the events' order: a random high part, the index below.
fn unique_id(random: u32, index: usize) -> Uuid {
    Uuid::from_u128(u128::from(random) << 64 | index as u128)
}

fn outcome_strategy() -> impl Strategy<Value = CallOutcome> {
    prop_oneof![
        Just(CallOutcome::Answered),
        Just(CallOutcome::NoAnswer),
        Just(CallOutcome::Busy),
        Just(CallOutcome::Failed),
        Just(CallOutcome::Canceled),
        Just(CallOutcome::Voicemail),
        Just(CallOutcome::Machine),
    ]
}

fn direction_strategy() -> impl Strategy<Value = CallDirection> {
    prop_oneof![Just(CallDirection::Inbound), Just(CallDirection::Outbound)]
}

fn inputs_for(callers: &'static [&'static str], id_offset: usize) -> impl Strategy<Value = Inputs> {
    let caller = 0..callers.len();
    let hour = 0..SPAN_HOURS;
    let calls = prop::collection::vec(
        (
            caller.clone(),
            hour.clone(),
            direction_strategy(),
            outcome_strategy(),
            any::<u32>(),
        ),
        0..40,
    );
    let replies = prop::collection::vec((caller.clone(), hour.clone(), any::<u32>()), 0..15);
    let appointments = prop::collection::vec(
        (
            caller,
            hour,
            -1_000i64..100_000,
            prop::bool::weighted(0.2),
            any::<u32>(),
        ),
        0..25,
    );
    (1u32..=10, calls, replies, appointments).prop_map(
        move |(days, calls, replies, appointments)| {
            let at = |hour: i64| base_time() + TimeDelta::hours(hour);
            Inputs {
                window: AttributionWindow::from_days(days).unwrap(),
                calls: calls
                    .into_iter()
                    .enumerate()
                    .map(|(i, (c, h, direction, outcome, r))| CallRecord {
                        id: unique_id(r, id_offset + i),
                        caller_key: callers[c].to_owned(),
                        at: at(h),
                        direction,
                        outcome,
                    })
                    .collect(),
                replies: replies
                    .into_iter()
                    .enumerate()
                    .map(|(i, (c, h, r))| ReplyRecord {
                        id: unique_id(r, id_offset + 1_000 + i),
                        caller_key: callers[c].to_owned(),
                        at: at(h),
                    })
                    .collect(),
                appointments: appointments
                    .into_iter()
                    .enumerate()
                    .map(|(i, (c, h, value, cancelled, r))| AppointmentRecord {
                        id: unique_id(r, id_offset + 2_000 + i),
                        caller_key: callers[c].to_owned(),
                        // Half an hour past, so appointments also fall between calls.
                        created_at: at(h) + TimeDelta::minutes(30 * (i as i64 % 2)),
                        value_minor: value,
                        cancelled,
                    })
                    .collect(),
            }
        },
    )
}

fn inputs() -> impl Strategy<Value = Inputs> {
    inputs_for(&CALLERS, 0)
}

fn run(inputs: &Inputs) -> AttributionReport {
    attribute(
        inputs.window,
        &inputs.calls,
        &inputs.replies,
        &inputs.appointments,
    )
}

/// The rule read literally, in quadratic time: the reference the engine must match.
fn reference(inputs: &Inputs) -> Vec<(Uuid, AttributionOutcome)> {
    let mut appointments: Vec<&AppointmentRecord> = inputs.appointments.iter().collect();
    appointments.sort_by_key(|a| (a.created_at, a.id));
    let mut credited: HashSet<Uuid> = HashSet::new();
    let mut touches: Vec<(DateTime<Utc>, Uuid, RecoveryTouchKind, &str)> = inputs
        .calls
        .iter()
        .filter_map(|c| Some((c.at, c.id, c.recovery_touch_kind()?, c.caller_key.as_str())))
        .chain(inputs.replies.iter().map(|r| {
            (
                r.at,
                r.id,
                RecoveryTouchKind::TextReply,
                r.caller_key.as_str(),
            )
        }))
        .collect();
    touches.sort();

    appointments
        .into_iter()
        .map(|appointment| {
            let outcome = reference_decision(inputs, appointment, &touches, &mut credited);
            (appointment.id, outcome)
        })
        .collect()
}

fn reference_decision(
    inputs: &Inputs,
    appointment: &AppointmentRecord,
    touches: &[(DateTime<Utc>, Uuid, RecoveryTouchKind, &str)],
    credited: &mut HashSet<Uuid>,
) -> AttributionOutcome {
    let unattributed = |reason| AttributionOutcome::Unattributed { reason };
    if appointment.cancelled {
        return unattributed(UnattributedReason::Cancelled);
    }
    let created = appointment.created_at;
    let in_window: Vec<&CallRecord> = inputs
        .calls
        .iter()
        .filter(|c| c.caller_key == appointment.caller_key && c.is_missed_inbound())
        .filter(|c| c.at <= created && created - c.at <= inputs.window.duration())
        .collect();
    if in_window.is_empty() {
        return unattributed(UnattributedReason::NoMissedCallInWindow);
    }
    let first_touch_after = |missed: &CallRecord| {
        touches
            .iter()
            .find(|t| t.3 == appointment.caller_key && missed.at <= t.0 && t.0 <= created)
            .copied()
    };
    let eligible: Vec<&CallRecord> = in_window
        .into_iter()
        .filter(|c| first_touch_after(c).is_some())
        .collect();
    if eligible.is_empty() {
        return unattributed(UnattributedReason::NoRecoveryTouch);
    }
    let Some(chosen) = eligible
        .into_iter()
        .filter(|c| !credited.contains(&c.id))
        .max_by_key(|c| (c.at, c.id))
    else {
        return unattributed(UnattributedReason::MissedCallsAlreadyCredited);
    };
    credited.insert(chosen.id);
    let (at, id, kind, _) = first_touch_after(chosen).unwrap();
    AttributionOutcome::Recovered {
        missed_call: ringback_shared::attribution::MissedCallRef {
            call_id: chosen.id,
            at: chosen.at,
        },
        touch: ringback_shared::attribution::RecoveryTouch { kind, id, at },
    }
}

fn recovered(report: &AttributionReport) -> impl Iterator<Item = (&Attribution, Uuid)> {
    report.attributions.iter().filter_map(|a| match a.outcome {
        AttributionOutcome::Recovered { missed_call, .. } => Some((a, missed_call.call_id)),
        AttributionOutcome::Unattributed { .. } => None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_a_literal_reading_of_the_rule(inputs in inputs()) {
        let report = run(&inputs);
        let actual: Vec<(Uuid, AttributionOutcome)> =
            report.attributions.iter().map(|a| (a.appointment_id, a.outcome)).collect();
        prop_assert_eq!(actual, reference(&inputs));
    }

    #[test]
    fn result_does_not_depend_on_input_order(
        (inputs, shuffled) in inputs().prop_flat_map(|inputs| {
            let shuffled = (
                Just(inputs.calls.clone()).prop_shuffle(),
                Just(inputs.replies.clone()).prop_shuffle(),
                Just(inputs.appointments.clone()).prop_shuffle(),
            );
            (Just(inputs), shuffled)
        })
    ) {
        let (calls, replies, appointments) = shuffled;
        let reordered = Inputs { window: inputs.window, calls, replies, appointments };
        prop_assert_eq!(run(&inputs), run(&reordered));
    }

    #[test]
    fn each_missed_call_is_credited_at_most_once(inputs in inputs()) {
        let report = run(&inputs);
        let mut seen = HashSet::new();
        for (_, call_id) in recovered(&report) {
            prop_assert!(seen.insert(call_id), "missed call {} credited twice", call_id);
        }
    }

    #[test]
    fn credit_stays_within_the_window_and_needs_a_touch_in_between(inputs in inputs()) {
        let report = run(&inputs);
        let appointments: HashMap<Uuid, &AppointmentRecord> =
            inputs.appointments.iter().map(|a| (a.id, a)).collect();
        let calls: HashMap<Uuid, &CallRecord> = inputs.calls.iter().map(|c| (c.id, c)).collect();
        let replies: HashMap<Uuid, &ReplyRecord> = inputs.replies.iter().map(|r| (r.id, r)).collect();
        for attribution in &report.attributions {
            let AttributionOutcome::Recovered { missed_call, touch } = attribution.outcome else {
                continue;
            };
            let appointment = appointments[&attribution.appointment_id];
            let missed = calls[&missed_call.call_id];
            prop_assert!(missed.is_missed_inbound());
            prop_assert_eq!(&missed.caller_key, &appointment.caller_key);
            prop_assert_eq!(missed.at, missed_call.at);
            prop_assert!(missed.at <= appointment.created_at);
            prop_assert!(appointment.created_at - missed.at <= inputs.window.duration());

            prop_assert!(missed.at <= touch.at && touch.at <= appointment.created_at);
            let (touch_caller, touch_at) = match touch.kind {
                RecoveryTouchKind::TextReply => {
                    let reply = replies[&touch.id];
                    (&reply.caller_key, reply.at)
                }
                kind => {
                    let call = calls[&touch.id];
                    prop_assert_eq!(call.recovery_touch_kind(), Some(kind));
                    (&call.caller_key, call.at)
                }
            };
            prop_assert_eq!(touch_caller, &appointment.caller_key);
            prop_assert_eq!(touch_at, touch.at);
        }
    }

    #[test]
    fn totals_add_up(inputs in inputs()) {
        let report = run(&inputs);
        prop_assert_eq!(report.attributions.len(), inputs.appointments.len());
        prop_assert_eq!(report.recovered_count, recovered(&report).count() as u64);
        let revenue: i64 = recovered(&report).map(|(a, _)| a.value_minor).sum();
        prop_assert_eq!(report.recovered_revenue_minor, revenue);
    }

    #[test]
    fn cancelled_appointments_are_never_recovered(inputs in inputs()) {
        let report = run(&inputs);
        let cancelled: HashSet<Uuid> =
            inputs.appointments.iter().filter(|a| a.cancelled).map(|a| a.id).collect();
        for attribution in &report.attributions {
            if cancelled.contains(&attribution.appointment_id) {
                prop_assert_eq!(
                    attribution.outcome,
                    AttributionOutcome::Unattributed { reason: UnattributedReason::Cancelled }
                );
            }
        }
    }

    #[test]
    fn an_unrelated_callers_events_change_nothing_for_others(
        inputs in inputs(),
        unrelated in inputs_for(&[UNRELATED_CALLER], 10_000),
    ) {
        let alone = run(&inputs);
        let mut combined = inputs.clone();
        combined.calls.extend(unrelated.calls);
        combined.replies.extend(unrelated.replies);
        combined.appointments.extend(unrelated.appointments);
        let together = run(&combined);

        let others: HashSet<Uuid> = inputs.appointments.iter().map(|a| a.id).collect();
        let for_others: Vec<&Attribution> = together
            .attributions
            .iter()
            .filter(|a| others.contains(&a.appointment_id))
            .collect();
        let expected: Vec<&Attribution> = alone.attributions.iter().collect();
        prop_assert_eq!(for_others, expected);
    }
}
