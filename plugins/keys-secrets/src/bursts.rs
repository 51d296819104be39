//! The two detections counted per principal in host state, over a window fixed from its
//! first event: `aws.credentials.access-denied-burst` and `aws.secrets.read-burst`.
//!
//! Counters live under keys built by [`crate::state_key`] (hashed, so any ARN fits the
//! host's key limit) with `window_seconds` as TTL. The host's TTL clock is event time, so a
//! replay of old logs behaves as the live stream did; it advances once per batch, so a
//! window never closes in the middle of a batch.

use std::net::IpAddr;

use trailwarden_plugin_sdk::json::{at, bool_at, resource_arns};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, non_empty, Event, Finding, Severity, State};

use crate::settings::Settings;
use crate::{
    api_call, containment, identity, state_key, window_text, Containment, Identity,
    ACCESS_DENIED_BURST, SECRET_READ_BURST,
};

/// `errorCode`s that mean the caller was not allowed (IAM, service APIs, EC2).
pub const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
];

/// Denials not counted: calls the console and audit roles make on their own, denied as a
/// matter of course (Panther's `AWS.CloudTrail.UnauthorizedAPICall` leaves them out too).
pub const NOISY_DENIALS: &[&str] = &["DescribeEventAggregates", "ListResourceTags"];

pub(crate) const SECRETS_MANAGER: &str = "secretsmanager.amazonaws.com";
pub(crate) const SSM: &str = "ssm.amazonaws.com";

/// Secrets Manager calls that read secret values.
pub const SECRET_READ_EVENTS: &[&str] = &["GetSecretValue", "BatchGetSecretValue"];
/// SSM calls that read parameter values (counted only with `withDecryption: true`).
pub const PARAMETER_READ_EVENTS: &[&str] =
    &["GetParameter", "GetParameters", "GetParametersByPath"];

/// At most this many secrets are taken from one record (the APIs allow 20 at most).
const MAX_SECRETS_PER_EVENT: usize = 50;

/// Whether `event` is a denial this plugin counts: an access-denied `errorCode`, an API call
/// from an IP address (a service's host name means an AWS service called on the principal's
/// behalf), not from the console (`aws-internal/` user agents: console pages fetch whatever
/// they may show and are denied as a matter of course), and not one of [`NOISY_DENIALS`].
pub fn counted_denial(event: &Event) -> bool {
    let Some(code) = non_empty(event.error_code.as_deref()) else {
        return false;
    };
    let from_ip = event
        .source_ip
        .as_deref()
        .is_some_and(|ip| ip.trim().parse::<IpAddr>().is_ok());
    let console = event.user_agent.as_deref().is_some_and(|ua| {
        ua.trim_start()
            .to_ascii_lowercase()
            .starts_with("aws-internal/")
    });
    DENIED_CODES.contains(&code.trim())
        && api_call(event)
        && from_ip
        && !console
        && !event
            .name
            .as_deref()
            .is_some_and(|n| NOISY_DENIALS.contains(&n))
}

/// Counts `event` if it is a [`counted_denial`]; the finding when its principal's count
/// reaches `access_denied_threshold` (once per window).
pub fn detect_denial(
    event: &Event,
    raw: Option<&Value>,
    settings: &Settings,
    state: &dyn State,
) -> Option<Finding> {
    if !counted_denial(event) {
        return None;
    }
    let who = identity(event, raw)?;
    let key = state_key("denied", &[&who.account, &who.principal]);
    let count = state.increment(&key, 1, Some(settings.window_seconds));
    (count == i64::from(settings.access_denied_threshold))
        .then(|| denial_finding(event, &who, count, settings))
}

fn denial_finding(event: &Event, who: &Identity, count: i64, settings: &Settings) -> Finding {
    let account = who.account.as_str();
    let actor = event.actor();
    let window = window_text(settings.window_seconds);
    let call = call_text(event);
    let code = non_empty(event.error_code.as_deref()).unwrap_or("AccessDenied");
    let message = non_empty(event.error_message.as_deref())
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    let response = match containment(ACCESS_DENIED_BURST, event) {
        Containment::DisableKey { key, .. } => format!(
            "The finding goes to {}, and disabling the user's long-term access key {key} is \
             requested (aws iam update-access-key --status Active undoes it).",
            settings.notify_target
        ),
        _ => format!("The finding goes to {}.", settings.notify_target),
    };
    let description = format!(
        "{} had {count} calls denied in account {account} within {window}; the last was \
         {call}: {code}{message}, {}. A burst of denials is what a stolen credential looks \
         like while its holder works out what it may do (enumerate-iam, Pacu's \
         iam__bruteforce_permissions); a deployment with a broken policy does it too. \
         {response}",
        capitalize(&actor),
        event.origin(),
    );
    let context = json!({
        "account": account,
        "region": event.region,
        "principal": who.principal,
        "caller_type": event.principal.r#type,
        "access_key_id": non_empty(event.principal.access_key_id.as_deref()),
        "denied_calls": count,
        "threshold": settings.access_denied_threshold,
        "window_seconds": settings.window_seconds,
        "last_call": call,
        "error_code": event.error_code,
        "error_message": event.error_message,
        "source_ip": event.source_ip,
        "user_agent": event.user_agent,
        "event_time": event.time,
    });
    Finding {
        rule_id: ACCESS_DENIED_BURST.to_owned(),
        severity: Severity::Medium,
        title: format!("{count} denied calls by {actor} within {window} in account {account}"),
        description,
        resources: who.arn.iter().cloned().collect(),
        dedup_key: format!("{ACCESS_DENIED_BURST}:{account}:{}", who.principal),
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}

/// One call that reads secret values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRead {
    /// What is counted: one key per secret or parameter, normalised so that the same
    /// secret named by name or by ARN counts once; a read by filter or path (whose secrets
    /// the record does not list) counts once per filter or path and page.
    pub keys: Vec<String>,
    /// The secrets as the request named them, for the finding.
    pub shown: Vec<String>,
}

/// The secrets `event` reads: `secretsmanager:GetSecretValue` and `BatchGetSecretValue`
/// (the batch call also logs a `GetSecretValue` per secret, which count under the same
/// keys), and `ssm:GetParameter`, `GetParameters` and `GetParametersByPath` with
/// `withDecryption: true`. Attempts count whatever their outcome: a principal trying many
/// secrets it may not read is harvesting too.
pub fn secret_read(event: &Event, raw: Option<&Value>) -> Option<SecretRead> {
    let name = event.name.as_deref()?;
    let source = event.source.as_deref()?;
    if !api_call(event) {
        return None;
    }
    let account = event.account_or_unknown();
    let region = event.region_or_unknown();
    let params = raw.and_then(|r| at(r, &["requestParameters"]));
    let text = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let strings = |key: &str| -> Vec<String> {
        params
            .and_then(|p| p.get(key))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(text)
            .take(MAX_SECRETS_PER_EVENT)
            .collect()
    };
    let one = |key: &str| params.and_then(|p| p.get(key)).and_then(text);
    let unnamed = || SecretRead {
        keys: vec![format!("unnamed\u{1f}{}", event.id)],
        shown: vec!["(not recorded)".to_owned()],
    };
    let named = |ids: Vec<String>, key: &dyn Fn(&str) -> String| SecretRead {
        keys: ids.iter().map(|id| key(id)).collect(),
        shown: ids,
    };
    let secret = |id: &str| secret_key(id, account, region);
    let parameter = |id: &str| parameter_key(id, account, region);
    let read = match (source, name) {
        (SECRETS_MANAGER, "GetSecretValue") => match one("secretId") {
            Some(id) => named(vec![id], &secret),
            None => unnamed(),
        },
        (SECRETS_MANAGER, "BatchGetSecretValue") => {
            let ids = strings("secretIdList");
            let filters = params
                .and_then(|p| p.get("filters"))
                .filter(|f| !f.is_null());
            if !ids.is_empty() {
                named(ids, &secret)
            } else if let Some(filters) = filters {
                let page = one("nextToken").unwrap_or_default();
                SecretRead {
                    keys: vec![format!(
                        "filter\u{1f}{account}\u{1f}{region}\u{1f}{filters}\u{1f}{page}"
                    )],
                    shown: vec![format!("secrets matching the filters {filters}")],
                }
            } else {
                unnamed()
            }
        }
        (SSM, "GetParameter" | "GetParameters" | "GetParametersByPath") => {
            if raw.and_then(|r| bool_at(r, &["requestParameters", "withDecryption"])) != Some(true)
            {
                return None;
            }
            match name {
                "GetParameter" => named(one("name").into_iter().collect(), &parameter),
                "GetParameters" => named(strings("names"), &parameter),
                _ => {
                    let path = one("path").unwrap_or_else(|| "/".to_owned());
                    let recursive = raw
                        .and_then(|r| bool_at(r, &["requestParameters", "recursive"]))
                        .unwrap_or(false);
                    let page = one("nextToken").unwrap_or_default();
                    SecretRead {
                        keys: vec![format!(
                            "path\u{1f}{account}\u{1f}{region}\u{1f}{path}\u{1f}{recursive}\u{1f}{page}"
                        )],
                        shown: vec![format!(
                            "the parameters under {path}{}",
                            if recursive { " (recursive)" } else { "" }
                        )],
                    }
                }
            }
        }
        _ => return None,
    };
    if read.keys.is_empty() {
        return Some(unnamed());
    }
    Some(read)
}

/// A Secrets Manager secret by name or ARN, as `account, region, name`: an ARN's random
/// six-character suffix is dropped, so `prod/db` and `arn:...:secret:prod/db-AbCdEf` count
/// once.
pub fn secret_key(id: &str, account: &str, region: &str) -> String {
    let id = id.trim();
    if let Some(rest) = id.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(6, ':').collect();
        if let [_, _, arn_region, arn_account, "secret", name] = parts.as_slice() {
            let name = match name.rsplit_once('-') {
                Some((base, tail))
                    if !base.is_empty()
                        && tail.len() == 6
                        && tail.chars().all(|c| c.is_ascii_alphanumeric()) =>
                {
                    base
                }
                _ => name,
            };
            return format!("secret\u{1f}{arn_account}\u{1f}{arn_region}\u{1f}{name}");
        }
    }
    format!("secret\u{1f}{account}\u{1f}{region}\u{1f}{id}")
}

/// An SSM parameter by name or ARN, without a version or label selector (`name:3`) and
/// without its leading `/`, as `account, region, name`.
pub fn parameter_key(id: &str, account: &str, region: &str) -> String {
    let id = id.trim();
    if let Some(rest) = id.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        if let [_, _, arn_region, arn_account, resource] = parts.as_slice() {
            if let Some(name) = resource.strip_prefix("parameter") {
                let name = name.split(':').next().unwrap_or(name);
                return format!(
                    "parameter\u{1f}{arn_account}\u{1f}{arn_region}\u{1f}{}",
                    name.trim_start_matches('/')
                );
            }
        }
    }
    let name = id.split(':').next().unwrap_or(id);
    format!(
        "parameter\u{1f}{account}\u{1f}{region}\u{1f}{}",
        name.trim_start_matches('/')
    )
}

/// Counts the secrets `event` reads that its principal has not read yet in the current
/// window; the finding when the count reaches `secret_read_threshold` (once per window).
///
/// A window is a token (the id of its first event) kept under the principal's key with the
/// window as TTL; the distinct secrets and the counter are keyed by the token, so a new
/// window always starts from zero.
pub fn detect_reads(
    event: &Event,
    raw: Option<&Value>,
    settings: &Settings,
    state: &dyn State,
) -> Option<Finding> {
    let read = secret_read(event, raw)?;
    let who = identity(event, raw)?;
    let window = settings.window_seconds;
    let window_key = state_key("reads-window", &[&who.account, &who.principal]);
    let token = match state.get(&window_key) {
        Some(token) => token,
        None => {
            state.set(&window_key, &event.id, Some(window));
            event.id.clone()
        }
    };
    let mut new = 0;
    for key in &read.keys {
        let seen = state_key("reads-seen", &[&who.account, &who.principal, &token, key]);
        if state.get(&seen).is_none() {
            state.set(&seen, "1", Some(window));
            new += 1;
        }
    }
    if new == 0 {
        return None;
    }
    let counter = state_key("reads", &[&who.account, &who.principal, &token]);
    let count = state.increment(&counter, new, Some(window));
    let threshold = i64::from(settings.secret_read_threshold);
    (count >= threshold && count - new < threshold)
        .then(|| read_finding(event, raw, &read, &who, count, settings))
}

fn read_finding(
    event: &Event,
    raw: Option<&Value>,
    read: &SecretRead,
    who: &Identity,
    count: i64,
    settings: &Settings,
) -> Finding {
    let account = who.account.as_str();
    let actor = event.actor();
    let window = window_text(settings.window_seconds);
    let outcome = match non_empty(event.error_code.as_deref()) {
        Some(code) => format!(" (denied: {code})"),
        None => String::new(),
    };
    let response = match containment(SECRET_READ_BURST, event) {
        Containment::RevokeSessions { role } => format!(
            "The sessions of role {role} issued before now are to be revoked (new sessions \
             still work; delete its inline policy trailwarden-revoke-sessions to undo)."
        ),
        Containment::QuarantineUser { user } => format!(
            "IAM user {user} is to be quarantined (deny-all inline policy \
             trailwarden-quarantine; delete it to undo)."
        ),
        _ => format!(
            "The finding goes to {} (this principal cannot be contained through IAM: revoke \
             its sessions where they are issued).",
            settings.notify_target
        ),
    };
    let description = format!(
        "{} read or tried to read {count} different secrets (Secrets Manager secrets, SSM \
         parameters decrypted) in account {account} within {window}; the last was {} of {}{outcome}, \
         {}. Reading many secrets in a short time is how an intruder harvests credentials \
         for the next step. {response} Then find out what the secrets unlock and rotate \
         them.",
        capitalize(&actor),
        call_text(event),
        read.shown.join(", "),
        event.origin(),
    );
    let mut resources: Vec<String> = who.arn.iter().cloned().collect();
    let listed = raw.map(resource_arns).unwrap_or_default();
    let named = read.shown.iter().filter(|s| s.starts_with("arn:")).cloned();
    for arn in listed.into_iter().chain(named) {
        if resources.len() > 20 {
            break;
        }
        if !resources.contains(&arn) {
            resources.push(arn);
        }
    }
    let context = json!({
        "account": account,
        "region": event.region,
        "principal": who.principal,
        "caller_type": event.principal.r#type,
        "secrets_read": count,
        "threshold": settings.secret_read_threshold,
        "window_seconds": settings.window_seconds,
        "last_call": call_text(event),
        "last_secrets": read.shown,
        "error_code": event.error_code,
        "source_ip": event.source_ip,
        "user_agent": event.user_agent,
        "event_time": event.time,
    });
    Finding {
        rule_id: SECRET_READ_BURST.to_owned(),
        severity: Severity::High,
        title: format!("{count} secrets read by {actor} within {window} in account {account}"),
        description,
        resources,
        dedup_key: format!("{SECRET_READ_BURST}:{account}:{}", who.principal),
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}

/// `service:EventName` of the call, for descriptions.
fn call_text(event: &Event) -> String {
    match (event.service(), non_empty(event.name.as_deref())) {
        (Some(service), Some(name)) => format!("{service}:{name}"),
        (None, Some(name)) => name.to_owned(),
        _ => "a call".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_by_name_and_arn_count_once() {
        let by_arn = secret_key(
            "arn:aws:secretsmanager:us-west-2:123:secret:prod/db-AbC123",
            "999",
            "eu-west-1",
        );
        assert_eq!(by_arn, secret_key("prod/db", "123", "us-west-2"));
        // A name that merely ends like a suffix is kept when given by name.
        assert_ne!(
            secret_key("app-abcdef", "1", "r"),
            secret_key("app", "1", "r")
        );
        assert_eq!(
            parameter_key(
                "arn:aws:ssm:us-west-2:111:parameter/credentials/x:3",
                "9",
                "r"
            ),
            parameter_key("/credentials/x", "111", "us-west-2")
        );
        assert_eq!(
            parameter_key("/a/b:label", "1", "r"),
            parameter_key("/a/b", "1", "r")
        );
        assert_ne!(
            parameter_key("/a/b", "1", "us-east-1"),
            parameter_key("/a/b", "1", "eu-west-1")
        );
    }
}
