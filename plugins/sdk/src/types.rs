//! Plain Rust mirrors of the WIT types in `trailwarden:plugin/types@0.2.0`.
//!
//! Plugins are written against these, so that their logic builds and tests natively; on wasm
//! the [`crate::component`] glue converts to and from the generated bindings.

use serde_json::{json, Map, Value};

/// Who made the call, as CloudTrail's `userIdentity` says it (WIT `principal`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// `Root`, `IAMUser`, `AssumedRole`, `FederatedUser`, `AWSService`, `AWSAccount`, ...
    pub r#type: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    /// `userName`, or for a role session the role's name.
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    /// For role sessions: the ARN of the role (or user) that issued the session.
    pub session_issuer_arn: Option<String>,
    /// The AWS service that acted, for `AWSService` principals and `invokedBy`.
    pub invoked_by: Option<String>,
}

/// One CloudTrail record with its hot fields parsed by the host (WIT `event`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    /// CloudTrail `eventID`; the host synthesises a stable one when it is missing.
    pub id: String,
    /// `eventTime`, RFC 3339 as CloudTrail writes it.
    pub time: Option<String>,
    /// `eventSource`, e.g. `iam.amazonaws.com`.
    pub source: Option<String>,
    /// `eventName`, e.g. `CreateAccessKey`.
    pub name: Option<String>,
    pub region: Option<String>,
    /// The account the event was recorded in (`recipientAccountId`).
    pub account: Option<String>,
    pub principal: Principal,
    /// Whether the caller authenticated with MFA, when CloudTrail says.
    pub mfa_authenticated: Option<bool>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub read_only: Option<bool>,
    /// `eventType`: `AwsApiCall`, `AwsConsoleSignIn`, `AwsServiceEvent`, ...
    pub event_type: Option<String>,
    /// True when the caller is one of trailwarden's own AWS principals (its own actions).
    /// The host delivers such events to a plugin holding response grants only if its
    /// descriptor sets [`Descriptor::self_caused_events`].
    pub self_caused: bool,
    /// The whole record as JSON text, for everything not parsed above.
    pub raw: String,
}

impl Event {
    /// The whole record parsed from [`Event::raw`], if it is a JSON object.
    ///
    /// Parse it once per event and pass the value around: checks that need it should simply
    /// not fire when it is `None` (the host hands over whatever it received).
    pub fn raw_json(&self) -> Option<Value> {
        match serde_json::from_str::<Value>(&self.raw) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => None,
        }
    }

    /// True when CloudTrail recorded an error (`errorCode` or `errorMessage` non-empty), the
    /// same test as Panther's `aws_cloudtrail_success`.
    pub fn failed(&self) -> bool {
        let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
        set(&self.error_code) || set(&self.error_message)
    }

    /// `eventSource` and `eventName` both equal the given ones.
    pub fn is(&self, source: &str, name: &str) -> bool {
        self.source.as_deref() == Some(source) && self.name.as_deref() == Some(name)
    }

    /// The account the event belongs to: `recipientAccountId`, else the principal's account.
    pub fn account_or_principal_account(&self) -> Option<&str> {
        non_empty(self.account.as_deref()).or(non_empty(self.principal.account_id.as_deref()))
    }

    /// The ARN partition (`aws`, `aws-us-gov`, `aws-cn`) from the principal's ARN, else `aws`.
    pub fn partition(&self) -> &str {
        self.principal
            .arn
            .as_deref()
            .and_then(|arn| arn.strip_prefix("arn:"))
            .and_then(|rest| rest.split(':').next())
            .filter(|p| !p.is_empty())
            .unwrap_or("aws")
    }

    /// Who acted, for titles and descriptions: `IAM user alice`, `the root user`,
    /// `role session arn:aws:sts::1:assumed-role/r/s`, ..., else `an unknown principal`.
    pub fn actor(&self) -> String {
        let p = &self.principal;
        let arn = non_empty(p.arn.as_deref());
        let user = non_empty(p.user_name.as_deref());
        match (non_empty(p.r#type.as_deref()), arn, user) {
            (Some("Root"), _, _) => "the root user".to_owned(),
            (Some("IAMUser"), _, Some(user)) => format!("IAM user {user}"),
            (Some("AssumedRole"), Some(arn), _) => format!("role session {arn}"),
            (Some("FederatedUser"), Some(arn), _) => format!("federated user {arn}"),
            (Some("AWSService"), _, _) => match non_empty(p.invoked_by.as_deref()) {
                Some(service) => format!("AWS service {service}"),
                None => "an AWS service".to_owned(),
            },
            (_, Some(arn), _) => arn.to_owned(),
            (Some(kind), None, Some(user)) => format!("{kind} {user}"),
            (Some(kind), None, None) => format!("a {kind} principal"),
            (None, None, Some(user)) => user.to_owned(),
            (None, None, None) => "an unknown principal".to_owned(),
        }
    }

    /// Where the call came from, for descriptions: `from 192.0.2.1 (user agent: aws-cli/2)`.
    pub fn origin(&self) -> String {
        let ip = non_empty(self.source_ip.as_deref()).unwrap_or("an unknown address");
        match non_empty(self.user_agent.as_deref()) {
            Some(agent) => format!("from {ip} (user agent: {agent})"),
            None => format!("from {ip}"),
        }
    }

    /// The short service name: `iam` for `iam.amazonaws.com`.
    pub fn service(&self) -> Option<&str> {
        self.source
            .as_deref()
            .map(|s| s.strip_suffix(".amazonaws.com").unwrap_or(s))
    }

    /// [`Event::account_or_principal_account`], else `unknown`: for titles, descriptions and
    /// dedup keys, which must say something.
    pub fn account_or_unknown(&self) -> &str {
        self.account_or_principal_account().unwrap_or("unknown")
    }

    /// The region (`awsRegion`) unless blank, else `unknown`.
    pub fn region_or_unknown(&self) -> &str {
        non_empty(self.region.as_deref()).unwrap_or("unknown")
    }

    /// Where the call was made, for descriptions: `in account 111122223333, region
    /// us-east-1, from 192.0.2.1 (user agent: aws-cli/2)` ([`Event::origin`] last).
    pub fn location(&self) -> String {
        format!(
            "in account {}, region {}, {}",
            self.account_or_unknown(),
            self.region_or_unknown(),
            self.origin()
        )
    }

    /// The ARN of `resource` (`flow-log/fl-1`, `security-group/sg-1`) of `service` in the
    /// event's partition, region and account; `None` unless both region and account are
    /// known (an ARN with `unknown` in it would name nothing).
    pub fn regional_arn(&self, service: &str, resource: &str) -> Option<String> {
        let region = non_empty(self.region.as_deref())?;
        let account = self.account_or_principal_account()?;
        Some(format!(
            "arn:{}:{service}:{region}:{account}:{resource}",
            self.partition()
        ))
    }

    /// The fields of a finding's `context` that every plugin reports the same way:
    /// `event_name`, `account` (null when unknown), `region`, `principal_arn`,
    /// `principal_type`, `source_ip`, `user_agent` and `event_time`. A plugin inserts its
    /// own fields (or replaces one of these) before serialising the map.
    pub fn base_context(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("event_name".into(), json!(self.name));
        m.insert("account".into(), json!(self.account_or_principal_account()));
        m.insert("region".into(), json!(self.region));
        m.insert("principal_arn".into(), json!(self.principal.arn));
        m.insert("principal_type".into(), json!(self.principal.r#type));
        m.insert("source_ip".into(), json!(self.source_ip));
        m.insert("user_agent".into(), json!(self.user_agent));
        m.insert("event_time".into(), json!(self.time));
        m
    }
}

/// `Some(s)` unless `s` is absent or blank.
pub fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// `s` with its first character upper-cased, for sentences that start with
/// [`Event::actor`].
pub fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// How bad a finding is (WIT `severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The lower-case name, as the fixtures and the host write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a name, case-insensitively.
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// What a detection raised (WIT `finding`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable id of the detection rule, e.g. `aws.root.usage`.
    pub rule_id: String,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    /// ARNs or names of the resources involved.
    pub resources: Vec<String>,
    /// Findings with the same dedup key describe the same incident.
    pub dedup_key: String,
    /// The id of the event that raised it.
    pub event_id: String,
    /// Extra facts as a JSON object text (may be empty).
    pub context: String,
}

impl Finding {
    /// The finding as a JSON object with snake_case keys (`rule_id`, `severity` in lower
    /// case, `title`, `description`, `resources`, `dedup_key`, `event_id`, `context`), as the
    /// host stores it and as fixtures match it. `context` is parsed when it is JSON, else
    /// kept as its text.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "rule_id": self.rule_id,
            "severity": self.severity.as_str(),
            "title": self.title,
            "description": self.description,
            "resources": self.resources,
            "dedup_key": self.dedup_key,
            "event_id": self.event_id,
            "context": serde_json::from_str::<Value>(&self.context)
                .unwrap_or_else(|_| Value::String(self.context.clone())),
        })
    }
}

/// What a plugin is and what it wants (WIT `descriptor`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptor {
    pub name: String,
    pub version: String,
    /// EventBridge event patterns (JSON text), matched against the event in its EventBridge
    /// envelope form. The plugin receives an event if any pattern matches.
    pub patterns: Vec<String>,
    /// Capabilities it wants, e.g. `iam.disable-access-key` (see [`crate::capability`]).
    /// Wanting is not having: the admin's grants decide.
    pub capabilities: Vec<String>,
    /// Its fixture files, each the JSON text of one `fixtures/*.json` (see
    /// [`crate::fixtures!`]); the host runs them before a new version serves.
    pub fixtures: Vec<String>,
    /// Receive events caused by trailwarden's own principals. Leave it `false` in a plugin
    /// that acts: otherwise its own responses come back to it as events.
    pub self_caused_events: bool,
}

impl Descriptor {
    /// `name` at `version`, subscribed to every event (`{"version":["0"]}`), wanting no
    /// capability, with no fixtures: what the test guests describe themselves as.
    pub fn every_event(name: &str, version: &str) -> Descriptor {
        Descriptor {
            name: name.to_owned(),
            version: version.to_owned(),
            patterns: vec![r#"{"version":["0"]}"#.to_owned()],
            ..Descriptor::default()
        }
    }
}

/// One detection a plugin holds (WIT 0.3.0 `rule-info`): what `trailwarden rules list`
/// prints. Every `rule_id` a plugin's findings carry should have one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The `rule_id` its findings carry, e.g. `aws.cloudtrail.stopped`.
    pub id: String,
    pub title: String,
    /// The severity of its findings.
    pub severity: Severity,
    /// MITRE ATT&CK technique ids, e.g. `T1562.008`.
    pub techniques: Vec<String>,
    pub description: String,
    /// The first thing a responder should check or do.
    pub runbook: String,
    /// The capabilities called when it fires (constants of [`crate::capability`]); empty
    /// when it only reports.
    pub response: Vec<String>,
    /// Set when the plugin was configured with this rule but cannot run it: why.
    pub refused: Option<String>,
}

impl Rule {
    /// A rule that can run, from string slices (`response`: capability names).
    pub fn new(
        id: &str,
        severity: Severity,
        title: &str,
        techniques: &[&str],
        description: &str,
        runbook: &str,
        response: &[&str],
    ) -> Rule {
        Rule {
            id: id.to_owned(),
            title: title.to_owned(),
            severity,
            techniques: crate::strings(techniques),
            description: description.to_owned(),
            runbook: runbook.to_owned(),
            response: crate::strings(response),
            refused: None,
        }
    }
}

/// The host's answer to a capability call (WIT `receipt`). The decision is recorded before
/// the plugin sees it; the action itself runs afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Receipt {
    /// Granted and queued for execution; the action id.
    Accepted(String),
    /// Granted in dry-run mode: recorded, never executed; the action id.
    DryRun(String),
    /// Granted in approve mode: waits for a person; the action id.
    PendingApproval(String),
    /// Not granted, out of scope, over budget, or invalid; the reason.
    Denied(String),
}

impl Receipt {
    /// The kind in kebab-case, as fixtures write it: `accepted`, `dry-run`,
    /// `pending-approval` or `denied`.
    pub fn kind(&self) -> &'static str {
        match self {
            Receipt::Accepted(_) => "accepted",
            Receipt::DryRun(_) => "dry-run",
            Receipt::PendingApproval(_) => "pending-approval",
            Receipt::Denied(_) => "denied",
        }
    }

    /// The action id, unless the call was denied.
    pub fn action_id(&self) -> Option<&str> {
        match self {
            Receipt::Accepted(id) | Receipt::DryRun(id) | Receipt::PendingApproval(id) => Some(id),
            Receipt::Denied(_) => None,
        }
    }

    /// Whether the host recorded an action (anything but [`Receipt::Denied`]).
    pub fn is_granted(&self) -> bool {
        !matches!(self, Receipt::Denied(_))
    }
}

impl std::fmt::Display for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Receipt::Denied(reason) => write!(f, "denied: {reason}"),
            Receipt::Accepted(id) | Receipt::DryRun(id) | Receipt::PendingApproval(id) => {
                write!(f, "{} (action {id})", self.kind())
            }
        }
    }
}

/// Why `handle` failed (WIT `plugin-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    /// The plugin was handed something it cannot read.
    BadInput(String),
    /// The plugin failed on its own account.
    Internal(String),
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginError::BadInput(m) => write!(f, "bad input: {m}"),
            PluginError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for PluginError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            id: "e1".into(),
            time: Some("2024-05-01T10:00:00Z".into()),
            name: Some("DeleteFlowLogs".into()),
            region: Some("eu-west-1".into()),
            account: Some("111122223333".into()),
            source_ip: Some("192.0.2.1".into()),
            user_agent: Some("aws-cli/2".into()),
            principal: Principal {
                r#type: Some("IAMUser".into()),
                arn: Some("arn:aws-us-gov:iam::111122223333:user/alice".into()),
                ..Principal::default()
            },
            ..Event::default()
        }
    }

    #[test]
    fn account_and_region_fall_back_to_the_principal_then_unknown() {
        let mut e = event();
        assert_eq!(e.account_or_unknown(), "111122223333");
        assert_eq!(e.region_or_unknown(), "eu-west-1");
        e.account = Some(" ".into());
        e.principal.account_id = Some("444455556666".into());
        assert_eq!(e.account_or_unknown(), "444455556666");
        e.principal.account_id = None;
        e.region = Some(String::new());
        assert_eq!(e.account_or_unknown(), "unknown");
        assert_eq!(e.region_or_unknown(), "unknown");
    }

    #[test]
    fn location_names_account_region_and_origin() {
        let mut e = event();
        assert_eq!(
            e.location(),
            "in account 111122223333, region eu-west-1, from 192.0.2.1 (user agent: aws-cli/2)"
        );
        e.account = None;
        e.region = None;
        e.source_ip = None;
        e.user_agent = None;
        assert_eq!(
            e.location(),
            "in account unknown, region unknown, from an unknown address"
        );
    }

    #[test]
    fn regional_arn_needs_region_and_account_and_keeps_the_partition() {
        let mut e = event();
        assert_eq!(
            e.regional_arn("ec2", "flow-log/fl-1").as_deref(),
            Some("arn:aws-us-gov:ec2:eu-west-1:111122223333:flow-log/fl-1")
        );
        e.region = Some(" ".into());
        assert_eq!(e.regional_arn("ec2", "flow-log/fl-1"), None);
        e.region = Some("eu-west-1".into());
        e.account = None;
        assert_eq!(e.regional_arn("ec2", "flow-log/fl-1"), None);
    }

    #[test]
    fn base_context_has_the_common_fields_and_null_for_the_unknown() {
        let mut e = event();
        let c = Value::Object(e.base_context());
        assert_eq!(
            c,
            json!({
                "event_name": "DeleteFlowLogs",
                "account": "111122223333",
                "region": "eu-west-1",
                "principal_arn": "arn:aws-us-gov:iam::111122223333:user/alice",
                "principal_type": "IAMUser",
                "source_ip": "192.0.2.1",
                "user_agent": "aws-cli/2",
                "event_time": "2024-05-01T10:00:00Z",
            })
        );
        e.account = None;
        assert_eq!(e.base_context()["account"], Value::Null);
    }
}
