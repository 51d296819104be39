//! Walking one parsed document of any shape down to its records, emitting
//! exactly one [`Item`] per event found (and one per thing that is not an
//! event), so that `events_read = normalised + skipped + rejected` holds.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::envelope::EnvelopeInfo;
use crate::raw;
use crate::reasons::{RejectReason, SkipReason};
use crate::record;
use crate::shape::{self, EnvelopeKind, Shape};
use crate::{Item, Options};

/// Containers (lists, `Records`, `Events`, `logEvents`) nested deeper than
/// this are refused: no real delivery nests more than a few levels, and the
/// limit keeps recursion bounded for values built in memory.
const MAX_DEPTH: usize = 32;

/// Where in the input an item came from, for the human detail of skips and
/// rejects. Built on the stack and only formatted when needed.
#[derive(Clone, Copy)]
pub(crate) enum Loc<'a> {
    Root,
    Line(usize),
    Index(&'a Loc<'a>, &'static str, usize),
}

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Root => Ok(()),
            Loc::Line(n) => write!(f, "line {n}"),
            Loc::Index(parent, field, i) => {
                if !matches!(parent, Loc::Root) {
                    write!(f, "{parent} ")?;
                }
                write!(f, "{field}[{i}]")
            }
        }
    }
}

impl Loc<'_> {
    /// `"<loc>: <message>"`, or just the message at the root.
    fn detail(&self, message: impl fmt::Display) -> String {
        match self {
            Loc::Root => message.to_string(),
            loc => format!("{loc}: {message}"),
        }
    }
}

/// Collects the items of one input, within the input's item and reject caps.
pub(crate) struct Walker<'o> {
    pub(crate) options: &'o Options,
    items: Vec<Item>,
    /// Where items go as they are found, instead of `items` (streaming).
    sink: Option<&'o mut dyn FnMut(Item)>,
    /// Items yielded so far, kept or handed to the sink.
    taken: usize,
    /// Rejects kept one by one so far.
    rejects_kept: usize,
    /// Rejects past `max_rejects_kept`, by reason, counted only.
    rejects_over: BTreeMap<&'static str, usize>,
    /// Items past `max_items`, counted only.
    items_over: usize,
}

impl<'o> Walker<'o> {
    pub(crate) fn new(options: &'o Options) -> Self {
        Walker {
            options,
            items: Vec::new(),
            sink: None,
            taken: 0,
            rejects_kept: 0,
            rejects_over: BTreeMap::new(),
            items_over: 0,
        }
    }

    /// A walker that hands each item to `sink` as soon as it is found.
    pub(crate) fn streaming(options: &'o Options, sink: &'o mut dyn FnMut(Item)) -> Self {
        let mut walker = Walker::new(options);
        walker.sink = Some(sink);
        walker
    }

    fn push(&mut self, item: Item) {
        self.taken += 1;
        match self.sink.as_mut() {
            Some(sink) => sink(item),
            None => self.items.push(item),
        }
    }

    /// The items, with a summary reject for what went past a cap.
    pub(crate) fn finish(mut self) -> Vec<Item> {
        let over: usize = self.rejects_over.values().sum();
        if over > 0 {
            let by_reason: Vec<String> = self
                .rejects_over
                .iter()
                .map(|(reason, n)| format!("{reason}: {n}"))
                .collect();
            self.push(Item::Rejected {
                reason: RejectReason::TooManyRejects,
                detail: format!(
                    "{over} more rejected items in this input, past the {} kept one by one ({})",
                    self.options.max_rejects_kept,
                    by_reason.join(", ")
                ),
                raw: String::new(),
            });
        }
        if self.items_over > 0 {
            self.push(Item::Rejected {
                reason: RejectReason::TooManyItems,
                detail: format!(
                    "{} more items in this input, past the limit of {} per input, not processed",
                    self.items_over, self.options.max_items
                ),
                raw: String::new(),
            });
        }
        self.items
    }

    /// Whether the input has yielded all the items it may; counts the one not taken.
    fn full(&mut self) -> bool {
        if self.taken < self.options.max_items {
            return false;
        }
        self.items_over += 1;
        true
    }

    /// Counts a reject past the cap without building its detail, when it is one; the hot
    /// path of an input made of bad lines.
    pub(crate) fn counted_only(&mut self, reason: RejectReason) -> bool {
        if self.rejects_kept < self.options.max_rejects_kept {
            return false;
        }
        *self.rejects_over.entry(reason.as_str()).or_default() += 1;
        true
    }

    /// Whether a reject of `reason` is kept one by one; counts it otherwise.
    fn keeps_reject(&mut self, reason: RejectReason) -> bool {
        if self.counted_only(reason) {
            return false;
        }
        if self.full() {
            return false;
        }
        self.rejects_kept += 1;
        true
    }

    pub(crate) fn skip(&mut self, reason: SkipReason, detail: String) {
        if !self.full() {
            self.push(Item::Skipped { reason, detail });
        }
    }

    /// Rejects with raw text already in hand (cut to the limit here).
    pub(crate) fn reject_text(&mut self, reason: RejectReason, detail: String, raw: &[u8]) {
        if !self.keeps_reject(reason) {
            return;
        }
        let raw = raw::truncate_lossy(raw, self.options.max_record_bytes);
        self.push(Item::Rejected {
            reason,
            detail,
            raw,
        });
    }

    /// Rejects a parsed value, keeping its compact JSON (cut to the limit).
    fn reject_value(&mut self, reason: RejectReason, detail: String, value: &Value) {
        if !self.keeps_reject(reason) {
            return;
        }
        let raw = raw::compact_text(value, self.options.max_record_bytes);
        self.push(Item::Rejected {
            reason,
            detail,
            raw,
        });
    }

    /// One document of any shape.
    pub(crate) fn document(&mut self, value: Value, loc: &Loc<'_>, depth: usize) {
        let shape = shape::classify(&value);
        match shape {
            Shape::List => {
                if let Value::Array(items) = value {
                    self.container(items, "", loc, depth);
                }
            }
            Shape::LogFile => self.field_container(value, "Records", loc, depth),
            Shape::LookupResponse => self.field_container(value, "Events", loc, depth),
            Shape::CloudWatchLogs => self.cloudwatch_logs(value, loc, depth),
            Shape::Digest => self.skip(
                SkipReason::DigestFile,
                loc.detail("CloudTrail digest file (log integrity validation), no events"),
            ),
            Shape::Scalar if self.counted_only(RejectReason::NotAnObject) => {}
            Shape::Scalar => {
                let kind = json_kind(&value);
                self.reject_value(
                    RejectReason::NotAnObject,
                    loc.detail(format_args!("expected a JSON object, found {kind}")),
                    &value,
                );
            }
            Shape::Unknown => self.reject_value(
                RejectReason::NotCloudtrail,
                loc.detail("JSON object with none of the CloudTrail record fields"),
                &value,
            ),
            Shape::LookupEvent | Shape::Envelope(_) | Shape::Record => {
                let Some(text) = self.within_size(&value, loc) else {
                    return;
                };
                match (shape, value) {
                    (Shape::LookupEvent, Value::Object(obj)) => self.lookup_event(obj, loc),
                    (Shape::Envelope(kind), Value::Object(obj)) => self.envelope(obj, kind, loc),
                    // A bare record: the text its size check wrote is the record's own.
                    (_, Value::Object(obj)) => self.record(obj, None, loc, Some(text)),
                    // classify() only returns these shapes for objects.
                    (_, other) => self.reject_value(
                        RejectReason::NotAnObject,
                        loc.detail("expected a JSON object"),
                        &other,
                    ),
                }
            }
        }
    }

    /// Checks one event-sized unit against `max_record_bytes`, rejecting it
    /// as `oversized` when over; within the limit, its compact JSON text.
    fn within_size(&mut self, value: &Value, loc: &Loc<'_>) -> Option<String> {
        let limit = self.options.max_record_bytes;
        if let Some(text) = raw::compact_within(value, limit) {
            return Some(text);
        }
        self.reject_value(
            RejectReason::Oversized,
            loc.detail(format_args!(
                "record is larger than the {limit}-byte limit (as compact JSON)"
            )),
            value,
        );
        None
    }

    /// `{"Records": [...]}` or `{"Events": [...]}`: the array's elements.
    fn field_container(&mut self, value: Value, field: &'static str, loc: &Loc<'_>, depth: usize) {
        let Value::Object(mut obj) = value else {
            return;
        };
        match obj.remove(field) {
            Some(Value::Array(items)) => self.container(items, field, loc, depth),
            // classify() checked that the field is an array.
            other => {
                let v = other.unwrap_or(Value::Null);
                self.reject_value(
                    RejectReason::NotCloudtrail,
                    loc.detail(format_args!("`{field}` is not an array")),
                    &v,
                );
            }
        }
    }

    /// Every element of a list, one level deeper.
    fn container(&mut self, items: Vec<Value>, field: &'static str, loc: &Loc<'_>, depth: usize) {
        let what = if field.is_empty() { "list" } else { field };
        if items.is_empty() {
            self.skip(
                SkipReason::EmptyInput,
                loc.detail(format_args!("empty {what}, no events")),
            );
            return;
        }
        if depth >= MAX_DEPTH {
            let value = Value::Array(items);
            self.reject_value(
                RejectReason::TooDeep,
                loc.detail(format_args!(
                    "{what} nested more than {MAX_DEPTH} containers deep"
                )),
                &value,
            );
            return;
        }
        for (i, item) in items.into_iter().enumerate() {
            let here = Loc::Index(loc, field, i);
            self.document(item, &here, depth + 1);
        }
    }

    /// A LookupEvents event: the record is the JSON text in `CloudTrailEvent`
    /// (some tools already parsed it into an object; that is accepted too).
    fn lookup_event(&mut self, mut obj: Map<String, Value>, loc: &Loc<'_>) {
        let parsed = match obj.get("CloudTrailEvent") {
            Some(Value::String(text)) => serde_json::from_str::<Value>(text)
                .map_err(|e| format!("CloudTrailEvent is not valid JSON: {e}")),
            Some(Value::Object(_)) => match obj.remove("CloudTrailEvent") {
                Some(record) => Ok(record),
                None => Err("CloudTrailEvent vanished".to_owned()),
            },
            Some(other) => Err(format!(
                "CloudTrailEvent is {}, expected JSON text",
                json_kind(other)
            )),
            None => Err("CloudTrailEvent is missing".to_owned()),
        };
        match parsed {
            Ok(Value::Object(record)) => self.record(record, None, loc, None),
            Ok(other) => {
                let detail = loc.detail(format_args!(
                    "CloudTrailEvent holds {}, expected a JSON object",
                    json_kind(&other)
                ));
                self.reject_value(
                    RejectReason::InvalidLookupEvent,
                    detail,
                    &Value::Object(obj),
                );
            }
            Err(message) => self.reject_value(
                RejectReason::InvalidLookupEvent,
                loc.detail(message),
                &Value::Object(obj),
            ),
        }
    }

    /// An EventBridge envelope.
    fn envelope(&mut self, mut obj: Map<String, Value>, kind: EnvelopeKind, loc: &Loc<'_>) {
        match kind {
            EnvelopeKind::GuardDuty => {
                if self.full() {
                    return;
                }
                let event = crate::signal::guardduty(obj);
                self.push(Item::Event(event));
            }
            EnvelopeKind::Other => {
                let detail_type = obj.get("detail-type").and_then(Value::as_str);
                let source = obj.get("source").and_then(Value::as_str);
                let message = format!(
                    "EventBridge event of detail-type {:?} from source {:?}, not CloudTrail",
                    detail_type.unwrap_or("(none)"),
                    source.unwrap_or("(none)")
                );
                self.skip(SkipReason::NotCloudtrail, loc.detail(message));
            }
            EnvelopeKind::CloudTrail | EnvelopeKind::Insight => {
                let info = EnvelopeInfo::read(&obj);
                // Some producers put the record in `detail` as JSON text.
                let detail = match obj.get("detail") {
                    Some(Value::Object(_)) => obj.remove("detail"),
                    Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok(),
                    _ => None,
                };
                match detail {
                    Some(Value::Object(record)) => self.record(record, Some(info), loc, None),
                    _ => {
                        let kind = obj.get("detail").map_or("nothing", json_kind);
                        self.reject_value(
                            RejectReason::InvalidEnvelope,
                            loc.detail(format_args!(
                                "CloudTrail EventBridge event whose detail is {kind}, expected the record as a JSON object"
                            )),
                            &Value::Object(obj),
                        );
                    }
                }
            }
        }
    }

    /// A CloudWatch Logs subscription payload: each log event's `message`
    /// is one CloudTrail record as JSON text.
    fn cloudwatch_logs(&mut self, value: Value, loc: &Loc<'_>, depth: usize) {
        let Value::Object(mut obj) = value else {
            return;
        };
        if obj.get("messageType").and_then(Value::as_str) == Some("CONTROL_MESSAGE") {
            self.skip(
                SkipReason::ControlMessage,
                loc.detail("CloudWatch Logs subscription control message"),
            );
            return;
        }
        let Some(Value::Array(events)) = obj.remove("logEvents") else {
            self.reject_value(
                RejectReason::NotCloudtrail,
                loc.detail("CloudWatch Logs payload without a logEvents array"),
                &Value::Object(obj),
            );
            return;
        };
        if events.is_empty() {
            self.skip(
                SkipReason::EmptyInput,
                loc.detail("empty logEvents, no events"),
            );
            return;
        }
        if depth >= MAX_DEPTH {
            self.reject_value(
                RejectReason::TooDeep,
                loc.detail(format_args!("logEvents nested more than {MAX_DEPTH} deep")),
                &Value::Array(events),
            );
            return;
        }
        for (i, mut event) in events.into_iter().enumerate() {
            let here = Loc::Index(loc, "logEvents", i);
            let message = event.as_object_mut().and_then(|e| e.remove("message"));
            match message {
                Some(Value::String(text)) => match serde_json::from_str::<Value>(&text) {
                    Ok(record) => self.document(record, &here, depth + 1),
                    Err(e) => self.reject_text(
                        RejectReason::InvalidJson,
                        here.detail(format_args!("message is not valid JSON: {e}")),
                        text.as_bytes(),
                    ),
                },
                Some(record @ Value::Object(_)) => self.document(record, &here, depth + 1),
                _ => self.reject_value(
                    RejectReason::NotAnObject,
                    here.detail("log event without a JSON message"),
                    &event,
                ),
            }
        }
    }

    /// A record recognised as CloudTrail: an event (an Insight too, of its own event type and
    /// detail-type, unless [`crate::Options::skip_insights`]). `text`: the record as compact
    /// JSON, when the size check already wrote it.
    fn record(
        &mut self,
        record: Map<String, Value>,
        envelope: Option<EnvelopeInfo>,
        loc: &Loc<'_>,
        text: Option<String>,
    ) {
        if self.options.skip_insights && shape::is_insight(&record) {
            let id = record.get("eventID").and_then(Value::as_str).unwrap_or("?");
            let insight_type = record
                .get("insightDetails")
                .and_then(|d| d.get("insightType"))
                .and_then(Value::as_str)
                .unwrap_or("unknown type");
            self.skip(
                SkipReason::InsightEvent,
                loc.detail(format_args!(
                    "CloudTrail Insights event {id} ({insight_type}), not an API call"
                )),
            );
            return;
        }
        if self.full() {
            return;
        }
        self.push(Item::Event(record::normalize(record, envelope, text)));
    }
}

/// "a number", "a string", … for messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
