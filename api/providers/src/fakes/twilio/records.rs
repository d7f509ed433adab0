//! The fake's record keeping: like Twilio, it keeps a log of every call on the account (calls it
//! placed, incoming calls and the legs their `<Dial>`s started, each leg naming its parent) and
//! every text (sent, received with [`FakeTwilio::receive_message`] or [`FakeTwilio::text_in`],
//! and the answers a messaging webhook's TwiML gave), each holding the numbers it was between.
//! `GET …/Calls.json` lists the log (filtered by `ParentCallSid`, `From`, `To` and the day
//! `StartTime>=`, in pages of `PageSize` with Twilio's `next_page_uri`), and `DELETE
//! …/Calls/{Sid}.json` and `DELETE …/Messages/{Sid}.json` delete a record (404, Twilio's 20404,
//! for one it does not hold); [`FakeTwilio::held_records_of`] shows what is still held
//! about a number, and [`FakeTwilio::fail_deletions`] makes deletions fail as in an outage.

use std::collections::HashSet;

use super::*;

/// A call in the account's log.
#[derive(Clone, Debug)]
pub struct LoggedCall {
    pub sid: String,
    /// The call whose `<Dial>` started this one.
    pub parent: Option<String>,
    pub from: String,
    pub to: String,
    pub created_at: DateTime<Utc>,
}

/// What the fake keeps besides the messages it sent.
#[derive(Default)]
pub(super) struct Records {
    calls: Mutex<Vec<LoggedCall>>,
    received: Mutex<Vec<FakeMessage>>,
    /// Texts sent from a messaging webhook's TwiML answer (`<Message>`).
    answered: Mutex<Vec<FakeMessage>>,
    deleted: Mutex<HashSet<String>>,
    /// Whether deletions answer HTTP 500, as in an outage.
    failing: std::sync::atomic::AtomicBool,
}

impl Records {
    /// Logs a call made at `at` (`parent`: the call whose dial started it).
    pub(super) fn log_call(
        &self,
        (sid, parent): (&str, Option<&str>),
        (from, to): (&str, &str),
        at: DateTime<Utc>,
    ) {
        lock(&self.calls).push(LoggedCall {
            sid: sid.to_owned(),
            parent: parent.map(str::to_owned),
            from: from.to_owned(),
            to: to.to_owned(),
            created_at: at,
        });
    }

    /// The texts the account logged besides those sent through the API, each with the status
    /// Twilio lists it with: received ones, and the answers TwiML sent.
    pub(super) fn logged_texts(&self) -> Vec<(FakeMessage, &'static str)> {
        let received = lock(&self.received).clone().into_iter();
        let answered = lock(&self.answered).clone().into_iter();
        received
            .map(|text| (text, "received"))
            .chain(answered.map(|text| (text, "sent")))
            .collect()
    }

    /// Whether record `sid` was deleted.
    pub(super) fn is_deleted(&self, sid: &str) -> bool {
        lock(&self.deleted).contains(sid)
    }

    /// Deletes record `sid` when `held` says the account holds it: no content, or Twilio's 404,
    /// or a 500 while deletions fail.
    fn delete(&self, sid: &str, held: bool) -> Response {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return twilio_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "Internal Server Error",
            );
        }
        if held && lock(&self.deleted).insert(sid.to_owned()) {
            StatusCode::NO_CONTENT.into_response()
        } else {
            twilio_error(
                StatusCode::NOT_FOUND,
                20404,
                "The requested resource was not found",
            )
        }
    }
}

impl FakeTwilio {
    /// Keeps a text from `from` to the account's number `to`, as Twilio keeps each text it
    /// receives (the test then posts the messaging webhook itself).
    pub fn receive_message(&self, sid: &str, from: &str, to: &str, body: &str) {
        lock(&self.shared.records.received).push(FakeMessage {
            sid: sid.to_owned(),
            to: to.to_owned(),
            from: from.to_owned(),
            body: body.to_owned(),
            status_callback: None,
            created_at: self.shared.clock.now(),
            arrived: Instant::now(),
        });
    }

    /// Keeps a call from `from` to `to` that never reached our webhooks (they were down, or it
    /// came before the number pointed at them), as Twilio logs every call on the account.
    pub fn log_unreported_call(&self, sid: &str, from: &str, to: &str) {
        let now = self.shared.clock.now();
        self.shared.records.log_call((sid, None), (from, to), now);
    }

    /// A text from `from` to the account's number `to`, as Twilio delivers it: kept in the log,
    /// posted to the messaging webhook `url` (signed, with Twilio's parameters), and each
    /// `<Message>` of the TwiML answer sent back to `from` and logged, its `statusCallback` (when
    /// it has one) told that it was sent. The answer's body.
    pub async fn text_in(
        &self,
        url: &str,
        (sid, from, to): (&str, &str, &str),
        body: &str,
    ) -> Result<String, String> {
        self.receive_message(sid, from, to, body);
        let params: Vec<(String, String)> = [
            ("AccountSid", self.shared.account_sid.as_str()),
            ("ApiVersion", "2010-04-01"),
            ("Body", body),
            ("From", from),
            ("MessageSid", sid),
            ("NumMedia", "0"),
            ("SmsSid", sid),
            ("To", to),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        let twiml = self.post(url, params).await?;
        for (status_callback, text) in twiml_messages(&twiml) {
            let answer = FakeMessage {
                sid: format!("SM{}", uuid::Uuid::new_v4().simple()),
                to: from.to_owned(),
                from: to.to_owned(),
                body: text,
                status_callback,
                created_at: self.shared.clock.now(),
                arrived: Instant::now(),
            };
            lock(&self.shared.records.answered).push(answer.clone());
            if let Some(callback) = &answer.status_callback {
                self.post(callback, answer_report(&self.shared.account_sid, &answer))
                    .await?;
            }
        }
        Ok(twiml)
    }

    /// Makes deletions of calls and texts fail with HTTP 500 (`true`) or work again.
    pub fn fail_deletions(&self, failing: bool) {
        self.shared
            .records
            .failing
            .store(failing, std::sync::atomic::Ordering::SeqCst);
    }

    /// The sids of the calls and texts the account still holds that were from or to `number`.
    pub fn held_records_of(&self, number: &str) -> Vec<String> {
        let records = &self.shared.records;
        let involves = |from: &str, to: &str| from == number || to == number;
        let calls: Vec<String> = lock(&records.calls)
            .iter()
            .filter(|call| involves(&call.from, &call.to))
            .map(|call| call.sid.clone())
            .collect();
        let sent = lock(&self.shared.messages).clone();
        let logged = records.logged_texts().into_iter().map(|(text, _)| text);
        let texts = sent
            .into_iter()
            .chain(logged)
            .filter(|message| involves(&message.from, &message.to))
            .map(|message| message.sid);
        calls
            .into_iter()
            .chain(texts)
            .filter(|sid| !records.is_deleted(sid))
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CallListQuery {
    parent_call_sid: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// A day (`YYYY-MM-DD`, UTC): calls that started on it or later.
    #[serde(rename = "StartTime>=")]
    started_from: Option<String>,
    page_size: Option<usize>,
    page: Option<usize>,
}

impl CallListQuery {
    fn matches(&self, call: &LoggedCall) -> bool {
        let parent = self.parent_call_sid.as_ref();
        parent.is_none_or(|parent| call.parent.as_ref() == Some(parent))
            && self.from.as_ref().is_none_or(|from| &call.from == from)
            && self.to.as_ref().is_none_or(|to| &call.to == to)
            && on_or_after(call.created_at, self.started_from.as_deref())
    }

    /// The address of page `page` of this list.
    fn page_uri(&self, sid: &str, page: usize, page_size: usize) -> String {
        let filters = [
            ("ParentCallSid", &self.parent_call_sid),
            ("From", &self.from),
            ("To", &self.to),
            ("StartTime>=", &self.started_from),
        ];
        let path = format!("/2010-04-01/Accounts/{sid}/Calls.json");
        list_page_uri(&path, &filters, (page, page_size))
    }
}

/// The address of page `page` (of `page_size`) of the list at `path` with the `filters` given.
pub(super) fn list_page_uri(
    path: &str,
    filters: &[(&str, &Option<String>)],
    (page, page_size): (usize, usize),
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in filters {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    query.append_pair("PageSize", &page_size.to_string());
    query.append_pair("Page", &page.to_string());
    format!("{path}?{}", query.finish())
}

/// `GET …/Calls.json`: the account's calls, newest first, filtered by `ParentCallSid`, `From`
/// and `To` when they are given, a page at a time.
#[handler]
pub(super) async fn list_calls(
    Data(shared): Data<&Arc<Shared>>,
    Path(sid): Path<String>,
    request: &Request,
    Query(query): Query<CallListQuery>,
) -> Response {
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let records = &shared.records;
    let matching: Vec<LoggedCall> = lock(&records.calls)
        .iter()
        .rev()
        .filter(|call| query.matches(call) && !records.is_deleted(&call.sid))
        .cloned()
        .collect();
    let page_size = query.page_size.unwrap_or(50).clamp(1, 1000);
    let page = query.page.unwrap_or(0);
    let start = page.saturating_mul(page_size).min(matching.len());
    let end = (start + page_size).min(matching.len());
    let calls: Vec<Value> = matching[start..end]
        .iter()
        .map(|call| {
            json!({
                "sid": call.sid,
                "account_sid": sid,
                "parent_call_sid": call.parent,
                "from": call.from,
                "to": call.to,
                "status": "completed",
                "date_created": call.created_at.to_rfc2822(),
                "start_time": call.created_at.to_rfc2822(),
                "uri": format!("/2010-04-01/Accounts/{sid}/Calls/{}.json", call.sid),
            })
        })
        .collect();
    let next_page_uri = (end < matching.len()).then(|| query.page_uri(&sid, page + 1, page_size));
    Json(json!({
        "calls": calls,
        "page": page,
        "page_size": page_size,
        "first_page_uri": query.page_uri(&sid, 0, page_size),
        "next_page_uri": next_page_uri,
        "uri": query.page_uri(&sid, page, page_size),
    }))
    .into_response()
}

/// `DELETE …/Calls/{Sid}.json`: deletes a call from the log.
#[handler]
pub(super) async fn delete_call(
    Data(shared): Data<&Arc<Shared>>,
    Path((sid, call)): Path<(String, String)>,
    request: &Request,
) -> Response {
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let call = call.trim_end_matches(".json");
    let held = lock(&shared.records.calls)
        .iter()
        .any(|logged| logged.sid == call);
    shared.records.delete(call, held)
}

/// `DELETE …/Messages/{Sid}.json`: deletes a sent or received text.
#[handler]
pub(super) async fn delete_message(
    Data(shared): Data<&Arc<Shared>>,
    Path((sid, message)): Path<(String, String)>,
    request: &Request,
) -> Response {
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let message = message.trim_end_matches(".json");
    let sent = lock(&shared.messages).iter().any(|m| m.sid == message);
    let logged = shared.records.logged_texts();
    let held = sent || logged.iter().any(|(m, _)| m.sid == message);
    shared.records.delete(message, held)
}

/// Whether `at` falls on `day` (`YYYY-MM-DD`, UTC, as Twilio's date filters take it) or later;
/// true without a day. A day that does not parse matches nothing, as Twilio answers nothing.
pub(super) fn on_or_after(at: DateTime<Utc>, day: Option<&str>) -> bool {
    day.is_none_or(|day| {
        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok_and(|day| at.date_naive() >= day)
    })
}

/// Each `<Message>` of a TwiML answer: its `statusCallback` attribute, if any, and its text.
fn twiml_messages(twiml: &str) -> Vec<(Option<String>, String)> {
    twiml
        .split("<Message")
        .skip(1)
        .filter_map(|element| {
            let (attributes, rest) = element.split_once('>')?;
            let text = rest.split("</Message>").next().unwrap_or_default();
            let callback = attributes
                .split("statusCallback=\"")
                .nth(1)
                .and_then(|value| value.split('"').next())
                .map(|value| value.replace("&amp;", "&"));
            Some((callback, text.to_owned()))
        })
        .collect()
}

/// The status report Twilio posts for a TwiML answer once it is sent.
fn answer_report(account_sid: &str, answer: &FakeMessage) -> Vec<(String, String)> {
    [
        ("AccountSid", account_sid),
        ("ApiVersion", "2010-04-01"),
        ("From", answer.from.as_str()),
        ("MessageSid", answer.sid.as_str()),
        ("MessageStatus", "sent"),
        ("SmsSid", answer.sid.as_str()),
        ("SmsStatus", "sent"),
        ("To", answer.to.as_str()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}
