//! What one event asks the host: the tuples it looks up in the first-seen history and the
//! keys whose rate it counts, per rule; and the patterns that bring the plugin exactly those
//! events (the narrower, the cheaper: see `docs/plugins.md`, throughput).

use std::collections::BTreeMap;

use trailwarden_plugin_sdk::json::str_at;
use trailwarden_plugin_sdk::{non_empty, Event};

use crate::catalog::*;
use crate::Settings;

/// How a question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// First-seen history: a finding when the tuple is new.
    Seen,
    /// Rate baseline: a finding at the start of a burst of at least `min_count` a minute.
    Rate { min_count: u32 },
}

/// One question of one rule; `values[0]` is always the principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub rule: &'static str,
    pub ask: Ask,
    pub values: Vec<String>,
}

/// Services whose calls CloudTrail records in one region whatever the caller's: a region
/// rule on them would flag every principal's first IAM call.
const GLOBAL_SERVICES: &[&str] = &[
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "signin.amazonaws.com",
    "organizations.amazonaws.com",
    "account.amazonaws.com",
    "cloudfront.amazonaws.com",
    "route53.amazonaws.com",
    "support.amazonaws.com",
    "health.amazonaws.com",
    "billingconsole.amazonaws.com",
    "ce.amazonaws.com",
    "s3.amazonaws.com",
];

/// The EventBridge patterns: IAM calls, console sign-ins, the default sensitive APIs,
/// every call by long-term identities (IAM users and root: the access-key, user-agent,
/// region, service and call-rate rules), failed calls (the error rate), role chaining, and
/// the signals (CloudTrail Insights events, GuardDuty findings).
/// Role sessions' successful calls, the bulk of most trails, reach the plugin only through
/// the sensitive APIs and role chaining.
pub fn patterns() -> Vec<String> {
    let mut by_source: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (api, _) in DEFAULT_SENSITIVE_APIS {
        if let Some((service, name)) = api.split_once(':') {
            by_source
                .entry(format!("{service}.amazonaws.com"))
                .or_default()
                .push(name);
        }
    }
    let mut patterns = vec![
        // Not filtered on `readOnly`: older records lack it (see `is_write`).
        r#"{"detail":{"eventSource":["iam.amazonaws.com"]}}"#.to_owned(),
        r#"{"detail":{"eventSource":["signin.amazonaws.com"],"eventName":["ConsoleLogin"]}}"#
            .to_owned(),
        r#"{"detail":{"userIdentity":{"type":["IAMUser","Root"]}}}"#.to_owned(),
        r#"{"detail":{"errorCode":[{"exists":true}]}}"#.to_owned(),
        r#"{"detail":{"eventSource":["sts.amazonaws.com"],"eventName":["AssumeRole"],"userIdentity":{"type":["AssumedRole"]}}}"#
            .to_owned(),
        // Signals: the host routes them only to patterns that name their detail-type.
        r#"{"detail-type":["AWS Insight via CloudTrail"]}"#.to_owned(),
        r#"{"detail-type":["GuardDuty Finding"]}"#.to_owned(),
    ];
    for (source, names) in by_source {
        patterns.push(
            trailwarden_plugin_sdk::serde_json::json!({
                "detail": {"eventSource": [source], "eventName": names}
            })
            .to_string(),
        );
    }
    patterns
}

/// The questions `event` raises under `settings`, in catalog order.
pub fn questions(event: &Event, settings: &Settings) -> Vec<Question> {
    let mut out = Vec::new();
    if crate::signals::is_signal(event) {
        return out;
    }
    let Some(principal) = principal(event) else {
        return out;
    };
    let failed = event.failed();
    let mut push = |rule: &'static str, ask: Ask, rest: Vec<String>| {
        if settings.enabled(rule) {
            let mut values = vec![principal.clone()];
            values.extend(rest);
            out.push(Question { rule, ask, values });
        }
    };
    let name = non_empty(event.name.as_deref());
    let source = non_empty(event.source.as_deref());
    let long_term = matches!(event.principal.r#type.as_deref(), Some("IAMUser" | "Root"));
    let signin = event.is("signin.amazonaws.com", "ConsoleLogin");

    if let (Some(source), Some(name)) = (source, name) {
        let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
        if !failed {
            if source == "iam.amazonaws.com" && is_write(event.read_only, name) {
                push(FIRST_IAM_WRITE, Ask::Seen, vec![name.to_owned()]);
            }
            if settings.is_sensitive(service, name) {
                push(
                    SENSITIVE_FIRST_CALL,
                    Ask::Seen,
                    vec![format!("{service}:{name}")],
                );
            }
            if long_term && !signin {
                push(NEW_SERVICE, Ask::Seen, vec![service.to_owned()]);
            }
            if event.is("sts.amazonaws.com", "AssumeRole")
                && event.principal.r#type.as_deref() == Some("AssumedRole")
            {
                if let Some(target) = event.raw_json().and_then(|raw| {
                    str_at(&raw, &["requestParameters", "roleArn"]).map(str::to_owned)
                }) {
                    push(NEW_ROLE_CHAIN, Ask::Seen, vec![target]);
                }
            }
        }
        if service == "secretsmanager" && matches!(name, "GetSecretValue" | "BatchGetSecretValue") {
            push(
                SECRETS_BURST,
                Ask::Rate {
                    min_count: settings.secrets_burst_min,
                },
                Vec::new(),
            );
        }
        if long_term && !GLOBAL_SERVICES.contains(&source) && !signin {
            if let Some(region) = non_empty(event.region.as_deref()) {
                if !failed {
                    push(NEW_REGION, Ask::Seen, vec![region.to_owned()]);
                }
            }
        }
    }
    if signin {
        let outcome = event
            .raw_json()
            .and_then(|raw| str_at(&raw, &["responseElements", "ConsoleLogin"]).map(str::to_owned));
        match outcome.as_deref() {
            Some("Success") if !failed => {
                if let Some(network) = non_empty(event.source_ip.as_deref()).and_then(network) {
                    push(NEW_SIGNIN_NETWORK, Ask::Seen, vec![network]);
                }
            }
            Some("Failure") => push(
                SIGNIN_FAILURE_BURST,
                Ask::Rate {
                    min_count: settings.signin_failure_burst_min,
                },
                Vec::new(),
            ),
            _ => {}
        }
    } else {
        if failed {
            push(
                ERROR_BURST,
                Ask::Rate {
                    min_count: settings.error_burst_min,
                },
                Vec::new(),
            );
        }
        if long_term {
            if let Some(key) = non_empty(event.principal.access_key_id.as_deref())
                .filter(|key| key.starts_with("AKIA"))
            {
                if let Some(network) = non_empty(event.source_ip.as_deref()).and_then(network) {
                    push(
                        ACCESS_KEY_NEW_NETWORK,
                        Ask::Seen,
                        vec![key.to_owned(), network],
                    );
                }
            }
            if let Some(family) = non_empty(event.user_agent.as_deref()).and_then(user_agent_family)
            {
                push(NEW_USER_AGENT_FAMILY, Ask::Seen, vec![family]);
            }
            push(
                CALL_BURST,
                Ask::Rate {
                    min_count: settings.call_burst_min,
                },
                Vec::new(),
            );
        }
    }
    out
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

/// The principal a history is kept for: the role of a role session (session names change
/// at each session), else the ARN; for a sign-in without an ARN (a failed one), the account
/// and user name.
fn principal(event: &Event) -> Option<String> {
    let p = &event.principal;
    if p.r#type.as_deref() == Some("AssumedRole") {
        if let Some(issuer) = non_empty(p.session_issuer_arn.as_deref()) {
            return Some(issuer.to_owned());
        }
    }
    if let Some(arn) = non_empty(p.arn.as_deref()) {
        return Some(arn.to_owned());
    }
    let user = non_empty(p.user_name.as_deref())?;
    Some(format!(
        "{}:{user}",
        event
            .account_or_principal_account()
            .unwrap_or("unknown-account")
    ))
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

/// The family of a user agent: its first product token without the version, lower case
/// (`aws-cli/2.15 Python/3.11` -> `aws-cli`, `Boto3/1.34 ...` -> `boto3`), `browser` for
/// `Mozilla/...`, `console` for the AWS console. `None` for AWS's own callers (`AWS
/// Internal`, `*.amazonaws.com` services), which a principal does not choose.
pub fn user_agent_family(agent: &str) -> Option<String> {
    let agent = agent.trim().trim_start_matches('[');
    let lower = agent.to_ascii_lowercase();
    if lower.starts_with("console.") || lower.starts_with("signin.") || lower == "awsconsole" {
        return Some("console".to_owned());
    }
    if lower.starts_with("aws internal") || lower.ends_with(".amazonaws.com") {
        return None;
    }
    if lower.starts_with("mozilla/") {
        return Some("browser".to_owned());
    }
    let token = lower
        .split(|c: char| c == '/' || c.is_whitespace() || c == ']')
        .next()
        .filter(|t| !t.is_empty())?;
    // Bounded: a hostile agent string cannot make a huge tuple.
    Some(token.chars().take(64).collect())
}
