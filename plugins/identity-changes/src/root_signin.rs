//! `aws.root.console-signin-failed`: a console sign-in as the root user failed.
//!
//! A `signin.amazonaws.com` event by the root user (`userIdentity.type` `Root`, or an ARN
//! ending in `:root`) that failed:
//! - `ConsoleLogin` with `responseElements.ConsoleLogin` = `Failure` (CloudTrail also writes
//!   `errorMessage: "Failed authentication"`): a wrong password, or the email address of
//!   the account tried;
//! - `CheckMfa` with `responseElements.CheckMfa` = `Failure`: the password was right and the
//!   MFA code was not, i.e. someone has the root password.
//!
//! When `responseElements` says nothing, an error on the record counts as the failure. A
//! successful sign-in is `root-usage`'s business. Each failure is a finding (as Panther's
//! `AWS.Console.RootLoginFailed` labels its events; Panther alerts from 5 within 15
//! minutes); the dedup key (account + source address) groups a burst into one incident, and
//! the notification goes out once per incident (see the crate's `notify_window_seconds`).

use trailwarden_plugin_sdk::json::{at, boolish};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{non_empty, Event, Finding, Severity};

use crate::{region, Draft, ROOT_SIGNIN_FAILED};

/// Whether the principal is the root user.
fn is_root(event: &Event) -> bool {
    match non_empty(event.principal.r#type.as_deref()) {
        Some(kind) => kind == "Root",
        None => event
            .principal
            .arn
            .as_deref()
            .is_some_and(|arn| arn.ends_with(":root")),
    }
}

/// The sign-in step that failed: `ConsoleLogin` or `CheckMfa`, if this one did.
pub fn failed_step(event: &Event, raw: Option<&Value>) -> Option<&'static str> {
    let step = match event.name.as_deref()? {
        "ConsoleLogin" => "ConsoleLogin",
        "CheckMfa" => "CheckMfa",
        _ => return None,
    };
    if !is_root(event) {
        return None;
    }
    let outcome = raw.and_then(|r| at(r, &["responseElements", step]).and_then(Value::as_str));
    let failed = match outcome {
        Some(outcome) => outcome.eq_ignore_ascii_case("Failure"),
        None => event.failed(),
    };
    failed.then_some(step)
}

/// The finding, if `event` is a failed root sign-in.
pub fn detect(event: &Event, raw: Option<&Value>) -> Option<Finding> {
    let step = failed_step(event, raw)?;
    let account = event.account_or_unknown();
    let root_arn = non_empty(event.principal.arn.as_deref())
        .map(str::to_owned)
        .unwrap_or_else(|| crate::iam_arn(event, "root"));
    let ip = non_empty(event.source_ip.as_deref());
    let from = ip.unwrap_or("an unknown address");
    let mfa_used = raw
        .and_then(|r| at(r, &["additionalEventData", "MFAUsed"]))
        .and_then(boolish);
    let (title, what) = if step == "CheckMfa" {
        (
            format!("Root MFA check failed at console sign-in to account {account} from {from}"),
            "entered the right root password but failed the MFA check",
        )
    } else {
        (
            format!("Failed root console sign-in to account {account} from {from}"),
            "failed to sign in to the console as the root user",
        )
    };
    let advice = if step == "CheckMfa" {
        "Someone knows the root password: change it now, confirm the MFA device is in the \
         owner's hands, and look for other sign-in attempts from the address."
    } else {
        "Ask the owner of the root credentials whether it was them; if not, make sure the \
         root user has MFA and a long, new password, and look for a successful root sign-in \
         from the same address."
    };
    let error = match non_empty(event.error_message.as_deref()) {
        Some(message) => format!(" (error: {message})"),
        None => String::new(),
    };
    let description = format!(
        "Someone {what} of account {account} ({root_arn}) in {}, {}{error}. {advice}",
        region(event),
        event.origin(),
    );
    Some(
        Draft {
            rule_id: ROOT_SIGNIN_FAILED,
            severity: Severity::High,
            title,
            description,
            resources: vec![root_arn],
            subject: ip.unwrap_or("unknown-ip").to_owned(),
            extra: json!({
                "step": step,
                "mfa_used": mfa_used,
                "error_message": event.error_message,
            }),
        }
        .finish(event),
    )
}
