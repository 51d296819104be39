//! `keys-secrets`: keys, secrets and credential abuse.
//!
//! | rule id | what | severity | response |
//! |---|---|---|---|
//! | `aws.kms.key-loss` | a successful `kms:DisableKey` or `kms:ScheduleKeyDeletion` | high | `notify.send` |
//! | `aws.credentials.scanner-user-agent` | a call whose user agent names a credential scanner or offensive tool (config `scanner_user_agents`; TruffleHog counts on `sts:GetCallerIdentity` only); one finding per principal and tool per hour | high | `iam.disable-access-key` for an IAM user's long-term (`AKIA`) key, else `notify.send` |
//! | `aws.credentials.access-denied-burst` | `access_denied_threshold` (10) denied calls from one principal within `window_seconds` (600), from an IP address, not from the console | medium | `notify.send`, and `iam.disable-access-key` for an IAM user's long-term key |
//! | `aws.secrets.read-burst` | `secret_read_threshold` (20) different secrets read (or tried) by one principal within `window_seconds`: `secretsmanager:GetSecretValue` / `BatchGetSecretValue`, `ssm:GetParameter(s)` / `GetParametersByPath` with `withDecryption` | high | `iam.revoke-role-sessions` for a role session, `iam.quarantine-user` for an IAM user, else `notify.send` |
//!
//! The bursts are counted per principal (its ARN, else its principal id) in host state,
//! over a window fixed from its first event, and fire once per window. Secret reads count
//! distinct secrets, so an application that reads its one secret on every request never
//! adds up; a secret named by name and by ARN counts once.
//!
//! Config (all optional): `notify_target` (default `security-team`),
//! `access_denied_threshold`, `secret_read_threshold`, `window_seconds`,
//! `scanner_user_agents` (a list replacing [`settings::default_scanners`]; entries are a
//! user-agent substring or `{"name", "match", "reason", "calls": ["sts:GetCallerIdentity"]}`).
//!
//! Calls by AWS services (`userIdentity.type` `AWSService`), anonymous callers, service
//! events and VPC endpoint events are not counted.
//!
//! Subscription: `describe` answers with the config in force, so the plugin receives the
//! KMS, denied, secret and parameter reads its bursts count, the calls its scanners count
//! on (TruffleHog's `sts:GetCallerIdentity`), and the calls whose user agent names a scanner
//! that counts on every call ([`scanner::patterns`]), not every call with a user agent.

use trailwarden_plugin_sdk::capability::{
    log_receipt, IAM_DISABLE_ACCESS_KEY, IAM_QUARANTINE_USER, IAM_REVOKE_ROLE_SESSIONS, NOTIFY_SEND,
};
use trailwarden_plugin_sdk::json::str_at;
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    non_empty, Batch, Config, Descriptor, Event, Finding, Rule, Severity, State,
};

pub mod bursts;
pub mod kms;
pub mod scanner;
pub mod settings;

pub use settings::Settings;

pub const KEY_LOSS: &str = "aws.kms.key-loss";
pub const SCANNER: &str = "aws.credentials.scanner-user-agent";
pub const ACCESS_DENIED_BURST: &str = "aws.credentials.access-denied-burst";
pub const SECRET_READ_BURST: &str = "aws.secrets.read-burst";

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[
    IAM_DISABLE_ACCESS_KEY,
    IAM_QUARANTINE_USER,
    IAM_REVOKE_ROLE_SESSIONS,
    NOTIFY_SEND,
];

/// Name, version and the EventBridge patterns of the default config
/// ([`descriptor_for`] with `{}`).
pub fn descriptor() -> Descriptor {
    descriptor_for(&Settings::default())
}

/// Name, version and the EventBridge patterns for `settings`: the KMS, denied, Secrets
/// Manager and SSM calls the other rules look at, and the calls whose user agent names a
/// configured scanner ([`scanner_patterns`]).
pub fn descriptor_for(settings: &Settings) -> Descriptor {
    let mut patterns = vec![
        json!({"detail": {"eventSource": [kms::KMS], "eventName": kms::KEY_LOSS_EVENTS}}),
        json!({"detail": {"errorCode": bursts::DENIED_CODES}}),
        json!({"detail": {"eventSource": [bursts::SECRETS_MANAGER],
                          "eventName": bursts::SECRET_READ_EVENTS}}),
        json!({"detail": {"eventSource": [bursts::SSM],
                          "eventName": bursts::PARAMETER_READ_EVENTS}}),
    ];
    patterns.extend(scanner::patterns(&settings.scanners));
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: patterns.iter().map(Value::to_string).collect(),
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "access-denied-below-threshold.json",
            "access-denied-burst.json",
            "kms-disable-key.json",
            "kms-not-key-loss.json",
            "kms-schedule-deletion.json",
            "scanner-near-misses.json",
            "scanner-role-session.json",
            "scanner-trufflehog.json",
            "secret-reads-below-threshold.json",
            "secret-reads-burst.json",
            "secret-reads-iam-user-batch.json",
        ],
        // It acts: trailwarden's own calls must not come back to it.
        self_caused_events: false,
    }
}

/// The rule catalog, with the thresholds, window and scanner list in force.
pub fn rules(config: &Config) -> Vec<Rule> {
    let (s, _) = Settings::from_config(config);
    let target = &s.notify_target;
    let window = window_text(s.window_seconds);
    let tools: Vec<&str> = s.scanners.iter().map(|t| t.name.as_str()).collect();
    let tools = if tools.is_empty() {
        "none: scanner_user_agents is empty, the rule is off".to_owned()
    } else {
        tools.join(", ")
    };
    vec![
        Rule::new(
            KEY_LOSS,
            Severity::High,
            "KMS key disabled or scheduled for deletion",
            &["T1485"],
            &format!(
                "A successful kms:DisableKey or kms:ScheduleKeyDeletion: data encrypted under \
                 the key cannot be decrypted while it is disabled, and never again once it is \
                 deleted. Sent to {target}."
            ),
            "Ask the caller why; if unplanned, cancel the deletion within the waiting period \
             (aws kms cancel-key-deletion) and re-enable the key (aws kms enable-key), then \
             review what else the caller did.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            SCANNER,
            Severity::High,
            "Call made by a credential scanner or offensive tool",
            &["T1078.004", "T1552.001"],
            &format!(
                "A call whose user agent names a tool of scanner_user_agents ({tools}), e.g. \
                 TruffleHog checking with sts:GetCallerIdentity whether a key it found still \
                 works. One finding per principal and tool per hour. An IAM user's long-term \
                 access key is disabled; anything else is sent to {target}."
            ),
            "Find where the credentials leaked (repositories, CI logs, images) and rotate \
             them; review everything the principal did since; if the scan is your own \
             team's, take the tool off scanner_user_agents.",
            &[IAM_DISABLE_ACCESS_KEY, NOTIFY_SEND],
        ),
        Rule::new(
            ACCESS_DENIED_BURST,
            Severity::Medium,
            "Burst of denied calls from one principal",
            &["T1580", "T1087.004"],
            &format!(
                "{} calls denied (AccessDenied, UnauthorizedOperation) to one principal within \
                 {window}, counting calls made from an IP address outside the console: a \
                 stolen credential being tried out. Sent to {target}; an IAM user's \
                 long-term access key is also disabled (grant it in approve mode).",
                s.access_denied_threshold
            ),
            "Check with the owner whether a deployment or policy change explains the \
             denials; if not, treat the credential as stolen: disable it and review the \
             calls that succeeded.",
            &[NOTIFY_SEND, IAM_DISABLE_ACCESS_KEY],
        ),
        Rule::new(
            SECRET_READ_BURST,
            Severity::High,
            "Burst of secret reads from one principal",
            &["T1555.006"],
            &format!(
                "{} different secrets read or tried by one principal within {window}: \
                 secretsmanager:GetSecretValue and BatchGetSecretValue, ssm:GetParameter(s) and \
                 GetParametersByPath with decryption. A role's older sessions are revoked, an \
                 IAM user is quarantined (grant both in approve mode); anything else is sent \
                 to {target}.",
                s.secret_read_threshold
            ),
            "Confirm with the owner whether a job explains the reads; if not, contain the \
             principal, then rotate every secret it read (the finding lists the last ones; \
             CloudTrail has them all).",
            &[IAM_REVOKE_ROLE_SESSIONS, IAM_QUARANTINE_USER, NOTIFY_SEND],
        ),
    ]
}

/// Whether `event` is a call a principal made: an API call or a record without
/// `eventType`, not a service event (AWS acting on its own) or a VPC endpoint event (which
/// repeats a call logged as its own event).
pub(crate) fn api_call(event: &Event) -> bool {
    matches!(event.event_type.as_deref(), None | Some("AwsApiCall"))
}

/// Whom a call is counted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The account the call was recorded in.
    pub account: String,
    /// The principal's ARN, else its principal id, else `unknown` (records without a
    /// `userIdentity` still count, together).
    pub principal: String,
    /// The principal's ARN, for findings' resources.
    pub arn: Option<String>,
}

/// The caller of `event`, or `None` for calls not counted: an AWS service acting, or an
/// anonymous caller.
pub(crate) fn identity(event: &Event, raw: Option<&Value>) -> Option<Identity> {
    let p = &event.principal;
    if p.r#type.as_deref() == Some("AWSService") {
        return None;
    }
    let principal_id = raw.and_then(|r| str_at(r, &["userIdentity", "principalId"]));
    let anonymous =
        |s: Option<&str>| s.is_some_and(|s| s.eq_ignore_ascii_case("ANONYMOUS_PRINCIPAL"));
    if anonymous(principal_id) || anonymous(p.account_id.as_deref()) {
        return None;
    }
    let arn = non_empty(p.arn.as_deref()).map(|a| a.trim().to_owned());
    let principal = arn
        .clone()
        .or_else(|| non_empty(principal_id).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    Some(Identity {
        account: event
            .account_or_principal_account()
            .unwrap_or("unknown")
            .to_owned(),
        principal,
        arn,
    })
}

/// The IAM user and long-term access key (`AKIA...`) that made `event`, if it was one.
pub(crate) fn long_term_key(event: &Event) -> Option<(String, String)> {
    let p = &event.principal;
    let key = non_empty(p.access_key_id.as_deref())?.trim();
    let user = non_empty(p.user_name.as_deref())?.trim();
    (p.r#type.as_deref() == Some("IAMUser") && key.starts_with("AKIA"))
        .then(|| (user.to_owned(), key.to_owned()))
}

/// What the response to a finding of `rule` on `event` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Containment {
    DisableKey {
        user: String,
        key: String,
    },
    RevokeSessions {
        role: String,
    },
    QuarantineUser {
        user: String,
    },
    /// Only `notify.send`.
    Notify,
}

/// The response for a finding of `rule` on `event` (besides the `notify.send` that the
/// access-denied burst always makes).
pub fn containment(rule: &str, event: &Event) -> Containment {
    match rule {
        SCANNER | ACCESS_DENIED_BURST => match long_term_key(event) {
            Some((user, key)) => Containment::DisableKey { user, key },
            None => Containment::Notify,
        },
        SECRET_READ_BURST => {
            let p = &event.principal;
            let name = non_empty(p.user_name.as_deref()).map(|n| n.trim().to_owned());
            match (p.r#type.as_deref(), name) {
                (Some("AssumedRole"), Some(role)) if role_revocable(event) => {
                    Containment::RevokeSessions { role }
                }
                (Some("IAMUser"), Some(user)) => Containment::QuarantineUser { user },
                _ => Containment::Notify,
            }
        }
        _ => Containment::Notify,
    }
}

/// Whether the session's role can be changed through IAM: not a service-linked role
/// (`/aws-service-role/`) nor one that IAM Identity Center owns (`/aws-reserved/`), whose
/// sessions are revoked where they are issued.
fn role_revocable(event: &Event) -> bool {
    let issuer = event.principal.session_issuer_arn.as_deref().unwrap_or("");
    !issuer.contains(":role/aws-service-role/") && !issuer.contains(":role/aws-reserved/")
}

/// The findings for one event, counting it in `state`.
pub fn detect(event: &Event, settings: &Settings, state: &dyn State) -> Vec<Finding> {
    let raw = event.raw_json();
    let raw = raw.as_ref();
    let mut findings = Vec::new();
    if let Some(loss) = kms::key_loss(event, raw) {
        findings.push(kms::finding(event, &loss));
    }
    findings.extend(scanner::detect(event, raw, &settings.scanners, state));
    findings.extend(bursts::detect_denial(event, raw, settings, state));
    findings.extend(bursts::detect_reads(event, raw, settings, state));
    findings
}

/// The response to `event`'s finding.
pub fn respond(event: &Event, finding: &Finding, batch: &Batch<Settings>) {
    let (id, caps, settings) = (event.id.as_str(), batch.caps, &batch.settings);
    let target = settings.notify_target.as_str();
    let notify = || log_receipt(NOTIFY_SEND, id, caps.notify(id, target, finding));
    if finding.rule_id == ACCESS_DENIED_BURST {
        notify();
    }
    match (
        finding.rule_id.as_str(),
        containment(&finding.rule_id, event),
    ) {
        (KEY_LOSS, _) => {
            notify();
        }
        (SCANNER | ACCESS_DENIED_BURST, Containment::DisableKey { user, key }) => {
            let receipt = caps.disable_access_key(id, &user, &key);
            log_receipt(IAM_DISABLE_ACCESS_KEY, id, receipt);
        }
        (SCANNER, _) => {
            notify();
        }
        (SECRET_READ_BURST, Containment::RevokeSessions { role }) => {
            let receipt = caps.revoke_role_sessions(id, &role);
            log_receipt(IAM_REVOKE_ROLE_SESSIONS, id, receipt);
        }
        (SECRET_READ_BURST, Containment::QuarantineUser { user }) => {
            let receipt = caps.quarantine_user(id, &user);
            log_receipt(IAM_QUARANTINE_USER, id, receipt);
        }
        (SECRET_READ_BURST, _) => {
            notify();
        }
        _ => {}
    }
}

/// The settings of `config` for a batch, each problem with it logged as a warning.
fn settings_logged(config: &Config) -> Settings {
    let (settings, problems) = Settings::from_config(config);
    for problem in &problems {
        trailwarden_plugin_sdk::log::warn(problem);
    }
    settings
}

/// A window's length for titles: `10 minutes`, `1 hour`, `90 seconds`.
pub(crate) fn window_text(seconds: u32) -> String {
    let plural = |n: u32, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds.is_multiple_of(3600) {
        plural(seconds / 3600, "hour")
    } else if seconds.is_multiple_of(60) {
        plural(seconds / 60, "minute")
    } else {
        plural(seconds, "second")
    }
}

/// A host state key for `parts` under `prefix`: the parts are hashed (64-bit FNV-1a of
/// each), so that any ARN or secret name fits the host's key limit.
pub(crate) fn state_key(prefix: &str, parts: &[&str]) -> String {
    let mut key = prefix.to_owned();
    for part in parts {
        key.push_str(&format!(":{:016x}", fnv1a(part.as_bytes())));
    }
    key
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event (counting bursts in the host's state), [`respond`] to
    /// each finding. It subscribes to the configured scanners' user agents (and calls), not to
    /// every call.
    KeysSecrets {
        capabilities: CAPABILITIES,
        describe: descriptor,
        describe_with_config: |config| descriptor_for(&Settings::from_config(config).0),
        rules: rules,
        settings: settings_logged,
        detect_with: |event, batch| detect(event, &batch.settings, batch.state),
        respond: respond,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_naturally() {
        assert_eq!(window_text(600), "10 minutes");
        assert_eq!(window_text(3600), "1 hour");
        assert_eq!(window_text(60), "1 minute");
        assert_eq!(window_text(90), "90 seconds");
    }

    #[test]
    fn state_keys_are_short_whatever_the_parts() {
        let long = "x".repeat(5000);
        let key = state_key("reads", &[&long, "b"]);
        assert_eq!(key.len(), "reads".len() + 2 * 17);
        assert_ne!(state_key("a", &["b", "c"]), state_key("a", &["bc", ""]));
    }
}
