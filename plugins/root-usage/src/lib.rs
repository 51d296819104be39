//! `root-usage`: the AWS root user was used.
//!
//! One finding (`aws.root.usage`, high) per successful call or console sign-in made by the
//! root user itself, i.e. `userIdentity.type == "Root"` and:
//! - not made by an AWS service: no `invokedBy` (except `signin.amazonaws.com`, the console
//!   sign-in service acting for the person at the console) and `eventType` is not
//!   `AwsServiceEvent`;
//! - successful: no `errorCode`/`errorMessage`, and for sign-in events no `Failure` in
//!   `responseElements` (a failed root sign-in is brute force, not use).
//!
//! Response: `notify.send` of the finding to the notify target named in the plugin config
//! (`{"notify_target": "..."}`, default `security-team`):
//! - a root console sign-in (`ConsoleLogin`) is always sent;
//! - any other root use is sent at most once per incident (dedup key: account and source
//!   IP) per `notify_window_seconds` (config, default 3600; 0 sends every finding), so that
//!   a root session's hundred calls notify once and do not use up the grant's hourly budget.
//!   The window is a mark in the host's state, set only when the host granted the call (a
//!   denied notification is tried again by the next finding). A sign-in or a call that
//!   changes something (`aws.root.usage`) sets a mark that silences the rest of the session;
//!   reads (`aws.root.read-only-usage`) set one that silences only further reads, so a
//!   session that only read and then changes something is notified again, at high severity.
//!
//! Unlike Panther's `AWS.Root.Activity` it also reports read-only calls and
//! `CreateServiceLinkedRole` (as the CIS "root account usage" metric does): with root there
//! is no harmless use, and one incident is grouped by the dedup key (account + source IP).

use trailwarden_plugin_sdk::capability::NOTIFY_SEND;
use trailwarden_plugin_sdk::json::{at, resource_arns};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    log, non_empty, Batch, Config, Descriptor, Event, Finding, NotifyWindow, Rule, Severity,
    WindowOpens,
};

/// Root use that changes something or signs in (high).
pub const RULE_ID: &str = "aws.root.usage";

/// Root use that only reads, or creates a service-linked role (medium): still reported, at a
/// lower severity, and grouped with the session's other findings by the same dedup key.
/// Panther's `AWS.Root.Activity` leaves both out; we keep them, apart.
pub const READ_ONLY_RULE_ID: &str = "aws.root.read-only-usage";

/// `invokedBy` values that still mean the root user acted in person (console credential
/// pages call IAM through the sign-in service).
const PERSONAL_INVOKERS: &[&str] = &["signin.amazonaws.com"];

/// The capabilities it calls: `notify.send`.
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND];

/// The default of `notify_window_seconds`: one notification per root session an hour.
pub const DEFAULT_NOTIFY_WINDOW_SECONDS: u32 = 3600;

/// What the response needs from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `notify_target`: the webhook `notify.send` posts to (default `security-team`).
    pub notify_target: String,
    /// `notify_window_seconds`: after a notification, later findings of the same incident
    /// (dedup key) are not sent again for this long (0: send every finding). Sign-ins are
    /// always sent.
    pub notify_window_seconds: u32,
}

impl Settings {
    /// The settings of `config`; a bad `notify_window_seconds` is logged as a warning and
    /// replaced by its default (a typo must not silence the response).
    pub fn from_config(config: &Config) -> Settings {
        let mut window = DEFAULT_NOTIFY_WINDOW_SECONDS;
        if let Some(v) = config.get("notify_window_seconds") {
            match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => window = n,
                None => log::warn(&format!(
                    "notify_window_seconds must be a whole number of seconds, not {v}; \
                     using {DEFAULT_NOTIFY_WINDOW_SECONDS}"
                )),
            }
        }
        Settings {
            notify_target: config.notify_target().to_owned(),
            notify_window_seconds: window,
        }
    }
}

/// Name, version and the EventBridge pattern: every event whose principal is the root user.
pub fn descriptor() -> Descriptor {
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![r#"{"detail":{"userIdentity":{"type":["Root"]}}}"#.to_owned()],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "aws-service-on-behalf.json",
            "console-credentials-page.json",
            "console-session-one-incident.json",
            "console-sign-in.json",
            "eventbridge-envelope-api-call.json",
            "failed-api-call.json",
            "failed-sign-ins.json",
            "not-root.json",
            "read-only-enumeration.json",
            "root-session-notified-once.json",
        ],
        // It acts: trailwarden's own calls must not come back to it.
        self_caused_events: false,
    }
}

/// The rule catalog: `aws.root.usage` and `aws.root.read-only-usage`, naming the notify
/// target and window of `config`.
pub fn rules(config: &Config) -> Vec<Rule> {
    let settings = Settings::from_config(config);
    let target = &settings.notify_target;
    let (usage_sent, reads_sent) = match settings.notify_window_seconds {
        0 => (
            "other calls are sent too".to_owned(),
            format!("Each one is sent to {target}."),
        ),
        n => (
            format!(
                "other calls are sent once per session (dedup key: account and source IP) \
                 per {n} seconds"
            ),
            format!(
                "Sent to {target} once per session per {n} seconds, unless the session was \
                 already sent."
            ),
        ),
    };
    let runbook = "Ask the owner of the root credentials whether they did this; if not, reset \
                   the root password, delete its access keys and check its MFA device.";
    vec![
        Rule::new(
            READ_ONLY_RULE_ID,
            Severity::Medium,
            "Root user read account data",
            &["T1078.004", "T1087.004"],
            &format!(
                "A successful read-only call (CloudTrail readOnly) or a \
                 CreateServiceLinkedRole (which the console makes as the root user browses) \
                 by the account's root user itself. Nothing changed, but root credentials in \
                 use are an incident: root access keys enumerating the account are what a \
                 thief does first. Grouped with the session's other root findings (same dedup \
                 key: account and source IP). {reads_sent}"
            ),
            runbook,
            &[NOTIFY_SEND],
        ),
        Rule::new(
            RULE_ID,
            Severity::High,
            "Root user used",
            &["T1078.004"],
            &format!(
                "A successful API call or console sign-in made by the account's root user \
                 itself (not by an AWS service acting for it) that changes something, or \
                 signs in. The root user has unrestricted access and cannot be limited by IAM \
                 policies. Every console sign-in is sent to {target}; {usage_sent}."
            ),
            runbook,
            &[NOTIFY_SEND],
        ),
    ]
}

/// The findings for one event (none, or one `aws.root.usage` or `aws.root.read-only-usage`).
pub fn detect(event: &Event) -> Vec<Finding> {
    if event.principal.r#type.as_deref() != Some("Root") {
        return Vec::new();
    }
    if let Some(by) = non_empty(event.principal.invoked_by.as_deref()) {
        if !PERSONAL_INVOKERS.contains(&by) {
            return Vec::new();
        }
    }
    // Service events are AWS acting; VPC endpoint network activity events (`AwsVpceEvent`)
    // repeat a call that is logged as its own management event.
    if matches!(
        event.event_type.as_deref(),
        Some("AwsServiceEvent" | "AwsVpceEvent")
    ) || event.failed()
    {
        return Vec::new();
    }
    let raw = event.raw_json();
    if raw.as_ref().is_some_and(|r| sign_in_failed(event, r)) {
        return Vec::new();
    }
    vec![finding(event, raw.as_ref())]
}

/// Whether a sign-in event reports `Failure` in `responseElements` (e.g.
/// `{"ConsoleLogin": "Failure"}`), which CloudTrail records without an error code.
fn sign_in_failed(event: &Event, raw: &Value) -> bool {
    let sign_in = event.event_type.as_deref() == Some("AwsConsoleSignIn")
        || event.source.as_deref() == Some("signin.amazonaws.com");
    sign_in
        && raw
            .get("responseElements")
            .and_then(Value::as_object)
            .is_some_and(|o| o.values().any(|v| v.as_str() == Some("Failure")))
}

fn finding(event: &Event, raw: Option<&Value>) -> Finding {
    let account = event.account_or_unknown();
    let root_arn = non_empty(event.principal.arn.as_deref())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("arn:{}:iam::{account}:root", event.partition()));
    let ip = non_empty(event.source_ip.as_deref()).unwrap_or("an unknown address");
    let region = non_empty(event.region.as_deref()).unwrap_or("an unknown region");
    let name = non_empty(event.name.as_deref()).unwrap_or("an unnamed action");
    let console_sign_in = event.name.as_deref() == Some("ConsoleLogin");
    let read_only = !console_sign_in
        && (event.read_only == Some(true)
            || event.name.as_deref() == Some("CreateServiceLinkedRole"));
    let (rule_id, severity) = if read_only {
        (READ_ONLY_RULE_ID, Severity::Medium)
    } else {
        (RULE_ID, Severity::High)
    };
    let mfa = raw
        .and_then(|r| at(r, &["additionalEventData", "MFAUsed"]))
        .and_then(trailwarden_plugin_sdk::json::boolish)
        .or(event.mfa_authenticated);

    let (title, what) = if console_sign_in {
        (
            format!("Root user signed in to the console of account {account}"),
            "signed in to the AWS console".to_owned(),
        )
    } else {
        let action = match event.service() {
            Some(service) => format!("{service}:{name}"),
            None => name.to_owned(),
        };
        (
            format!("Root user called {action} in account {account}"),
            format!("called {action}"),
        )
    };
    let mfa_text = match mfa {
        Some(true) => "with MFA",
        Some(false) => "without MFA",
        None => "with MFA use unknown",
    };
    let key_text = match non_empty(event.principal.access_key_id.as_deref()) {
        Some(key) => format!(", using access key {key}"),
        None => String::new(),
    };
    let agent = non_empty(event.user_agent.as_deref()).unwrap_or("unknown");
    let description = format!(
        "The root user ({root_arn}) of account {account} {what} in {region} from {ip} \
         {mfa_text}{key_text} (user agent: {agent}). The root user has unrestricted access to \
         the account and cannot be limited by IAM policies; it should be used only for the few \
         tasks that require it. Confirm that the owner of the root credentials did this."
    );

    let mut resources = vec![root_arn.clone()];
    for arn in raw.map(resource_arns).unwrap_or_default() {
        if !resources.contains(&arn) {
            resources.push(arn);
        }
    }
    let context = json!({
        "account": account,
        "region": event.region,
        "event_source": event.source,
        "event_name": event.name,
        "event_time": event.time,
        "source_ip": event.source_ip,
        "user_agent": event.user_agent,
        "access_key_id": non_empty(event.principal.access_key_id.as_deref()),
        "mfa": mfa,
        "read_only": event.read_only,
        "console_sign_in": console_sign_in,
        "invoked_by": event.principal.invoked_by,
    });
    Finding {
        rule_id: rule_id.to_owned(),
        severity,
        title,
        description,
        resources,
        dedup_key: format!(
            "{RULE_ID}:{account}:{}",
            non_empty(event.source_ip.as_deref()).unwrap_or("unknown-ip")
        ),
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}

/// The response to one finding of `event`: a console sign-in is sent to the notify target;
/// other root use is sent once per incident per `notify_window_seconds` (see the crate doc).
pub fn respond(event: &Event, finding: &Finding, batch: &Batch<Settings>) {
    if finding.rule_id != RULE_ID && finding.rule_id != READ_ONLY_RULE_ID {
        return;
    }
    let sign_in = event.name.as_deref() == Some("ConsoleLogin");
    let changes_something = finding.rule_id == RULE_ID;
    let window = NotifyWindow {
        target: &batch.settings.notify_target,
        seconds: batch.settings.notify_window_seconds,
        opens: WindowOpens::WhenGranted,
    };
    // Within the window a console sign-in is sent anyway, and a read-only session that
    // turns into root use is sent again (at high severity).
    let sends_again = |sent_rule: &str| changes_something && (sign_in || sent_rule != RULE_ID);
    window.notify_escalating(event, finding, batch.caps, batch.state, sends_again);
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, [`respond`] to each finding.
    RootUsage {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: rules,
        settings: Settings::from_config,
        detect: detect,
        respond: respond,
    }
);
