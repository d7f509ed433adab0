//! The fake's voice side: `POST …/Calls.json` places a call (Basic auth; `To`, `From`, and `Url`
//! or `Twiml` required, as Twilio requires them), and [`FakeTwilio::play_call`] then acts as
//! Twilio does when the first party answers or not: it fetches the TwiML at `Url` with the call's
//! parameters (pressing 1 when a `<Gather>` asks, unless a voicemail answered), follows its
//! `<Dial>` to the second party (posting machine detection's verdict to
//! the `<Number>`'s `amdStatusCallback` when a voicemail answers and detection was asked for),
//! posts the dial's outcome to the `<Dial>`'s `action`, and reports the call's end to
//! `StatusCallback`, each request signed over its URL.
//! [`FakeTwilio::ring_in`] plays an incoming call the same way: the voice webhook, call screening
//! on the forwarded leg (`<Number url>`, then the `<Gather>`'s key press), the `<Dial>`'s outcome
//! and the call's end (to the number's `StatusCallback`, in an order the test chooses), with the
//! parameters Twilio sends for each (and `AnsweredBy` when its own machine detection is asked to
//! report).

use super::*;

/// A call the fake accepted.
#[derive(Clone, Debug)]
pub struct FakeCall {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub url: String,
    pub status_callback: Option<String>,
    /// When the fake accepted it, by its clock: an answered dial talks no longer than since then.
    pub placed_at: chrono::DateTime<chrono::Utc>,
}

/// How the people on a placed call behave in [`FakeTwilio::play_call`].
#[derive(Clone, Copy, Debug)]
pub enum CallScript {
    /// The first party never picks up.
    FirstPartyMissed,
    /// The first party's voicemail picks up: it presses no key when asked.
    FirstPartyVoicemail,
    /// The first party answers; the party they are connected to ends with this `DialCallStatus`
    /// (`completed`, `no-answer`, `busy`, `failed`).
    Connected(&'static str),
    /// The first party answers; the second party's voicemail picks up (`completed`). When the
    /// `<Number>` asks for machine detection, its verdict goes to the `amdStatusCallback` before
    /// the two are connected: `machine_start` here, `human` for a [`CallScript::Connected`] call
    /// that was answered (`completed`).
    ReachedVoicemail,
}

/// Who picks up a forwarded incoming call in [`FakeTwilio::ring_in`].
#[derive(Clone, Copy, Debug)]
pub enum Answerer {
    /// Nobody: the dial ends `no-answer`.
    Nobody,
    /// A person, who presses this key when screening asks (1 takes the call).
    Person(&'static str),
    /// The forwarded phone's voicemail: it picks up and never presses a key.
    Voicemail,
    /// A machine, as Twilio's own detection reports it (`AnsweredBy`, e.g. `machine_end_beep`).
    DetectedMachine(&'static str),
}

/// How [`FakeTwilio::ring_in`] tells the server a forwarded call ended. Twilio posts the
/// `<Dial>`'s outcome to its `action` and the caller's call end (`completed`) to the number's
/// `StatusCallback`, and does not document in which order; the first may also never arrive (the
/// server answered it with an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReports {
    /// The dial's outcome, then the call's end.
    DialFirst,
    /// The call's end, then the dial's outcome.
    CallEndFirst,
    /// The call's end only.
    CallEndOnly,
}

/// What [`FakeTwilio::ring_in`] saw: each TwiML answer, in order.
#[derive(Clone, Debug, Default)]
pub struct RungIn {
    pub answers: Vec<String>,
}

/// What [`FakeTwilio::play_call`] saw.
#[derive(Clone, Debug, Default)]
pub struct PlayedCall {
    /// The TwiML that answered the first party: the `<Dial>` once they pressed 1 when asked, the
    /// question itself when they pressed nothing (empty when they never answered).
    pub twiml: String,
    /// The number the `<Dial>` connected to.
    pub dialled: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CallForm {
    to: Option<String>,
    from: Option<String>,
    url: Option<String>,
    twiml: Option<String>,
    status_callback: Option<String>,
}

/// `POST …/Calls.json`: accepts a call to place, in Twilio's resource shape.
#[handler]
pub(super) async fn create_call(
    Data(shared): Data<&Arc<Shared>>,
    Path(sid): Path<String>,
    request: &Request,
    Form(form): Form<CallForm>,
) -> Response {
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let (Some(to), Some(from)) = (form.to, form.from) else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21201,
            "No 'To' number is specified",
        );
    };
    if !is_e164(&to) || !is_e164(&from) {
        return twilio_error(StatusCode::BAD_REQUEST, 21211, "Invalid 'To' Phone Number");
    }
    let Some(url) = form.url.or(form.twiml) else {
        return twilio_error(StatusCode::BAD_REQUEST, 21205, "Url parameter is required");
    };
    let failure = lock(&shared.call_failures).pop_front();
    if let Some(CallFailure::TooManyRequests) = failure {
        return twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
    }
    let call = {
        let mut calls = lock(&shared.calls);
        let call = FakeCall {
            sid: format!("CA{:032x}", calls.len() + 1),
            to,
            from,
            url,
            status_callback: form.status_callback,
            placed_at: shared.clock.now(),
        };
        calls.push(call.clone());
        call
    };
    shared.records.log_call(
        (&call.sid, None),
        (&call.from, &call.to),
        shared.clock.now(),
    );
    shared.arrivals.notify_waiters();
    if let Some(CallFailure::PlaceThenServerError) = failure {
        return twilio_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            "Internal Server Error",
        );
    }
    let created = shared.clock.now().to_rfc2822();
    let body = json!({
        "sid": call.sid,
        "account_sid": sid,
        "to": call.to,
        "from": call.from,
        "status": "queued",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": created,
        "date_updated": created,
        "uri": format!("/2010-04-01/Accounts/{sid}/Calls/{}.json", call.sid),
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

impl FakeTwilio {
    /// Every call placed so far, oldest first.
    pub fn calls(&self) -> Vec<FakeCall> {
        lock(&self.shared.calls).clone()
    }

    /// Waits until at least `count` calls were placed, or `timeout` passed; returns them.
    pub async fn wait_for_calls(&self, count: usize, timeout: Duration) -> Vec<FakeCall> {
        self.wait_for(count, timeout, Self::calls).await
    }

    /// Plays placed call `sid` as `script` says, posting Twilio's webhooks (signed) to the
    /// server (a dial answered reports having talked since the call was placed, at most
    /// [`ANSWERED_DIAL_SECONDS`]); fails with what went wrong when the call is unknown or the
    /// server refuses.
    pub async fn play_call(&self, sid: &str, script: CallScript) -> Result<PlayedCall, String> {
        let call = self
            .calls()
            .into_iter()
            .find(|call| call.sid == sid)
            .ok_or_else(|| format!("no call {sid}"))?;
        let outcome = match script {
            CallScript::FirstPartyMissed => {
                self.report_end(&call, "no-answer").await?;
                return Ok(PlayedCall::default());
            }
            CallScript::Connected(outcome) => outcome,
            CallScript::FirstPartyVoicemail | CallScript::ReachedVoicemail => "completed",
        };
        let mut twiml = self
            .post(&call.url, self.call_params(&call, "in-progress"))
            .await?;
        // Asked to press a key: a person presses 1; a voicemail presses nothing, so Twilio plays
        // the rest of the answer and the call ends (an answer that asks nothing goes on to its
        // `<Dial>` whoever picked up).
        let gather_action = between(&twiml, "<Gather", ">")
            .and_then(|gather| between(gather, "action=\"", "\""))
            .map(|action| action.replace("&amp;", "&"));
        if matches!(script, CallScript::FirstPartyVoicemail) && gather_action.is_some() {
            self.report_end(&call, "completed").await?;
            return Ok(PlayedCall {
                twiml,
                dialled: None,
            });
        }
        if let Some(action) = gather_action {
            let mut params = self.call_params(&call, "in-progress");
            params.extend([
                ("Digits".to_owned(), "1".to_owned()),
                ("FinishedOnKey".to_owned(), String::new()),
            ]);
            twiml = self.post(&action, params).await?;
        }
        let dialled = between(&twiml, "<Dial", "</Dial>")
            .and_then(|dial| dial.split_once('>').map(|(_, inside)| inside))
            .map(|inside| match between(inside, "<Number", "</Number>") {
                Some(noun) => noun.split_once('>').map_or(noun, |(_, number)| number),
                None => inside,
            })
            .map(|number| number.trim().replace("&amp;", "&"));
        let leg = format!("{sid}-dial");
        // The callback's talk lasted at most since the call was placed.
        let talked = (self.shared.clock.now() - call.placed_at)
            .num_seconds()
            .clamp(0, ANSWERED_DIAL_SECONDS);
        if let Some(dialled) = &dialled {
            let from = between(&twiml, "callerId=\"", "\"").unwrap_or(&call.from);
            self.shared.records.log_call(
                (&leg, Some(sid)),
                (from, dialled),
                self.shared.clock.now(),
            );
        }
        let detection = between(&twiml, "amdStatusCallback=\"", "\"");
        let answered_by = match script {
            CallScript::ReachedVoicemail => "machine_start",
            _ => "human",
        };
        // Detection reports on a leg that was answered only.
        if let Some(detected) = detection.filter(|_| outcome == "completed") {
            let verdict = [
                ("AccountSid", self.shared.account_sid.as_str()),
                ("CallSid", leg.as_str()),
                ("AnsweredBy", answered_by),
                ("MachineDetectionDuration", "2150"),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
            self.post(&detected.replace("&amp;", "&"), verdict).await?;
        }
        if let Some(action) = between(&twiml, "action=\"", "\"") {
            let mut params = self.call_params(&call, "in-progress");
            params.extend([
                ("DialCallSid".to_owned(), leg),
                ("DialCallStatus".to_owned(), outcome.to_owned()),
                ("DialCallDuration".to_owned(), dial_seconds(outcome, talked)),
            ]);
            self.post(&action.replace("&amp;", "&"), params).await?;
        }
        self.report_end(&call, "completed").await?;
        Ok(PlayedCall { twiml, dialled })
    }

    /// Plays a call from `from` to the clinic's number `to` through the server's voice webhook at
    /// `voice_url` (the public URL, as configured in Twilio's console), with `answerer` on the
    /// forwarded line; `sid` is the incoming call's `CallSid`. The call's end goes to `to`'s
    /// `StatusCallback` when the number has one, in the order `reports` names.
    pub async fn ring_in(
        &self,
        voice_url: &str,
        (sid, from, to): (&str, &str, &str),
        answerer: Answerer,
        reports: EndReports,
    ) -> Result<RungIn, String> {
        let incoming = |status: &str| -> Vec<(String, String)> {
            [
                ("AccountSid", self.shared.account_sid.as_str()),
                ("ApiVersion", "2010-04-01"),
                ("CallSid", sid),
                ("CallStatus", status),
                ("Called", to),
                ("Caller", from),
                ("Direction", "inbound"),
                ("From", from),
                ("To", to),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
        };
        self.shared
            .records
            .log_call((sid, None), (from, to), self.shared.clock.now());
        let mut answers = vec![self.post(voice_url, incoming("ringing")).await?];
        let dial = answers[0].clone();
        let mut ended = incoming("completed");
        ended.push(("CallDuration".to_owned(), "30".to_owned()));
        let Some(action) = between(&dial, "action=\"", "\"").map(|a| a.replace("&amp;", "&"))
        else {
            // No dial: the caller heard the answer and hung up.
            self.report_incoming_end(to, ended).await?;
            return Ok(RungIn { answers });
        };
        let child = format!("{sid}-leg");
        let forwarded_to = between(&dial, "<Number", "</Number>")
            .and_then(|noun| noun.split_once('>').map(|(_, number)| number.to_owned()))
            .unwrap_or_default();
        self.shared.records.log_call(
            (&child, Some(sid)),
            (from, &forwarded_to),
            self.shared.clock.now(),
        );
        let leg = |status: &str| -> Vec<(String, String)> {
            [
                ("AccountSid", self.shared.account_sid.as_str()),
                ("CallSid", child.as_str()),
                ("CallStatus", status),
                ("Direction", "outbound-dial"),
                ("From", from),
                ("ParentCallSid", sid),
                ("To", forwarded_to.as_str()),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
        };
        let screening = between(&dial, "<Number url=\"", "\"").map(|u| u.replace("&amp;", "&"));
        let mut outcome = vec![("DialCallSid".to_owned(), child.clone())];
        match answerer {
            Answerer::Nobody => {
                outcome.push(("DialCallStatus".to_owned(), "no-answer".to_owned()));
            }
            Answerer::DetectedMachine(answered_by) => {
                outcome.push(("DialCallStatus".to_owned(), "completed".to_owned()));
                outcome.push(("AnsweredBy".to_owned(), answered_by.to_owned()));
            }
            Answerer::Person(_) | Answerer::Voicemail => {
                if let Some(screening) = screening {
                    let gather = self.post(&screening, leg("in-progress")).await?;
                    answers.push(gather.clone());
                    if let (Answerer::Person(key), Some(pressed)) = (
                        answerer,
                        between(&gather, "<Gather", ">")
                            .and_then(|g| between(g, "action=\"", "\""))
                            .map(|a| a.replace("&amp;", "&")),
                    ) {
                        let mut params = leg("in-progress");
                        params.extend([
                            ("Digits".to_owned(), key.to_owned()),
                            ("FinishedOnKey".to_owned(), String::new()),
                        ]);
                        answers.push(self.post(&pressed, params).await?);
                    }
                }
                outcome.push(("DialCallStatus".to_owned(), "completed".to_owned()));
            }
        }
        let status = outcome
            .iter()
            .find(|(name, _)| name == "DialCallStatus")
            .map(|(_, status)| status.clone())
            .unwrap_or_default();
        outcome.push((
            "DialCallDuration".to_owned(),
            dial_seconds(&status, ANSWERED_DIAL_SECONDS),
        ));
        let mut params = incoming("in-progress");
        params.extend(outcome);
        if reports == EndReports::DialFirst {
            answers.push(self.post(&action, params.clone()).await?);
        }
        self.report_incoming_end(to, ended).await?;
        if reports == EndReports::CallEndFirst {
            answers.push(self.post(&action, params).await?);
        }
        Ok(RungIn { answers })
    }

    /// Posts an incoming call's end to the `StatusCallback` of the number it rang, if it has one.
    async fn report_incoming_end(
        &self,
        number: &str,
        params: Vec<(String, String)>,
    ) -> Result<(), String> {
        let callback = lock(&self.shared.incoming_numbers)
            .iter()
            .find(|held| held.e164 == number)
            .map(|held| held.status_callback.clone())
            .filter(|callback| !callback.is_empty());
        match callback {
            Some(callback) => self.post(&callback, params).await.map(drop),
            None => Ok(()),
        }
    }

    async fn report_end(&self, call: &FakeCall, status: &str) -> Result<(), String> {
        if let Some(callback) = &call.status_callback {
            self.post(callback, self.call_params(call, status)).await?;
        }
        Ok(())
    }

    fn call_params(&self, call: &FakeCall, status: &str) -> Vec<(String, String)> {
        [
            ("AccountSid", self.shared.account_sid.as_str()),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", call.sid.as_str()),
            ("CallStatus", status),
            ("Direction", "outbound-api"),
            ("From", call.from.as_str()),
            ("To", call.to.as_str()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    /// Posts `params` to `url` as Twilio does (signed over `url`), returning the answer's body.
    pub(super) async fn post(
        &self,
        url: &str,
        params: Vec<(String, String)>,
    ) -> Result<String, String> {
        let signature = twilio_signature::sign(&self.shared.auth_token, url, &params);
        let destination = self.shared.callbacks.destination(url);
        let response = self
            .shared
            .callbacks
            .client
            .post(&destination)
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await
            .map_err(|error| format!("{}", error.without_url()))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("the server answered {status}: {body}"))
        }
    }
}

/// The text between the first `start` and the next `end` after it.
fn between<'t>(text: &'t str, start: &str, end: &str) -> Option<&'t str> {
    let from = text.find(start)? + start.len();
    let to = from + text[from..].find(end)?;
    Some(&text[from..to])
}

/// How long the fake's dialled party talked, as a dial's outcome reports it (`DialCallDuration`):
/// `talked` seconds for a dial answered, nothing for one never answered.
fn dial_seconds(status: &str, talked: i64) -> String {
    let seconds = if status == "completed" { talked } else { 0 };
    seconds.to_string()
}

/// The seconds an answered dial of the fake lasts (a callback's, at most since it was placed).
pub const ANSWERED_DIAL_SECONDS: i64 = 42;
