//! `first-seen`: what a principal never did before, on the host's first-seen history (WIT
//! 0.4.0 `history`; Elastic's `new_terms` rule type).
//!
//! | rule id | events | tuple | severity |
//! |---|---|---|---|
//! | `aws.iam.first-write-by-principal` | a successful IAM write call (`iam.amazonaws.com`, not read-only) | (principal, event name) | medium |
//! | `aws.console.signin-from-new-network` | a successful `signin:ConsoleLogin` | (principal, source network: /24 for IPv4, /48 for IPv6) | medium |
//!
//! The principal is the role for a role session (its issuer ARN: session names change at
//! each session), else the principal's ARN. Config (the plugin's `config` table):
//! `window_days` (default 30): a tuple not seen for that long is new again;
//! `learning_days` (default 7): for that long after the plugin first sees an account,
//! nothing there is new (the history is being learnt). The answer is on the host's event
//! clock, so a replay of old logs learns as the live stream did.

use trailwarden_plugin_sdk::json::str_at;
use trailwarden_plugin_sdk::serde_json::json;
use trailwarden_plugin_sdk::{
    log, non_empty, Capabilities, Config, Descriptor, Event, Finding, History, PluginError,
    Responder, Rule, SeenQuery, Severity, State,
};

/// A principal made an IAM write call it never made before.
pub const FIRST_IAM_WRITE: &str = "aws.iam.first-write-by-principal";
/// A principal signed in to the console from a network it never signed in from.
pub const NEW_SIGNIN_NETWORK: &str = "aws.console.signin-from-new-network";

/// Default `window_days`.
pub const DEFAULT_WINDOW_DAYS: u64 = 30;
/// Default `learning_days`.
pub const DEFAULT_LEARNING_DAYS: u64 = 7;
const DAY: u64 = 86_400;
/// Windows and learning periods are capped below the host's 400-day limit.
const MAX_DAYS: u64 = 365;

/// The plugin: a detector (no capability) that asks its history.
pub struct FirstSeen;

/// Name, version, patterns (IAM write calls, console sign-ins) and fixtures.
pub fn descriptor() -> Descriptor {
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![
            // Not filtered on `readOnly`: older records lack it (see `is_write`).
            r#"{"detail":{"eventSource":["iam.amazonaws.com"]}}"#.to_owned(),
            r#"{"detail":{"eventSource":["signin.amazonaws.com"],"eventName":["ConsoleLogin"]}}"#
                .to_owned(),
        ],
        capabilities: Vec::new(),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "first-iam-write.json",
            "console-signin-networks.json",
            "learning-period.json",
        ],
        self_caused_events: false,
    }
}

/// The rule catalog, with the configured window and learning period.
pub fn rules(config: &Config) -> Vec<Rule> {
    let (window, learning) = (
        days(config, "window_days", DEFAULT_WINDOW_DAYS),
        days(config, "learning_days", DEFAULT_LEARNING_DAYS),
    );
    let periods = format!(
        "New means not seen in the last {window} days, and not during the first {learning} \
         days after the plugin first saw the account (its learning period)."
    );
    vec![
        Rule::new(
            FIRST_IAM_WRITE,
            Severity::Medium,
            "Principal made an IAM write call it never made before",
            &["T1098", "T1078.004"],
            &format!(
                "A successful IAM write API call (create, attach, put, update, delete...) by a \
                 principal (the role for a role session) that never made that call before: \
                 the tuple is (principal, event name), as in Elastic's new_terms rules on \
                 IAM. {periods}"
            ),
            "Ask the principal's owner whether the change was intended; if not, review what \
             it changed and the credentials it used (access key, session), and revoke them.",
            &[],
        ),
        Rule::new(
            NEW_SIGNIN_NETWORK,
            Severity::Medium,
            "Console sign-in from a network the principal never used",
            &["T1078.004"],
            &format!(
                "A successful console sign-in by a principal from a source network (/24 for \
                 IPv4, /48 for IPv6) it never signed in from: the tuple is (principal, \
                 network). {periods}"
            ),
            "Confirm with the person that the sign-in was theirs (travel, new office, VPN); \
             if not, reset the password and MFA and review what the session did.",
            &[],
        ),
    ]
}

impl Responder for FirstSeen {
    const CAPABILITIES: &'static [&'static str] = &[];
    const HISTORY: bool = true;

    fn describe() -> Descriptor {
        descriptor()
    }

    fn rules(config: &Config) -> Vec<Rule> {
        rules(config)
    }

    fn handle_with_history(
        events: &[Event],
        _caps: &dyn Capabilities,
        _state: &dyn State,
        history: &dyn History,
        config: &Config,
    ) -> Result<Vec<Finding>, PluginError> {
        let window = days(config, "window_days", DEFAULT_WINDOW_DAYS);
        let learning = days(config, "learning_days", DEFAULT_LEARNING_DAYS);
        let mut findings = Vec::new();
        for event in events {
            let Some(question) = question(event) else {
                continue;
            };
            let values: Vec<&str> = question.values.iter().map(String::as_str).collect();
            let query = SeenQuery {
                account: event.account_or_principal_account().unwrap_or(""),
                rule: question.rule,
                values: &values,
                window_seconds: seconds(window),
                learning_seconds: seconds(learning),
            };
            match history.first_seen(&query) {
                Ok(seen) if seen.new => findings.push(finding(event, &question, window)),
                Ok(_) => {}
                // One unanswerable event (over the limits, the account quota) costs only
                // its own detection; the host counts nothing here, so say it.
                Err(error) => log::warn(&format!("event {}: {error}", event.id)),
            }
        }
        Ok(findings)
    }
}

trailwarden_plugin_sdk::export_responder!(FirstSeen);

/// What one event asks the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub rule: &'static str,
    /// (principal, event name) or (principal, network).
    pub values: Vec<String>,
}

/// The question an event raises, if it is one the rules watch.
pub fn question(event: &Event) -> Option<Question> {
    if event.failed() {
        return None;
    }
    let principal = principal(event)?;
    if event.source.as_deref() == Some("iam.amazonaws.com") {
        let name = non_empty(event.name.as_deref())?;
        if !is_write(event.read_only, name) {
            return None;
        }
        return Some(Question {
            rule: FIRST_IAM_WRITE,
            values: vec![principal, name.to_owned()],
        });
    }
    if event.is("signin.amazonaws.com", "ConsoleLogin") {
        let raw = event.raw_json()?;
        if str_at(&raw, &["responseElements", "ConsoleLogin"]) != Some("Success") {
            return None;
        }
        let network = network(non_empty(event.source_ip.as_deref())?)?;
        return Some(Question {
            rule: NEW_SIGNIN_NETWORK,
            values: vec![principal, network],
        });
    }
    None
}

/// `readOnly` when the record has it; else (older records) by the call's name.
fn is_write(read_only: Option<bool>, name: &str) -> bool {
    match read_only {
        Some(read_only) => !read_only,
        None => !["Get", "List", "Generate", "Simulate"]
            .iter()
            .any(|read| name.starts_with(read)),
    }
}

/// The principal a history is kept for: the role of a role session, else the ARN.
fn principal(event: &Event) -> Option<String> {
    let p = &event.principal;
    if p.r#type.as_deref() == Some("AssumedRole") {
        if let Some(issuer) = non_empty(p.session_issuer_arn.as_deref()) {
            return Some(issuer.to_owned());
        }
    }
    non_empty(p.arn.as_deref()).map(str::to_owned)
}

/// The /24 of an IPv4 address or the /48 of an IPv6 one; `None` for what is not an
/// address (an AWS service name such as `iam.amazonaws.com`).
pub fn network(ip: &str) -> Option<String> {
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(format!("{a}.{b}.{c}.0/24"))
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
    }
}

fn days(config: &Config, key: &str, default: u64) -> u64 {
    config.u64(key).unwrap_or(default).min(MAX_DAYS)
}

fn seconds(days: u64) -> u32 {
    u32::try_from(days * DAY).unwrap_or(u32::MAX)
}

fn finding(event: &Event, question: &Question, window_days: u64) -> Finding {
    let principal = &question.values[0];
    let (severity, title, description) = if question.rule == FIRST_IAM_WRITE {
        let name = &question.values[1];
        (
            Severity::Medium,
            format!("{principal} called iam:{name} for the first time"),
            format!(
                "{} called iam:{name} {}, which it had not done in the last {window_days} days.",
                event.actor(),
                event.origin()
            ),
        )
    } else {
        let network = &question.values[1];
        (
            Severity::Medium,
            format!("{principal} signed in to the console from a new network {network}"),
            format!(
                "{} signed in to the console {}, a network ({network}) it had not signed in \
                 from in the last {window_days} days.",
                event.actor(),
                event.origin()
            ),
        )
    };
    Finding {
        rule_id: question.rule.to_owned(),
        severity,
        title,
        description,
        resources: vec![principal.clone()],
        dedup_key: format!("{}|{}", question.rule, question.values.join("|")),
        event_id: event.id.clone(),
        context: json!({"tuple": question.values, "window_days": window_days}).to_string(),
    }
}
