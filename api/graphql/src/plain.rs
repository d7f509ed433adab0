//! Objects whose fields are values already in hand (a call of a page, a day of the overview),
//! answered in one pass over the query's selection set.
//!
//! async-graphql resolves a derived object field by field: a boxed future per field, run together
//! and gathered into a map. A page of 50 calls or 90 days of figures makes that over a thousand
//! futures per request, most of the server's own work on those reads. [`Plain`] wraps such an
//! object without changing the schema (same type, same fields): each field the object can answer
//! at once ([`PlainObject::plain_value`]) is written straight into the answer; any other field
//! (one that loads, say) goes to the object's derived resolver, as before. The answer is the one
//! the derived resolver gives: selection order, aliases, fragments, `__typename`, and fields
//! asked twice merged the same way (tests below compare the two for every plain type).

use std::borrow::Cow;

use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields, PageInfo};
use async_graphql::indexmap::IndexMap;
use async_graphql::indexmap::map::Entry;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::{ContainerType, resolve_container};
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};
use chrono::{Datelike, NaiveDate};

/// An object that can give the value of some of its fields without awaiting anything.
pub trait PlainObject: ContainerType {
    /// The value of `field` (with its selection set, for a nested object: see [`answer_now`]), or
    /// None to leave it to the derived resolver.
    fn plain_value(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> Option<Value>;
}

/// `T` answered in one pass; to the schema it is `T`.
pub struct Plain<T>(pub T);

impl<T: PlainObject> OutputType for Plain<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_plain(&self.0, ctx).await
    }
}

/// The value of a nested plain object for `field`'s selection set, or None when some field of it
/// needs the derived resolver (then the whole field does).
pub fn answer_now<T: PlainObject>(
    object: &T,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> Option<Value> {
    let ctx = ctx.with_selection_set(&field.node.selection_set);
    let mut walk = Walk::sized(&ctx);
    walk.visit(object, &ctx);
    if walk.whole_container || !walk.deferred.is_empty() {
        return None;
    }
    Some(walk.into_value())
}

/// `object` for the selection set of `ctx`: its plain fields at once, the rest (in selection
/// order) by its derived resolver. With a field directive, which acts per field, the derived
/// resolver answers all of it. (The schema has no extensions, see [`crate::bounds`]: one that
/// hooks each field's resolution would not see the plain ones.)
async fn resolve_plain<T: PlainObject>(
    object: &T,
    ctx: &ContextSelectionSet<'_>,
) -> ServerResult<Value> {
    let mut walk = Walk::sized(ctx);
    walk.visit(object, ctx);
    if walk.whole_container {
        return resolve_container(ctx, object).await;
    }
    let deferred = std::mem::take(&mut walk.deferred);
    let resolved = futures::future::join_all(deferred.iter().map(|(_, field)| {
        let ctx = ctx.clone();
        async move { object.resolve_field(&ctx.with_field(field)).await }
    }))
    .await;
    let mut filled = Vec::new();
    for ((key, _), result) in deferred.into_iter().zip(resolved) {
        match result {
            Ok(value) if !filled.contains(&key) => {
                walk.values.insert(key.clone(), value.unwrap_or_default());
                filled.push(key);
            }
            Ok(value) => merge(&mut walk.values, key, value.unwrap_or_default()),
            Err(error) => ctx.add_error(error),
        }
    }
    // A field whose every try failed is left out, as the derived resolver leaves it out.
    walk.values
        .retain(|key, _| walk.placeholders.iter().all(|p| p != key) || filled.contains(key));
    Ok(walk.into_value())
}

/// One pass over a selection set: the answered values in selection order (with a placeholder
/// for each deferred field), and the fields left to the derived resolver.
#[derive(Default)]
struct Walk<'a> {
    values: IndexMap<Name, Value>,
    placeholders: Vec<Name>,
    deferred: Vec<(Name, &'a Positioned<Field>)>,
    /// Something only the derived resolver handles (a field directive, an unknown fragment).
    whole_container: bool,
}

impl<'a> Walk<'a> {
    /// A walk whose answer has room for the fields of `ctx`'s selection set.
    fn sized(ctx: &ContextSelectionSet<'_>) -> Self {
        Self {
            values: IndexMap::with_capacity(ctx.item.node.items.len()),
            ..Self::default()
        }
    }

    fn visit<T: PlainObject>(&mut self, object: &T, ctx: &ContextSelectionSet<'a>) {
        for selection in &ctx.item.node.items {
            if self.whole_container {
                return;
            }
            match &selection.node {
                Selection::Field(field) => self.field(object, ctx, field),
                Selection::FragmentSpread(spread) => {
                    match ctx.query_env.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment) => {
                            let on = fragment.node.type_condition.node.on.node.as_str();
                            if applies(object, ctx, Some(on)) {
                                self.visit(
                                    object,
                                    &ctx.with_selection_set(&fragment.node.selection_set),
                                );
                            }
                        }
                        None => self.whole_container = true,
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment.node.type_condition.as_ref();
                    if applies(object, ctx, on.map(|c| c.node.on.node.as_str())) {
                        self.visit(
                            object,
                            &ctx.with_selection_set(&fragment.node.selection_set),
                        );
                    }
                }
            }
        }
    }

    fn field<T: PlainObject>(
        &mut self,
        object: &T,
        ctx: &ContextSelectionSet<'a>,
        field: &'a Positioned<Field>,
    ) {
        if !field.node.directives.is_empty() {
            self.whole_container = true;
            return;
        }
        let key = field.node.response_key().node.clone();
        if field.node.name.node == "__typename" {
            let name = object.introspection_type_name().into_owned();
            merge(&mut self.values, key, Value::String(name));
            return;
        }
        match object.plain_value(ctx, field) {
            Some(value) => merge(&mut self.values, key, value),
            None => {
                #[cfg(test)]
                tests::DEFERRED.with(|count| count.set(count.get() + 1));
                if !self.values.contains_key(&key) {
                    self.values.insert(key.clone(), Value::Null);
                    self.placeholders.push(key.clone());
                }
                self.deferred.push((key, field));
            }
        }
    }

    fn into_value(self) -> Value {
        if self.values.is_empty() {
            Value::Null
        } else {
            Value::Object(self.values)
        }
    }
}

/// Each of `objects` answered at once for `field`'s selection set, as a list; None when any of
/// them needs the derived resolver (then the whole list does).
pub fn list_now<'o, T: PlainObject + 'o>(
    objects: impl IntoIterator<Item = &'o T>,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> Option<Value> {
    objects
        .into_iter()
        .map(|object| answer_now(object, ctx, field))
        .collect::<Option<Vec<Value>>>()
        .map(Value::List)
}

/// A page of plain objects (`calls`): its edges, nodes and page info answered in the same pass,
/// as async-graphql's `Connection` answers them. Cursors are written out only where the query
/// asks for them: an edge's when its `cursor` is asked, the page's two ends when its page info is.
impl<C, T> PlainObject for Connection<C, Plain<T>>
where
    C: CursorType + Send + Sync,
    T: PlainObject + Send + Sync,
{
    fn plain_value(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> Option<Value> {
        match field.node.name.node.as_str() {
            "edges" => list_now(&self.edges, ctx, field),
            "nodes" => list_now(self.edges.iter().map(|edge| &edge.node.0), ctx, field),
            "pageInfo" => {
                let info = PageInfo {
                    has_previous_page: self.has_previous_page,
                    has_next_page: self.has_next_page,
                    start_cursor: self.edges.first().map(|edge| edge.cursor.encode_cursor()),
                    end_cursor: self.edges.last().map(|edge| edge.cursor.encode_cursor()),
                };
                answer_now(&info, ctx, field)
            }
            _ => None,
        }
    }
}

impl<C, T> PlainObject for Edge<C, Plain<T>, EmptyFields>
where
    C: CursorType + Send + Sync,
    T: PlainObject + Send + Sync,
{
    fn plain_value(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> Option<Value> {
        match field.node.name.node.as_str() {
            "cursor" => Some(Value::String(self.cursor.encode_cursor())),
            "node" => answer_now(&self.node.0, ctx, field),
            _ => None,
        }
    }
}

impl PlainObject for PageInfo {
    fn plain_value(&self, _: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> Option<Value> {
        Some(match field.node.name.node.as_str() {
            "hasPreviousPage" => scalar(&self.has_previous_page),
            "hasNextPage" => scalar(&self.has_next_page),
            "startCursor" => optional(&self.start_cursor),
            "endCursor" => optional(&self.end_cursor),
            _ => return None,
        })
    }
}

/// Whether a fragment with type condition `on` applies to `object` (as async-graphql decides).
fn applies<T: PlainObject>(object: &T, ctx: &ContextSelectionSet<'_>, on: Option<&str>) -> bool {
    let Some(on) = on else {
        return true;
    };
    let name = object.introspection_type_name();
    name == on
        || T::type_name() == on
        || ctx
            .schema_env
            .registry
            .implements
            .get(name.as_ref())
            .is_some_and(|interfaces| interfaces.contains(on))
}

/// Adds `value` under `key` as async-graphql does for a key asked more than once: objects (and
/// lists of objects, item by item) merge, anything else keeps the first value.
fn merge(target: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    let first = match target.entry(key) {
        Entry::Vacant(entry) => {
            entry.insert(value);
            return;
        }
        Entry::Occupied(entry) => entry.into_mut(),
    };
    match (first, value) {
        (Value::Object(first), Value::Object(more)) => {
            for (key, value) in more {
                merge(first, key, value);
            }
        }
        (Value::List(first), Value::List(more)) => {
            for (item, value) in first.iter_mut().zip(more) {
                if let (Value::Object(item), Value::Object(more)) = (item, value) {
                    for (key, value) in more {
                        merge(item, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}

/// A scalar's answer, as its derived field gives it.
pub fn scalar<S: async_graphql::ScalarType>(value: &S) -> Value {
    value.to_value()
}

/// A date's answer as async-graphql's `NaiveDate` scalar writes it (`%Y-%m-%d`), without reading
/// a format string each time (a 90-day overview writes 90 of them); years outside 0 to 9999,
/// which `%Y` writes with a sign, go through the scalar itself.
pub fn date(day: &NaiveDate) -> Value {
    if !(0..=9999).contains(&day.year()) {
        return scalar(day);
    }
    Value::String(format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        day.month(),
        day.day()
    ))
}

/// An optional scalar's answer: null when absent.
pub fn optional<S: async_graphql::ScalarType>(value: &Option<S>) -> Value {
    value.as_ref().map_or(Value::Null, S::to_value)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use async_graphql::connection::{Connection, CursorType, Edge};
    use async_graphql::{EmptyMutation, EmptySubscription, ID, Object, Schema, Value};
    use chrono::{NaiveDate, TimeZone, Utc};
    use serde_json::Value as Json;
    use uuid::Uuid;

    use super::Plain;
    use crate::calls::{Call, CallStatus, Direction};
    use crate::metrics::{DayFigures, Figures, Metrics, MonthFigures};
    use ringback_domain::service::calls::Credit;

    thread_local! {
        /// Fields the walks of this thread left to a derived resolver.
        pub static DEFERRED: Cell<usize> = const { Cell::new(0) };
        /// Cursors the pages of this thread wrote out.
        static ENCODED: Cell<usize> = const { Cell::new(0) };
    }

    /// A page cursor that counts how often it is written out.
    struct Counted(String);

    impl CursorType for Counted {
        type Error = std::convert::Infallible;

        fn decode_cursor(text: &str) -> Result<Self, Self::Error> {
            Ok(Self(text.to_owned()))
        }

        fn encode_cursor(&self) -> String {
            ENCODED.with(|count| count.set(count.get() + 1));
            self.0.clone()
        }
    }

    /// Every plain type twice: as derived and as [`Plain`], over the same values.
    struct Root;

    #[Object]
    impl Root {
        async fn derived_calls(&self) -> Vec<Call> {
            calls()
        }
        async fn plain_calls(&self) -> Vec<Plain<Call>> {
            calls().into_iter().map(Plain).collect()
        }
        async fn derived_days(&self) -> Vec<DayFigures> {
            days()
        }
        async fn plain_days(&self) -> Vec<Plain<DayFigures>> {
            days().into_iter().map(Plain).collect()
        }
        async fn derived_months(&self) -> Vec<MonthFigures> {
            months()
        }
        async fn plain_months(&self) -> Vec<Plain<MonthFigures>> {
            months().into_iter().map(Plain).collect()
        }
        async fn derived_metrics(&self) -> Vec<Metrics> {
            vec![metrics()]
        }
        async fn plain_metrics(&self) -> Vec<Plain<Metrics>> {
            vec![Plain(metrics())]
        }
        async fn derived_pages(&self) -> Vec<Connection<Counted, Plain<Call>>> {
            vec![page(calls()), page(Vec::new())]
        }
        async fn plain_pages(&self) -> Vec<Plain<Connection<Counted, Plain<Call>>>> {
            vec![Plain(page(calls())), Plain(page(Vec::new()))]
        }
    }

    /// A range's metrics over the test days and months.
    fn metrics() -> Metrics {
        Metrics {
            from: NaiveDate::from_ymd_opt(2025, 3, 1).expect("a date"),
            to: NaiveDate::from_ymd_opt(2025, 3, 3).expect("a date"),
            totals: figures(7),
            daily: days(),
            monthly: months(),
        }
    }

    /// A page of `calls` with a next page, each call's cursor made from its id.
    fn page(calls: Vec<Call>) -> Connection<Counted, Plain<Call>> {
        let mut page = Connection::new(false, !calls.is_empty());
        for call in calls {
            page.edges.push(Edge::new(
                Counted(format!("cursor-{}", call.id.as_str())),
                Plain(call),
            ));
        }
        page
    }

    fn figures(seed: u64) -> Figures {
        Figures {
            inbound_calls: 10 + seed,
            missed_calls: 3 + seed,
            miss_rate: seed.is_multiple_of(2).then_some(0.3),
            text_backs_sent: 2 + seed,
            reply_rate: Some(0.5),
            median_time_to_text_seconds: Some(7 + seed as i64),
            p90_time_to_text_seconds: seed.is_multiple_of(3).then_some(19),
            callbacks: 1 + seed,
            median_time_to_callback_seconds: None,
            recovered_appointments: seed,
            recovery_rate: Some(1.0 / 3.0),
            recovered_revenue_minor: 12_500 * seed as i64,
        }
    }

    fn days() -> Vec<DayFigures> {
        (0..3)
            .map(|n| DayFigures {
                day: NaiveDate::from_ymd_opt(2025, 3, 1 + n).expect("a date"),
                figures: figures(u64::from(n)),
            })
            .collect()
    }

    fn months() -> Vec<MonthFigures> {
        (0..2)
            .map(|n| MonthFigures {
                month: format!("2025-0{}", n + 1),
                figures: figures(n + 5),
            })
            .collect()
    }

    /// Calls of every kind: answered, missed with a credit read, missed with none read, and
    /// missed with its credit left to the loader (which this schema lacks: an error either way).
    fn calls() -> Vec<Call> {
        let at = Utc
            .with_ymd_and_hms(2025, 3, 4, 9, 30, 0)
            .single()
            .expect("an instant");
        let call = |n: u128, missed: bool, credit| Call {
            id: ID(Uuid::from_u128(n).to_string()),
            call_id: Uuid::from_u128(n),
            direction: if n == 1 {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            status: if missed {
                CallStatus::NoAnswer
            } else {
                CallStatus::Answered
            },
            missed,
            caller_key: format!("ck_{n}"),
            caller_tail: "•••• 123".to_owned(),
            line_type: n.is_multiple_of(2).then(|| "mobile".to_owned()),
            started_at: at,
            answered_at: (!missed).then_some(at),
            ended_at: Some(at),
            text_back_status: missed.then(|| "sent".to_owned()),
            text_back_error: None,
            source: "twilio".to_owned(),
            credit,
        };
        let credit = Credit {
            appointment_id: Uuid::from_u128(92),
            value_minor: 8_000,
            touch_kind: Some("text_reply".to_owned()),
            touch_at: Some(at),
        };
        vec![
            call(1, false, None),
            call(2, true, Some(Some(credit))),
            call(3, true, Some(None)),
            call(4, true, None),
        ]
    }

    fn schema() -> Schema<Root, EmptyMutation, EmptySubscription> {
        Schema::new(Root, EmptyMutation, EmptySubscription)
    }

    /// What the plain list answered, once it is known to answer as the derived one does.
    struct Answer {
        /// In selection order.
        plain: Value,
        json: Json,
        errors: Json,
        /// Fields the plain walks left to the derived resolver.
        deferred: usize,
    }

    /// Runs `{ derived: derivedX { … } plain: plainX { … } }` for one selection and checks that
    /// both lists answer the same, key order included.
    async fn both(list: &str, selection: &str, fragments: &str) -> Answer {
        let query = format!(
            "{{ derived: derived{list} {{ {selection} }} plain: plain{list} {{ {selection} }} }} {fragments}"
        );
        let before = DEFERRED.with(Cell::get);
        let response = schema().execute(query).await;
        let deferred = DEFERRED.with(Cell::get) - before;
        let errors = serde_json::to_value(&response.errors).expect("serialises");
        let Value::Object(mut data) = response.data else {
            panic!("no data: {errors}");
        };
        let derived = data.shift_remove("derived").expect("the derived list");
        let plain = data.shift_remove("plain").expect("the plain list");
        // The text keeps the maps' order, which `==` on values does not compare.
        assert_eq!(
            plain.to_string(),
            derived.to_string(),
            "{list}: {selection}"
        );
        let json = plain.clone().into_json().expect("JSON");
        Answer {
            plain,
            json,
            errors,
            deferred,
        }
    }

    /// The keys of the object at `index` of a list, or of that object's field `field`.
    fn keys(list: &Value, index: usize, field: Option<&str>) -> Vec<String> {
        let Value::List(items) = list else {
            panic!("a list: {list}");
        };
        let mut item = &items[index];
        if let (Some(field), Value::Object(map)) = (field, item) {
            item = &map[field];
        }
        let Value::Object(map) = item else {
            panic!("an object: {item}");
        };
        map.keys().map(ToString::to_string).collect()
    }

    /// Every field of `type_name` as the schema's SDL lists it, with nested object fields
    /// selected in full: a query that asks for everything, kept in step with the types.
    fn everything(sdl: &str, type_name: &str) -> String {
        let start = sdl
            .find(&format!("\ntype {type_name} {{"))
            .unwrap_or_else(|| panic!("type {type_name} in the SDL"));
        let body = &sdl[start..];
        let body = &body[body.find('{').expect("a body") + 1..body.find("\n}").expect("an end")];
        let mut selection = Vec::new();
        let mut in_doc = false;
        for line in body.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("\"\"\"") {
                let one_line = !rest.is_empty() && rest.ends_with("\"\"\"");
                in_doc ^= !one_line;
                continue;
            }
            if in_doc || line.is_empty() || line.starts_with('"') {
                continue;
            }
            let Some((name, ty)) = line.split_once(':') else {
                continue;
            };
            let ty = ty.trim().trim_matches(['[', ']', '!']);
            if sdl.contains(&format!("\ntype {ty} {{")) {
                selection.push(format!("{name} {{ {} }}", everything(sdl, ty)));
            } else {
                selection.push(name.to_owned());
            }
        }
        selection.join(" ")
    }

    #[tokio::test]
    async fn plain_types_answer_every_field_at_once_as_derived_ones_do() {
        let sdl = schema().sdl();
        for (list, type_name) in [
            ("Days", "DayFigures"),
            ("Months", "MonthFigures"),
            ("Metrics", "Metrics"),
        ] {
            let selection = everything(&sdl, type_name);
            let answer = both(list, &selection, "").await;
            assert!(
                answer
                    .json
                    .as_array()
                    .is_some_and(|items| !items.is_empty())
            );
            assert_eq!(answer.errors, Json::Array(Vec::new()), "{type_name}");
            assert_eq!(
                answer.deferred, 0,
                "{type_name}: every field answered at once"
            );
        }
        let selection = everything(&sdl, "Call");
        assert!(
            selection.contains("creditedTo { appointmentId"),
            "{selection}"
        );
        let answer = both("Calls", &selection, "").await;
        assert_eq!(answer.json[1]["creditedTo"]["valueMinor"], 8_000);
        assert_eq!(answer.json[2]["creditedTo"], Json::Null);
        // The fourth call's credit was not read with the list: the loader is asked, in both.
        assert_eq!(
            answer.deferred, 1,
            "only the credit that was not read with the list"
        );
        let errors = answer
            .errors
            .as_array()
            .expect("the missing loader, once per list");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0]["message"], errors[1]["message"]);
        assert_eq!(
            errors[1]["path"],
            serde_json::json!(["plain", 3, "creditedTo"])
        );

        // A page whose credits were all read is answered at once, edges, nodes and page info.
        let selection = everything(&sdl, "CallConnection");
        assert!(
            selection.contains("pageInfo { hasPreviousPage")
                && selection.contains("edges { node { id"),
            "{selection}"
        );
        let at_once = "edges { cursor node { id callerKey } } \
            pageInfo { startCursor endCursor hasNextPage } nodes { id }";
        let answer = both("Pages", at_once, "").await;
        assert_eq!(answer.errors, Json::Array(Vec::new()));
        assert_eq!(answer.deferred, 0);
        assert_eq!(
            answer.json[0]["pageInfo"]["endCursor"],
            format!("cursor-{}", Uuid::from_u128(4))
        );
        assert_eq!(answer.json[0]["edges"][3]["node"]["callerKey"], "ck_4");
        assert_eq!(answer.json[1]["pageInfo"]["endCursor"], Json::Null);
        assert_eq!(answer.json[1]["edges"], Json::Array(Vec::new()));
        // Call 4's credit needs the loader: the edges go to the derived resolver, as before.
        let answer = both("Pages", &selection, "").await;
        assert_eq!(
            answer.json[0]["nodes"][1]["creditedTo"]["valueMinor"],
            8_000
        );
        assert!(answer.deferred >= 2, "the edges and nodes of page 1 wait");
        assert_eq!(
            answer.errors.as_array().map(Vec::len),
            Some(4),
            "call 4's credit in edges and nodes, on both pages: {}",
            answer.errors
        );
    }

    /// How many cursors answering `query` wrote out.
    async fn cursors_written(query: &str) -> usize {
        let before = ENCODED.with(Cell::get);
        let response = schema().execute(query).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        ENCODED.with(Cell::get) - before
    }

    #[tokio::test]
    async fn a_plain_page_writes_out_only_the_cursors_asked_for() {
        // The first page has four calls, the second none; page info holds the first page's two
        // ends.
        let ends = "{ plainPages { edges { node { id } } pageInfo { endCursor } } }";
        assert_eq!(cursors_written(ends).await, 2);
        let nodes = "{ plainPages { nodes { id } edges { node { callerKey } } } }";
        assert_eq!(cursors_written(nodes).await, 0);
        let every = "{ plainPages { edges { cursor } } }";
        assert_eq!(cursors_written(every).await, 4);
    }

    #[test]
    fn dates_are_written_as_the_date_scalar_writes_them() {
        use async_graphql::ScalarType;
        for (year, month, day) in [
            (2025, 3, 1),
            (999, 12, 31),
            (0, 1, 1),
            (9999, 12, 31),
            (10_000, 1, 1),
            (-44, 3, 15),
        ] {
            let date = NaiveDate::from_ymd_opt(year, month, day).expect("a date");
            assert_eq!(super::date(&date), date.to_value(), "{date}");
        }
    }

    #[tokio::test]
    async fn aliases_fragments_typenames_and_repeats_answer_as_derived_ones_do() {
        let selection = "__typename first: day ...F figures { callbacks } \
            ... on DayFigures { figures { missedCalls n: inboundCalls } day } \
            ... { again: day figures { __typename callbacks } }";
        let fragment = "fragment F on DayFigures { figures { recoveryRate missRate } }";
        let answer = both("Days", selection, fragment).await;
        assert_eq!(answer.errors, Json::Array(Vec::new()));
        assert_eq!(answer.deferred, 0);
        assert_eq!(
            keys(&answer.plain, 0, None),
            ["__typename", "first", "figures", "day", "again"]
        );
        assert_eq!(
            keys(&answer.plain, 0, Some("figures")),
            [
                "recoveryRate",
                "missRate",
                "callbacks",
                "missedCalls",
                "n",
                "__typename"
            ]
        );

        let selection = "...C creditedTo { touchKind } k: callerKey creditedTo { touchAt }";
        let fragment = "fragment C on Call { id creditedTo { appointmentId } }";
        let answer = both("Calls", selection, fragment).await;
        assert_eq!(
            keys(&answer.plain, 1, Some("creditedTo")),
            ["appointmentId", "touchKind", "touchAt"],
            "the three selections of creditedTo merge"
        );
        assert_eq!(keys(&answer.plain, 1, None), ["id", "creditedTo", "k"]);
    }
}
