//! The fake's phone numbers, in the shapes of Twilio's REST API: `GET …/AvailablePhoneNumbers/
//! {Country}/{Mobile|Local}.json` offers fiction numbers of the country (UK 07700 900xxx, AU
//! 0491 570 xxx, US 202 555 01xx), filtered by `AreaCode`, `Contains` and `InLocality`; `GET …/IncomingPhoneNumbers.json`
//! lists the account's numbers (filtered by `PhoneNumber`), `POST` to it buys one (its webhooks set
//! from the same form), `POST …/IncomingPhoneNumbers/{Sid}.json` re-points one and `DELETE`
//! releases it. Every request checks Basic auth; every refusal is Twilio's error body.

use super::*;

/// One of the account's numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FakeNumber {
    pub sid: String,
    pub e164: String,
    pub voice_url: String,
    pub voice_method: String,
    pub status_callback: String,
    pub sms_url: String,
    pub sms_method: String,
    /// A number that can take calls but not texts.
    pub voice_only: bool,
}

impl FakeNumber {
    /// A number given to the account (bought in the console), pointed nowhere.
    pub fn unpointed(e164: &str) -> Self {
        FakeNumber {
            sid: format!("PN{}", uuid::Uuid::new_v4().simple()),
            e164: e164.to_owned(),
            ..Default::default()
        }
    }

    fn resource(&self, account_sid: &str) -> Value {
        json!({
            "sid": self.sid,
            "account_sid": account_sid,
            "phone_number": self.e164,
            "friendly_name": self.e164,
            "voice_url": self.voice_url,
            "voice_method": self.voice_method,
            "status_callback": self.status_callback,
            "status_callback_method": "POST",
            "sms_url": self.sms_url,
            "sms_method": self.sms_method,
            "capabilities": { "voice": true, "sms": !self.voice_only, "mms": false },
            "status": "in-use",
            "api_version": "2010-04-01",
            "uri": format!("/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{}.json", self.sid),
        })
    }

    /// Sets the webhooks the form names (those it leaves out stay as they were).
    fn point(&mut self, form: &HookForm) {
        let fields = [
            (&form.voice_url, &mut self.voice_url),
            (&form.voice_method, &mut self.voice_method),
            (&form.status_callback, &mut self.status_callback),
            (&form.sms_url, &mut self.sms_url),
            (&form.sms_method, &mut self.sms_method),
        ];
        for (given, field) in fields {
            if let Some(value) = given {
                value.clone_into(field);
            }
        }
    }
}

/// The fiction numbers the fake offers in `country` for `kind` (`Mobile`, `Local`), twenty of each,
/// with their localities; none for a country or kind it does not sell.
fn inventory(country: &str, kind: &str) -> Vec<(String, Option<&'static str>)> {
    let (prefix, first, place) = match (country, kind) {
        ("GB", "Mobile") => ("+447700900", 400, None),
        ("AU", "Mobile") => ("+61491570", 100, None),
        ("US", "Local") => ("+120255501", 0, Some("Washington")),
        _ => return Vec::new(),
    };
    let width = if country == "US" { 2 } else { 3 };
    (first..first + 20)
        .map(|n| {
            // The second half of the US numbers belong to another town, for locality searches.
            let place = place.map(|town| if n >= first + 10 { "Georgetown" } else { town });
            (format!("{prefix}{n:0width$}"), place)
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SearchQuery {
    area_code: Option<String>,
    contains: Option<String>,
    in_locality: Option<String>,
    sms_enabled: Option<String>,
}

/// `GET …/AvailablePhoneNumbers/{Country}/{Kind}.json`: fiction numbers the account does not hold.
#[handler]
pub(super) fn search_available(
    request: &Request,
    Path((sid, country, kind)): Path<(String, String, String)>,
    Query(query): Query<SearchQuery>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let Some(kind) = kind.strip_suffix(".json") else {
        return twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        );
    };
    let held: Vec<String> = lock(&shared.incoming_numbers)
        .iter()
        .map(|number| number.e164.clone())
        .collect();
    let numbers: Vec<Value> = inventory(&country, kind)
        .into_iter()
        .filter(|(number, _)| !held.contains(number))
        .filter(|(number, _)| {
            query
                .area_code
                .as_ref()
                .is_none_or(|code| number.starts_with(&format!("+1{code}")))
        })
        .filter(|(number, _)| {
            query
                .contains
                .as_ref()
                .is_none_or(|digits| number.contains(digits.as_str()))
        })
        .filter(|(_, place)| {
            query.in_locality.as_ref().is_none_or(|town| {
                place.is_some_and(|place| place.eq_ignore_ascii_case(town.trim()))
            })
        })
        .filter(|_| query.sms_enabled.as_deref() != Some("false"))
        .map(|(number, place)| {
            json!({
                "friendly_name": number,
                "phone_number": number,
                "locality": place,
                "region": null,
                "postal_code": null,
                "iso_country": country,
                "address_requirements": if country == "US" { "none" } else { "any" },
                "beta": false,
                "capabilities": { "voice": true, "SMS": true, "MMS": false },
            })
        })
        .collect();
    Json(json!({
        "available_phone_numbers": numbers,
        "uri": format!("/2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/{country}/{kind}.json"),
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IncomingNumberQuery {
    phone_number: Option<String>,
}

/// `GET …/IncomingPhoneNumbers.json`: the account's numbers, those equal to `PhoneNumber` when it
/// is given, in Twilio's page shape.
#[handler]
pub(super) fn list_incoming_numbers(
    request: &Request,
    Path(sid): Path<String>,
    Query(query): Query<IncomingNumberQuery>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let numbers: Vec<Value> = lock(&shared.incoming_numbers)
        .iter()
        .filter(|number| {
            query
                .phone_number
                .as_ref()
                .is_none_or(|wanted| *wanted == number.e164)
        })
        .map(|number| number.resource(&sid))
        .collect();
    Json(json!({
        "incoming_phone_numbers": numbers,
        "page": 0,
        "page_size": 1000,
        "next_page_uri": null,
        "uri": format!("/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json"),
    }))
    .into_response()
}

/// The webhook fields of a buy or update form.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct HookForm {
    phone_number: Option<String>,
    voice_url: Option<String>,
    voice_method: Option<String>,
    status_callback: Option<String>,
    sms_url: Option<String>,
    sms_method: Option<String>,
}

/// `POST …/IncomingPhoneNumbers.json`: buys `PhoneNumber` if the fake offers it and nobody holds it.
#[handler]
pub(super) fn buy_number(
    request: &Request,
    Path(sid): Path<String>,
    Data(shared): Data<&Arc<Shared>>,
    Form(form): Form<HookForm>,
) -> Response {
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let Some(wanted) = form.phone_number.clone() else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21421,
            "PhoneNumber or AreaCode is required",
        );
    };
    let offered = ["GB", "AU"]
        .iter()
        .map(|country| inventory(country, "Mobile"))
        .chain([inventory("US", "Local")])
        .flatten()
        .any(|(number, _)| number == wanted);
    let mut numbers = lock(&shared.incoming_numbers);
    if !offered || numbers.iter().any(|number| number.e164 == wanted) {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21422,
            "PhoneNumber requested is not available",
        );
    }
    let mut bought = FakeNumber::unpointed(&wanted);
    bought.point(&form);
    numbers.push(bought.clone());
    let lost = shared
        .lose_next_purchase_answer
        .swap(false, std::sync::atomic::Ordering::SeqCst);
    if lost {
        return (StatusCode::OK, "<html>upstream answer lost</html>").into_response();
    }
    (StatusCode::CREATED, Json(bought.resource(&sid))).into_response()
}

/// `POST …/IncomingPhoneNumbers/{Sid}.json`: points the number's webhooks as the form says.
#[handler]
pub(super) fn update_number(
    request: &Request,
    Path((sid, number_sid)): Path<(String, String)>,
    Data(shared): Data<&Arc<Shared>>,
    Form(form): Form<HookForm>,
) -> Response {
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let number_sid = number_sid.trim_end_matches(".json");
    let mut numbers = lock(&shared.incoming_numbers);
    let Some(number) = numbers.iter_mut().find(|number| number.sid == number_sid) else {
        return not_found();
    };
    number.point(&form);
    Json(number.resource(&sid)).into_response()
}

/// `DELETE …/IncomingPhoneNumbers/{Sid}.json`: releases the number.
#[handler]
pub(super) fn release_number(
    request: &Request,
    Path((sid, number_sid)): Path<(String, String)>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let number_sid = number_sid.trim_end_matches(".json");
    let mut numbers = lock(&shared.incoming_numbers);
    let before = numbers.len();
    numbers.retain(|number| number.sid != number_sid);
    if numbers.len() == before {
        return not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}

fn not_found() -> Response {
    twilio_error(
        StatusCode::NOT_FOUND,
        20404,
        "The requested resource was not found",
    )
}
