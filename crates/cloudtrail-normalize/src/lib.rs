//! Turns every shape AWS CloudTrail arrives in into one normalised record per
//! event, or a counted skip or reject with a stated reason.
//!
//! # Shapes accepted
//!
//! Each of these as one JSON document, as JSON lines of any of them, or gzip
//! compressed (recognised by the magic bytes `1f 8b`, up to three layers):
//!
//! - a bare CloudTrail record (`eventVersion`, `eventSource`, `eventName`,
//!   `userIdentity`, …), also with logstash's `@timestamp`/`@version` fields,
//!   which are removed from [`NormalizedEvent::record`];
//! - an EventBridge envelope of a CloudTrail detail-type (`AWS API Call via
//!   CloudTrail`, `AWS Console Sign In via CloudTrail`, …, any ending in
//!   `via CloudTrail`), the record in `detail`. An envelope whose
//!   detail-type is a placeholder but whose `detail` clearly is a CloudTrail
//!   record (two or more record fields) is accepted too;
//! - a JSON array of any of these (EventBridge API destinations batch);
//! - signals, each an event of its own kind: a CloudTrail Insights event (bare or in
//!   its `AWS Insight via CloudTrail` envelope; `eventType` `AwsCloudTrailInsight`, the API
//!   it is about in `insightDetails`, no `eventSource` or `eventName` of its own), and a
//!   GuardDuty finding in its EventBridge envelope (detail-type `GuardDuty Finding`:
//!   `eventType` `GuardDutyFinding`, `eventSource` `guardduty.amazonaws.com`, `eventName`
//!   the finding type, the record the finding; see `signal.rs`);
//! - a CloudTrail log file `{"Records": [...]}`;
//! - LookupEvents output: the whole response `{"Events": [...]}` or single
//!   events, the record being the JSON text in `CloudTrailEvent`;
//! - a CloudWatch Logs subscription payload (`logEvents[].message`).
//!
//! # Skipped or rejected
//!
//! Every event found yields exactly one [`Item`], so
//! `events_read = normalised + skipped + rejected` holds downstream.
//!
//! A **skip** ([`SkipReason`]) is input that was understood and is
//! intentionally not processed; it is not an error and is not dead-lettered:
//!
//! | reason | when |
//! |---|---|
//! | `insight_event` | with [`Options::skip_insights`] only: a CloudTrail Insights event (`eventCategory: "Insight"`, `insightDetails`, `eventType: "AwsCloudTrailInsight"` or the `AWS Insight via CloudTrail` detail-type) |
//! | `digest_file` | a CloudTrail digest file (`digestStartTime`, `digestS3Bucket`, …), or a name hint containing `CloudTrail-Digest` given to [`normalize_bytes_with_hint`] |
//! | `not_cloudtrail` | a well-formed EventBridge event of another detail-type (EC2 state change, …): valid, just not ours |
//! | `empty_input` | empty or whitespace-only input, or an empty `[]`, `Records`, `Events` or `logEvents`: reported once so that every input is accounted for |
//! | `control_message` | a CloudWatch Logs subscription `CONTROL_MESSAGE` |
//!
//! A **reject** ([`RejectReason`]) is bad input; it carries the offending raw
//! text, truncated to [`Options::max_record_bytes`], for dead-lettering:
//!
//! | reason | when |
//! |---|---|
//! | `invalid_json` | not JSON (also invalid UTF-8 and lone surrogate escapes like `"\ud800"`); in JSON lines, one reject per broken line, naming its line number |
//! | `invalid_gzip` | gzip magic bytes but a truncated or corrupt stream |
//! | `not_an_object` | a number, string, boolean or null where a document was expected (e.g. each element of an array of strings) |
//! | `not_cloudtrail` | an object with none of the CloudTrail record fields |
//! | `invalid_lookup_event` | a LookupEvents event whose `CloudTrailEvent` is missing or not a JSON object |
//! | `invalid_envelope` | a CloudTrail EventBridge envelope without an object `detail` |
//! | `oversized` | one record (or envelope, or lookup event) over `max_record_bytes` as compact JSON |
//! | `too_deep` | lists nested more than 32 levels |
//! | `decompression_bomb` | gzip that expands past [`Options::max_expansion_ratio`] times its size (beyond the first MiB) |
//! | `too_large` | gzip that decompresses past [`Options::max_input_bytes`] |
//! | `too_many_rejects` | one summary for an input's rejects past [`Options::max_rejects_kept`], counted by reason in its detail |
//! | `too_many_items` | one summary for an input's items past [`Options::max_items`], which are not processed |
//!
//! So an input of any size yields a bounded number of items, and a hostile one
//! (a nested gzip of zeros, millions of one-character lines) is refused quickly
//! in bounded memory.
//!
//! Known traps never cost the event: a missing `eventTime`, `eventName` or
//! `eventID` (a stable synthetic id is made), a missing `userIdentity` or a
//! null `type`, a `sourceIPAddress` that is a host name, `AWS Internal`,
//! empty or null, booleans written as text, account ids written as numbers.
//!
//! Nothing here panics on any input.
//!
//! # Example
//!
//! ```
//! use cloudtrail_normalize::{normalize_bytes, Item, Options};
//!
//! let line = br#"{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser","readOnly":"false"}"#;
//! let items = normalize_bytes(line, &Options::default());
//! let Item::Event(event) = &items[0] else { panic!("not an event") };
//! assert_eq!(event.name.as_deref(), Some("CreateUser"));
//! assert_eq!(event.read_only, Some(false));
//! assert_eq!(event.envelope_source().as_deref(), Some("aws.iam"));
//! ```

mod coerce;
mod envelope;
mod event;
mod id;
mod input;
mod raw;
mod reasons;
mod record;
mod shape;
mod signal;
mod walk;

use serde_json::Value;

pub use event::{NormalizedEvent, Principal, RecordText};
pub use reasons::{RejectReason, SkipReason};

use walk::{Loc, Walker};

/// Default [`Options::max_record_bytes`]: 256 KiB, EventBridge's own maximum
/// event size.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 256 * 1024;

/// File names of CloudTrail digest files contain this.
pub const DIGEST_NAME_MARK: &str = "CloudTrail-Digest";

/// One outcome per event (or per non-event) found in the input.
#[derive(Debug, Clone, PartialEq)]
// Events are the common case: boxing them to shrink the rare skip/reject
// variants would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Item {
    /// A CloudTrail event, normalised.
    Event(NormalizedEvent),
    /// Recognised input intentionally not processed.
    Skipped {
        /// Why, as a stable name.
        reason: SkipReason,
        /// For people: what was skipped and where.
        detail: String,
    },
    /// Bad input.
    Rejected {
        /// Why, as a stable name.
        reason: RejectReason,
        /// For people: what is wrong and where (line number for JSON lines).
        detail: String,
        /// The offending text, truncated to [`Options::max_record_bytes`].
        raw: String,
    },
}

impl Item {
    /// The event, if this item is one.
    pub fn as_event(&self) -> Option<&NormalizedEvent> {
        match self {
            Item::Event(event) => Some(event),
            _ => None,
        }
    }

    /// `"event"`, or the skip or reject reason's stable name.
    pub fn outcome(&self) -> &'static str {
        match self {
            Item::Event(_) => "event",
            Item::Skipped { reason, .. } => reason.as_str(),
            Item::Rejected { reason, .. } => reason.as_str(),
        }
    }
}

/// Default [`Options::max_input_bytes`]: 256 MiB, above any CloudTrail log file.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 256 * 1024 * 1024;

/// Default [`Options::max_expansion_ratio`]: CloudTrail JSON compresses about 10-30:1.
pub const DEFAULT_MAX_EXPANSION_RATIO: usize = 100;

/// Default [`Options::max_items`].
pub const DEFAULT_MAX_ITEMS: usize = 1_000_000;

/// Default [`Options::max_rejects_kept`].
pub const DEFAULT_MAX_REJECTS_KEPT: usize = 100;

/// Limits applied while normalising.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Largest single record accepted, in bytes of compact JSON; larger ones
    /// are rejected as `oversized`. Also the cap on the raw text a rejected
    /// item keeps.
    pub max_record_bytes: usize,
    /// Most bytes gzip input may decompress to (all layers); past it the input
    /// is one `too_large` reject.
    pub max_input_bytes: usize,
    /// Most decompressed bytes per compressed byte, beyond the first MiB; past
    /// it the input is one `decompression_bomb` reject.
    pub max_expansion_ratio: usize,
    /// Most items one input yields; the rest are counted in one
    /// `too_many_items` reject and not processed.
    pub max_items: usize,
    /// Most rejects one input keeps one by one (with their raw text); the rest
    /// are counted in one `too_many_rejects` reject.
    pub max_rejects_kept: usize,
    /// Skip CloudTrail Insights events (`insight_event`) rather than normalise them as
    /// events of their own kind (`eventType` `AwsCloudTrailInsight`, detail-type `AWS Insight
    /// via CloudTrail`). Off by default.
    pub skip_insights: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_expansion_ratio: DEFAULT_MAX_EXPANSION_RATIO,
            max_items: DEFAULT_MAX_ITEMS,
            max_rejects_kept: DEFAULT_MAX_REJECTS_KEPT,
            skip_insights: false,
        }
    }
}

/// Normalises an input of any shape: gzip or plain, one JSON document, or JSON
/// lines when the whole does not parse as one document.
///
/// Non-empty input always yields at least one item (empty input yields one
/// `empty_input` skip).
///
/// # Errors
///
/// None are returned and nothing panics: a corrupt gzip stream, invalid JSON
/// (per line for JSON lines), non-objects, non-CloudTrail objects and
/// oversized records each become an [`Item::Rejected`] with its reason and
/// raw text, while the rest of the input still comes through.
pub fn normalize_bytes(bytes: &[u8], options: &Options) -> Vec<Item> {
    normalize_bytes_with_hint(bytes, options, None)
}

/// [`normalize_bytes`], with the input's file or object name as a hint: a
/// name containing `CloudTrail-Digest` is a digest file and yields one
/// `digest_file` skip without being read.
///
/// # Errors
///
/// As [`normalize_bytes`]: problems become items, never errors or panics.
pub fn normalize_bytes_with_hint(
    bytes: &[u8],
    options: &Options,
    name_hint: Option<&str>,
) -> Vec<Item> {
    let mut walker = Walker::new(options);
    match name_hint {
        Some(name) if name.contains(DIGEST_NAME_MARK) => walker.skip(
            SkipReason::DigestFile,
            format!("{name:?} is a CloudTrail digest file, no events"),
        ),
        _ => walker.bytes(bytes),
    }
    walker.finish()
}

/// [`normalize_bytes_with_hint`], handing each item to `each` as soon as it is found
/// instead of collecting them: memory holds the input and one item, not every item of a
/// large file at once. The same items in the same order.
pub fn normalize_bytes_each(
    bytes: &[u8],
    options: &Options,
    name_hint: Option<&str>,
    each: &mut dyn FnMut(Item),
) {
    let mut walker = Walker::streaming(options, each);
    match name_hint {
        Some(name) if name.contains(DIGEST_NAME_MARK) => walker.skip(
            SkipReason::DigestFile,
            format!("{name:?} is a CloudTrail digest file, no events"),
        ),
        _ => walker.bytes(bytes),
    }
    let rest = walker.finish();
    debug_assert!(rest.is_empty(), "a streaming walker keeps nothing");
}

/// The input's text: gzip layers unwrapped within the same caps as [`normalize_bytes`],
/// plain input as it is. `None` when the input is over a cap or its gzip is corrupt; then
/// [`normalize_bytes`] on the same bytes gives the reject that says why.
pub fn decompressed<'a>(bytes: &'a [u8], options: &Options) -> Option<std::borrow::Cow<'a, [u8]>> {
    input::decompress(bytes, options).ok()
}

/// [`normalize_bytes`] of text already through [`decompressed`]: the same items, without
/// unwrapping the input a second time.
pub fn normalize_decompressed(text: &[u8], options: &Options) -> Vec<Item> {
    let mut walker = Walker::new(options);
    walker.text(text);
    walker.finish()
}

/// Normalises one parsed JSON document of any shape (record, envelope, list,
/// log file, LookupEvents output …).
///
/// Always yields at least one item.
///
/// # Errors
///
/// None are returned and nothing panics: parts that are not CloudTrail
/// events become [`Item::Skipped`] or [`Item::Rejected`] items.
pub fn normalize_value(value: Value, options: &Options) -> Vec<Item> {
    let mut walker = Walker::new(options);
    walker.document(value, &Loc::Root, 0);
    walker.finish()
}

/// The id the normaliser gives a record without an `eventID` (bare record, not its
/// envelope): `"synthetic-"` + the first 32 hex digits of the SHA-256 of its canonical JSON.
/// Exposed so that test helpers building events by hand name them as the host does.
pub fn synthetic_event_id(record: &Value) -> String {
    id::synthetic(record)
}
