//! The normalised event and its principal: what every detection sees,
//! whatever shape the record arrived in.

use serde_json::Value;

use crate::envelope;

/// Who made the call: the hot fields of `userIdentity`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// `userIdentity.type` (`IAMUser`, `AssumedRole`, `Root`, `AWSService`…);
    /// `None` when missing or null, as in some service events.
    pub kind: Option<String>,
    /// `userIdentity.arn`.
    pub arn: Option<String>,
    /// `userIdentity.accountId` (numbers zero-padded to 12 digits).
    pub account_id: Option<String>,
    /// `userIdentity.userName`, else the session issuer's `userName` (the role
    /// name of an `AssumedRole`).
    pub user_name: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
    /// `userIdentity.sessionContext.sessionIssuer.arn`.
    pub session_issuer_arn: Option<String>,
    /// `userIdentity.invokedBy` (the AWS service that made the call).
    pub invoked_by: Option<String>,
}

/// One CloudTrail event, normalised.
///
/// Every optional field is `None` when the record lacks it or holds a value
/// that cannot be read as that field (for example `readOnly: "..."`); the
/// full record is always kept in [`record`](Self::record).
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedEvent {
    /// `eventID`; if missing, `"synthetic-"` + the first 32 hex digits of the
    /// SHA-256 of the record's canonical JSON (stable across runs).
    pub id: String,
    /// `eventTime`, else the logstash `@timestamp` (logstash's date filter
    /// commonly moves `eventTime` there), else the envelope's `time`.
    pub time: Option<String>,
    /// `eventSource`, e.g. `iam.amazonaws.com`.
    pub source: Option<String>,
    /// `eventName`.
    pub name: Option<String>,
    /// `awsRegion`, else the envelope's `region`.
    pub region: Option<String>,
    /// `recipientAccountId`, else `userIdentity.accountId`, else the
    /// envelope's `account`; numbers become strings, zero-padded to 12 digits.
    pub account: Option<String>,
    /// The caller.
    pub principal: Principal,
    /// `userIdentity.sessionContext.attributes.mfaAuthenticated`, else
    /// `additionalEventData.MFAUsed` (`"Yes"`/`"No"`, any case); booleans
    /// written as text are read.
    pub mfa_authenticated: Option<bool>,
    /// `sourceIPAddress` as written: an IP address, but also a service host
    /// name or `AWS Internal`; empty or null is `None`.
    pub source_ip: Option<String>,
    /// `userAgent`.
    pub user_agent: Option<String>,
    /// `errorCode`.
    pub error_code: Option<String>,
    /// `errorMessage`.
    pub error_message: Option<String>,
    /// `readOnly`, also when written as `"true"`/`"True"`/`"false"`.
    pub read_only: Option<bool>,
    /// `eventType` (`AwsApiCall`, `AwsConsoleSignIn`, `AwsServiceEvent`…).
    pub event_type: Option<String>,
    /// The CloudTrail record itself: unwrapped from any envelope, with
    /// logstash `@` fields removed.
    pub record: Value,
    /// The EventBridge detail-type the event has (from its envelope) or would
    /// have (derived from `eventType`).
    pub detail_type: String,
    /// [`record`](Self::record) as compact JSON, when the normaliser wrote it already
    /// (its size check of a bare record writes it): [`raw_json`](Self::raw_json) hands it
    /// out rather than writing the record again. Code that changes `record` must reset it.
    pub record_text: RecordText,
}

/// A record's compact JSON text, if written (see [`NormalizedEvent::record_text`]). A
/// cache of what `record` holds, so it takes no part in comparing events: the same record
/// is the same event whether or not its text was kept.
#[derive(Debug, Clone, Default)]
pub struct RecordText(pub Option<String>);

impl PartialEq for RecordText {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl NormalizedEvent {
    /// The record as compact JSON text.
    pub fn raw_json(&self) -> String {
        match &self.record_text.0 {
            Some(text) => text.clone(),
            // Serialising a Value cannot fail (its keys are always strings).
            None => serde_json::to_string(&self.record).unwrap_or_default(),
        }
    }

    /// [`raw_json`](Self::raw_json), taking the kept text rather than copying it.
    pub fn take_raw_json(&mut self) -> String {
        match self.record_text.0.take() {
            Some(text) => text,
            None => self.raw_json(),
        }
    }

    /// The SHA-256 of the record's canonical JSON (keys sorted, no whitespace): the same for
    /// the same content in any shape or key order, different for any other content. Dedup
    /// keeps it beside the eventID, so a forged copy of an id cannot hide the real event.
    pub fn content_digest(&self) -> [u8; 32] {
        crate::id::content_digest(&self.record)
    }

    /// The EventBridge envelope form of the event, for event-pattern matching:
    /// `{"version":"0","id":..,"detail-type":..,"source":"aws.<service>",
    /// "account":..,"time":..,"region":..,"resources":[],"detail":<record>}`,
    /// with absent fields omitted.
    pub fn envelope(&self) -> Value {
        envelope::build(self)
    }

    /// Calls `f` with the top-level fields of [`NormalizedEvent::envelope`] as
    /// (key, value) pairs, `detail` borrowing [`NormalizedEvent::record`]: the
    /// envelope seen without copying the record (for pattern matching).
    pub fn with_envelope_fields<R>(&self, f: impl FnOnce(&[(&str, &Value)]) -> R) -> R {
        envelope::with_fields(self, f)
    }

    /// Whether the event is a signal about other events rather than an API call: a
    /// CloudTrail Insights event or a GuardDuty finding. A host routes signals only to
    /// plugins that subscribe to their detail-type by name.
    pub fn is_signal(&self) -> bool {
        self.detail_type == crate::shape::INSIGHT_DETAIL_TYPE
            || self.detail_type == crate::shape::GUARDDUTY_DETAIL_TYPE
    }

    /// The EventBridge `source` of the event, derived from `eventSource`:
    /// `iam.amazonaws.com` → `aws.iam`, `signin.amazonaws.com` →
    /// `aws.signin`. `None` when there is no usable `eventSource`.
    pub fn envelope_source(&self) -> Option<String> {
        self.source.as_deref().and_then(envelope::source_for)
    }
}
