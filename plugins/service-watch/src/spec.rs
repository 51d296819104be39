//! The rule table's shape and what every rule shares: which events it is subscribed to,
//! the test of a call's outcome, and the finding it builds.
//!
//! Each rule is one [`Spec`]: the calls it looks at (event source and name), whether failed
//! calls count, and a condition on the record. The EventBridge patterns are made from the
//! same table, so a rule never sees more than its own calls.

use std::cell::OnceCell;

use trailwarden_plugin_sdk::json::{get_ci, ObjectWriter};
use trailwarden_plugin_sdk::serde_json::{self, json, value::RawValue, Map, Value};
use trailwarden_plugin_sdk::{capitalize, non_empty, Event, Finding, Rule, Severity};

/// The event names a rule is subscribed to.
#[derive(Clone, Copy)]
pub enum Names {
    /// These names exactly.
    Exact(&'static [&'static str]),
    /// Names starting with one of these (Lambda's versioned names, `UpdateFunctionCode20150331v2`).
    Prefix(&'static [&'static str]),
    /// Every call of the sources (VPC endpoint records).
    Any,
    /// Every call of the sources except those whose name starts with one of these (IAM
    /// changes: not `Get*`, `List*`, ...), so reads are not even routed to the plugin.
    AnyBut(&'static [&'static str]),
}

/// The kind of record a rule reads (`eventType`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// API calls (`AwsApiCall`, or no type): VPC endpoint copies of a call are left out.
    ApiCall,
    /// Console sign-in records (`AwsConsoleSignIn`).
    ConsoleSignIn,
    /// API calls and console actions (`AwsConsoleAction`).
    ApiOrConsole,
    /// VPC endpoint network activity (`AwsVpceEvent`), of any source.
    VpcEndpoint,
}

/// The top-level fields of a record that the rules and findings read. Only these are kept
/// (not `userIdentity` and the rest, which the event's own fields already give), and each
/// is parsed only when a rule or finding reads it: natively, `detect` went from 11.0 to 7.6
/// us per event of the bench input with the first, and most events routed here (repeats of
/// a change, calls a condition turns down) now read one field or none.
pub const RECORD_FIELDS: [&str; 4] = [
    "requestParameters",
    "responseElements",
    "resources",
    "vpcEndpointAccountId",
];

/// What a condition sees: the event's hot fields and its record's [`RECORD_FIELDS`].
pub struct Facts<'a> {
    pub event: &'a Event,
    /// Each field's text as in the record; `None` when the record is not a JSON object.
    texts: Option<[Option<&'a RawValue>; RECORD_FIELDS.len()]>,
    /// Each field parsed, on first read.
    parsed: [OnceCell<Option<Value>>; RECORD_FIELDS.len()],
}

impl<'a> Facts<'a> {
    /// The facts of `event`: its record's fields found, none of them parsed yet.
    pub fn of(event: &'a Event) -> Facts<'a> {
        Facts {
            event,
            texts: trailwarden_plugin_sdk::json::record_field_texts(&event.raw, &RECORD_FIELDS),
            parsed: Default::default(),
        }
    }

    /// Where `key` is in [`RECORD_FIELDS`]; a key not kept there reads as absent.
    fn position(key: &str) -> Option<usize> {
        let position = RECORD_FIELDS.iter().position(|k| *k == key);
        debug_assert!(position.is_some(), "{key} is not one of RECORD_FIELDS");
        position
    }

    /// A top-level field of the record ([`RECORD_FIELDS`]) as it is written there.
    pub fn record_text(&self, key: &str) -> Option<&'a RawValue> {
        self.texts.as_ref()?[Self::position(key)?]
    }

    /// A top-level field of the record ([`RECORD_FIELDS`]), parsed on first read.
    pub fn record_field(&self, key: &str) -> Option<&Value> {
        let i = Self::position(key)?;
        let text = self.texts.as_ref()?[i]?;
        self.parsed[i]
            .get_or_init(|| serde_json::from_str(text.get()).ok())
            .as_ref()
    }

    /// A request parameter (key matched without regard to case).
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.record_field("requestParameters")
            .and_then(|p| get_ci(p, key))
    }

    /// A request parameter as trimmed, non-empty text.
    pub fn param_str(&self, key: &str) -> Option<&str> {
        text(self.param(key))
    }

    /// A response element (key matched without regard to case).
    pub fn response(&self, key: &str) -> Option<&Value> {
        self.record_field("responseElements")
            .and_then(|p| get_ci(p, key))
    }

    /// A top-level field of the record as text: one of [`RECORD_FIELDS`].
    pub fn field(&self, key: &str) -> Option<&str> {
        text(self.record_field(key))
    }

    /// The event name without Lambda's API version suffix.
    pub fn name(&self) -> &str {
        self.event.name.as_deref().unwrap_or("")
    }

    /// A person rather than a workload: an IAM user, a federated user, or an IAM Identity
    /// Center (SSO) session (`AWSReservedSSO_*` roles).
    pub fn by_person(&self) -> bool {
        match self.event.principal.r#type.as_deref() {
            Some("IAMUser" | "FederatedUser") => true,
            Some("AssumedRole") => {
                let arn = self.event.principal.arn.as_deref().unwrap_or("");
                let issuer = self
                    .event
                    .principal
                    .session_issuer_arn
                    .as_deref()
                    .unwrap_or("");
                arn.contains("/AWSReservedSSO_") || issuer.contains("/AWSReservedSSO_")
            }
            _ => false,
        }
    }
}

/// Who acted, for dedup and burst keys: the principal's ARN, else its user name.
pub fn principal_key(event: &Event) -> &str {
    non_empty(event.principal.arn.as_deref())
        .or(non_empty(event.principal.user_name.as_deref()))
        .unwrap_or("unknown")
}

/// The ARNs of the record's `resources`.
pub fn resources(facts: &Facts) -> Vec<String> {
    facts
        .record_field("resources")
        .map(trailwarden_plugin_sdk::json::arns_of)
        .unwrap_or_default()
}

/// Trimmed, non-empty text of a JSON string (or a number).
pub fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// One rule of the table.
pub struct Spec {
    pub id: &'static str,
    pub severity: Severity,
    /// A short statement of what happened, e.g. "RDS activity stream stopped".
    pub title: &'static str,
    /// The ATT&CK technique (current version).
    pub technique: &'static str,
    pub sources: &'static [&'static str],
    pub names: Names,
    pub kind: Kind,
    /// Whether failed calls count too (attempts are the signal, e.g. traffic mirroring).
    pub attempts: bool,
    /// The condition on the record beyond source and name.
    pub when: fn(&Facts) -> bool,
    /// For a burst rule: how many matching calls by one principal, within how long, make a
    /// finding; `None`: every matching call is one.
    pub threshold: Option<Threshold>,
    /// Why it matters, for the catalog and the finding.
    pub why: &'static str,
    pub runbook: &'static str,
}

/// A burst: `count` matching calls by one principal within `window_seconds` (event time,
/// counted in host state); the config's `thresholds` (rule id -> count) overrides `count`.
#[derive(Clone, Copy)]
pub struct Threshold {
    pub count: u64,
    pub window_seconds: u32,
}

/// Every rule's condition when source and name are enough.
pub fn always(_: &Facts) -> bool {
    true
}

impl Spec {
    /// The EventBridge pattern of this rule's calls.
    pub fn pattern(&self) -> Value {
        let mut detail = Map::new();
        if !self.sources.is_empty() {
            detail.insert("eventSource".into(), json!(self.sources));
        }
        match self.names {
            Names::Exact(names) => {
                detail.insert("eventName".into(), json!(names));
            }
            Names::Prefix(prefixes) => {
                let alternatives: Vec<Value> =
                    prefixes.iter().map(|p| json!({ "prefix": p })).collect();
                detail.insert("eventName".into(), Value::Array(alternatives));
            }
            Names::AnyBut(prefixes) => {
                detail.insert(
                    "eventName".into(),
                    json!([{ "anything-but": { "prefix": prefixes } }]),
                );
            }
            Names::Any => {}
        }
        if self.kind == Kind::VpcEndpoint {
            detail.insert("eventType".into(), json!(["AwsVpceEvent"]));
        }
        if !self.attempts {
            // Failed calls do not count here, so they are not routed here either: a record
            // without an `errorCode` (or with a null or empty one), which [`Spec::applies`]
            // still checks with the `errorMessage`.
            detail.insert("errorCode".into(), json!([{ "exists": false }, null, ""]));
        }
        json!({ "detail": detail })
    }

    fn kind_matches(&self, event: &Event) -> bool {
        let kind = event.event_type.as_deref();
        match self.kind {
            Kind::ApiCall => matches!(kind, None | Some("AwsApiCall")),
            Kind::ConsoleSignIn => matches!(kind, None | Some("AwsConsoleSignIn")),
            Kind::ApiOrConsole => {
                matches!(kind, None | Some("AwsApiCall" | "AwsConsoleAction"))
            }
            Kind::VpcEndpoint => kind == Some("AwsVpceEvent"),
        }
    }

    fn name_matches(&self, name: &str) -> bool {
        match self.names {
            Names::Exact(names) => names.contains(&name),
            Names::Prefix(prefixes) => prefixes.iter().any(|p| name.starts_with(p)),
            Names::AnyBut(prefixes) => !prefixes.iter().any(|p| name.starts_with(p)),
            Names::Any => true,
        }
    }

    /// Whether this rule fires on the event: [`Spec::applies`] and its condition.
    pub fn matches(&self, facts: &Facts) -> bool {
        self.applies(facts.event) && (self.when)(facts)
    }

    /// Whether the event is one of the calls this rule looks at (source, name, kind,
    /// outcome): decided on the parsed fields alone, before the record is parsed.
    pub fn applies(&self, event: &Event) -> bool {
        let source_ok = self.sources.is_empty()
            || event
                .source
                .as_deref()
                .is_some_and(|s| self.sources.contains(&s));
        source_ok
            && self.name_matches(event.name.as_deref().unwrap_or(""))
            && self.kind_matches(event)
            && (self.attempts || !event.failed())
    }

    /// Whether repeats of one change within `repeat_window_seconds` raise one finding: the
    /// info rules (views of change), not the ones that report a threat or a burst.
    pub fn folds_repeats(&self) -> bool {
        self.severity == Severity::Info && self.threshold.is_none()
    }

    /// The catalog entry, naming the notify target.
    pub fn rule(&self, target: &str, response: &[&str]) -> Rule {
        let calls = match self.names {
            Names::Exact(names) => names.join(", "),
            Names::Prefix(prefixes) => format!("{}*", prefixes.join("*, ")),
            Names::AnyBut(prefixes) => format!("any call but {}*", prefixes.join("*, ")),
            Names::Any => "any call".to_owned(),
        };
        let sources = if self.sources.is_empty() {
            "any service".to_owned()
        } else {
            self.sources.join(", ")
        };
        let outcome = if self.attempts {
            "successful or not"
        } else {
            "successful calls only"
        };
        let burst = match self.threshold {
            Some(t) => format!(
                " Reported when one principal makes {} such calls within {} minutes (config `thresholds`).",
                t.count,
                t.window_seconds / 60
            ),
            None if self.folds_repeats() => " The same principal making the same call with the same \
                parameters again within `repeat_window_seconds` (an hour) raises no new finding."
                .to_owned(),
            None => String::new(),
        };
        Rule::new(
            self.id,
            self.severity,
            self.title,
            &[self.technique],
            &format!(
                "{calls} ({sources}; {outcome}).{burst} {} Sent to {target}.",
                self.why
            ),
            self.runbook,
            response,
        )
    }

    /// The dedup key of its finding for the event: rule, account, region, principal, call.
    pub fn dedup_key(&self, facts: &Facts) -> String {
        let event = facts.event;
        format!(
            "{}:{}:{}:{}:{}",
            self.id,
            event.account_or_unknown(),
            event.region_or_unknown(),
            principal_key(event),
            facts.name()
        )
    }

    /// The finding for an event this rule matched.
    pub fn finding(&self, facts: &Facts) -> Finding {
        let event = facts.event;
        let account = event.account_or_unknown();
        let region = event.region_or_unknown();
        let name = facts.name();
        let resources = resources(facts);
        let outcome = if event.failed() {
            format!(
                " (it failed: {})",
                event.error_code.as_deref().unwrap_or("error")
            )
        } else {
            String::new()
        };
        // What happened and why it matters. The runbook is the rule's (catalog), which the
        // console and every notification show: repeated here it was a tenth of each row.
        let description = format!(
            "{} called {name}{outcome} in account {account}, region {region}, {}. {}",
            capitalize(&event.actor()),
            event.origin(),
            self.why,
        );
        let context = ObjectWriter::new()
            .field("event_source", &event.source)
            .field("event_name", &event.name)
            .field("account", &event.account_or_principal_account())
            .field("region", &event.region)
            .field("principal_arn", &event.principal.arn)
            .field("principal_type", &event.principal.r#type)
            .field("source_ip", &event.source_ip)
            .field("user_agent", &event.user_agent)
            .field("event_time", &event.time)
            .field("error_code", &event.error_code)
            // As written in the record: copied, not parsed and written again.
            .field(
                "request_parameters",
                &facts.record_text("requestParameters"),
            )
            .finish();
        Finding {
            rule_id: self.id.to_owned(),
            severity: self.severity,
            title: format!(
                "{} in account {account}, region {region} ({name})",
                self.title
            ),
            description,
            resources,
            dedup_key: self.dedup_key(facts),
            event_id: event.id.clone(),
            context,
        }
    }
}
