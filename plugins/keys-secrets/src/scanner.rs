//! `aws.credentials.scanner-user-agent`: a call whose user agent names a credential scanner
//! or an offensive tool (the config's `scanner_user_agents`).

use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, non_empty, Event, Finding, Severity, State};

use crate::settings::Scanner;
use crate::{identity, long_term_key, state_key, Identity, SCANNER};

/// One finding per principal and tool per this many seconds (Panther deduplicates its
/// TruffleHog alerts over an hour too): a scan makes thousands of calls.
pub const QUIET_SECONDS: u32 = 3600;

/// The EventBridge patterns of the calls `scanners` can match. A tool that counts on some
/// calls only (TruffleHog: `sts:GetCallerIdentity`) is subscribed by those calls' names,
/// whatever the user agent: exact, and those calls are few. A tool that counts on every
/// call is subscribed by its user-agent substrings as wildcards (`*kali-amd64*`).
/// EventBridge wildcards are case-sensitive while [`Scanner::matches`] is not, so each
/// substring is subscribed in the spellings tools write (lower case, upper case,
/// capitalised, each word capitalised: [`spellings`]); a user agent in another mix of
/// cases is not routed. That costs no real detection: those tools write the name in a
/// fixed spelling, and whoever controls the user agent can leave the name out altogether.
///
/// Every tool's wildcards are one list of one pattern, which the host searches in one pass
/// over an event's user agent.
pub fn patterns(scanners: &[Scanner]) -> Vec<Value> {
    let mut patterns = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut agents: Vec<Value> = Vec::new();
    for scanner in scanners {
        if !scanner.calls.is_empty() {
            names.extend(scanner.calls.iter().map(|(_, n)| n.as_str()));
            continue;
        }
        for spelling in scanner.patterns.iter().flat_map(|p| spellings(p)) {
            let wildcard = json!({"wildcard": format!("*{}*", wildcard_escape(&spelling))});
            if !agents.contains(&wildcard) {
                agents.push(wildcard);
            }
        }
    }
    if !agents.is_empty() {
        patterns.push(json!({"detail": {"userAgent": agents}}));
    }
    if !names.is_empty() {
        names.sort_unstable();
        names.dedup();
        patterns.push(json!({"detail": {"userAgent": [{"exists": true}], "eventName": names}}));
    }
    patterns
}

/// The spellings of a user-agent substring that are subscribed: as given, lower case, upper
/// case, first letter capitalised, and each word (run of letters) capitalised.
pub fn spellings(substring: &str) -> Vec<String> {
    let lower = substring.to_lowercase();
    let mut words = String::new();
    let mut after_letter = false;
    for c in lower.chars() {
        if !after_letter {
            words.extend(c.to_uppercase());
        } else {
            words.push(c);
        }
        after_letter = c.is_alphabetic();
    }
    let mut all = vec![
        substring.to_owned(),
        lower.clone(),
        substring.to_uppercase(),
        capitalize(&lower),
        words,
    ];
    all.retain(|s| !s.is_empty());
    let mut unique = Vec::new();
    for s in all {
        if !unique.contains(&s) {
            unique.push(s);
        }
    }
    unique
}

/// `text` with the EventBridge wildcard's special characters (`*`, `\`) escaped.
fn wildcard_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '*' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The first tool of `scanners` that `event`'s user agent names, for a call it counts.
pub fn scanner_of<'a>(event: &Event, scanners: &'a [Scanner]) -> Option<&'a Scanner> {
    let agent = non_empty(event.user_agent.as_deref())?;
    if !crate::api_call(event) && event.event_type.as_deref() != Some("AwsConsoleSignIn") {
        return None;
    }
    scanners
        .iter()
        .find(|s| s.matches(agent, event.service(), event.name.as_deref()))
}

/// The finding for `event`, unless this principal was already reported for this tool in
/// the last [`QUIET_SECONDS`] (kept in `state`).
pub fn detect(
    event: &Event,
    raw: Option<&trailwarden_plugin_sdk::serde_json::Value>,
    scanners: &[Scanner],
    state: &dyn State,
) -> Option<Finding> {
    let scanner = scanner_of(event, scanners)?;
    let who = identity(event, raw)?;
    let quiet = state_key("scanner", &[&who.account, &who.principal, &scanner.name]);
    if state.get(&quiet).is_some() {
        return None;
    }
    state.set(&quiet, &event.id, Some(QUIET_SECONDS));
    Some(finding(event, scanner, &who))
}

fn finding(event: &Event, scanner: &Scanner, who: &Identity) -> Finding {
    let account = who.account.as_str();
    let actor = event.actor();
    let call = match (event.service(), non_empty(event.name.as_deref())) {
        (Some(service), Some(name)) => format!("{service}:{name}"),
        (None, Some(name)) => name.to_owned(),
        _ => "an AWS API".to_owned(),
    };
    let key = non_empty(event.principal.access_key_id.as_deref());
    let key_text = key
        .map(|k| format!(" with access key {k}"))
        .unwrap_or_default();
    let outcome = match non_empty(event.error_code.as_deref()) {
        Some(code) => format!(" (it failed: {code})"),
        None => String::new(),
    };
    let containment = if long_term_key(event).is_some() {
        "The key is a long-term IAM user key: it is disabled (aws iam update-access-key \
         --status Active undoes it)."
    } else {
        "Find where the credentials came from and revoke them; if this is your own team's \
         scan, take the tool off scanner_user_agents."
    };
    let description = format!(
        "{} called {call}{key_text}{outcome} in account {account}, {}, with a user agent \
         that names {}: {}. {containment}",
        capitalize(&actor),
        event.origin(),
        scanner.name,
        scanner.reason,
    );
    let context = json!({
        "account": account,
        "region": event.region,
        "scanner": scanner.name,
        "reason": scanner.reason,
        "event_name": event.name,
        "event_source": event.source,
        "error_code": event.error_code,
        "caller_arn": event.principal.arn,
        "caller_type": event.principal.r#type,
        "access_key_id": key,
        "source_ip": event.source_ip,
        "user_agent": event.user_agent,
        "event_time": event.time,
        "quiet_seconds": QUIET_SECONDS,
    });
    Finding {
        rule_id: SCANNER.to_owned(),
        severity: Severity::High,
        title: format!(
            "{} call {call} by {actor} in account {account}",
            scanner.name
        ),
        description,
        resources: who.arn.iter().cloned().collect(),
        dedup_key: format!("{SCANNER}:{account}:{}:{}", who.principal, scanner.name),
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}
