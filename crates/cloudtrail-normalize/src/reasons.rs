//! Stable, machine-readable reasons for items that did not become events.
//!
//! The snake_case names returned by `as_str` (and used by `Display` and serde)
//! are part of the public contract: hosts count and dead-letter by them, so a
//! name never changes once released.

use std::fmt;

use serde::Serialize;

/// Why a recognised input was intentionally not turned into an event.
///
/// A skip is not an error: the input was understood, it just is not a
/// CloudTrail API/console/service event that detections run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A CloudTrail Insights event (`eventCategory: "Insight"`,
    /// `insightDetails`, or the `AWS Insight via CloudTrail` detail-type).
    InsightEvent,
    /// A CloudTrail digest file (integrity validation), not events.
    DigestFile,
    /// A well-formed EventBridge event of another, non-CloudTrail detail-type.
    NotCloudtrail,
    /// Nothing to read: empty input, whitespace only, or an empty container
    /// (`[]`, `{"Records":[]}`, `{"Events":[]}`). Reported once so that every
    /// input is accounted for.
    EmptyInput,
    /// A CloudWatch Logs subscription `CONTROL_MESSAGE` (a delivery probe).
    ControlMessage,
}

impl SkipReason {
    /// The stable snake_case name of this reason.
    pub fn as_str(&self) -> &'static str {
        match self {
            SkipReason::InsightEvent => "insight_event",
            SkipReason::DigestFile => "digest_file",
            SkipReason::NotCloudtrail => "not_cloudtrail",
            SkipReason::EmptyInput => "empty_input",
            SkipReason::ControlMessage => "control_message",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an input was refused as bad data.
///
/// A rejected item carries the offending raw text (truncated to
/// [`Options::max_record_bytes`](crate::Options::max_record_bytes)) so the host
/// can dead-letter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not parseable as JSON (including invalid UTF-8 and lone surrogate
    /// escapes such as `"\ud800"`, which serde_json refuses).
    InvalidJson,
    /// The input starts with the gzip magic bytes but does not decompress
    /// (truncated or corrupt stream).
    InvalidGzip,
    /// A JSON value where an object was expected (a number, a string, `null`…).
    NotAnObject,
    /// An object with none of the CloudTrail marks (`eventVersion`,
    /// `eventSource`, `eventName`, `eventID`, `userIdentity`, …).
    NotCloudtrail,
    /// A LookupEvents event whose `CloudTrailEvent` is missing, not a string
    /// or object, or does not parse as a JSON object.
    InvalidLookupEvent,
    /// A CloudTrail EventBridge envelope whose `detail` is missing or is not
    /// a JSON object (or JSON text of one).
    InvalidEnvelope,
    /// A single record larger than
    /// [`Options::max_record_bytes`](crate::Options::max_record_bytes).
    Oversized,
    /// Containers (arrays of arrays …) nested deeper than any real delivery.
    TooDeep,
    /// Gzip input that expands past the ratio cap
    /// ([`Options::max_expansion_ratio`](crate::Options::max_expansion_ratio) beyond the
    /// first MiB): a few kilobytes that would become gigabytes.
    DecompressionBomb,
    /// Gzip input that decompresses past
    /// [`Options::max_input_bytes`](crate::Options::max_input_bytes).
    TooLarge,
    /// One summary for the rejects of an input past
    /// [`Options::max_rejects_kept`](crate::Options::max_rejects_kept): its detail counts
    /// them by reason; they are not kept one by one.
    TooManyRejects,
    /// One summary for the items of an input past
    /// [`Options::max_items`](crate::Options::max_items): they are not processed.
    TooManyItems,
}

impl RejectReason {
    /// The stable snake_case name of this reason.
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::InvalidGzip => "invalid_gzip",
            RejectReason::NotAnObject => "not_an_object",
            RejectReason::NotCloudtrail => "not_cloudtrail",
            RejectReason::InvalidLookupEvent => "invalid_lookup_event",
            RejectReason::InvalidEnvelope => "invalid_envelope",
            RejectReason::Oversized => "oversized",
            RejectReason::TooDeep => "too_deep",
            RejectReason::DecompressionBomb => "decompression_bomb",
            RejectReason::TooLarge => "too_large",
            RejectReason::TooManyRejects => "too_many_rejects",
            RejectReason::TooManyItems => "too_many_items",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
