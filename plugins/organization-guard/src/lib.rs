//! `organization-guard`: an account leaving, or taken out of, its AWS Organization.
//!
//! One rule, `aws.organizations.account-left`, for `organizations.amazonaws.com` API calls:
//!
//! | event | what it means |
//! |---|---|
//! | `LeaveOrganization` | a member account leaves (called in the member account) |
//! | `RemoveAccountFromOrganization` | the management account removes a member (`requestParameters.accountId`) |
//! | `DeleteOrganization` | the management account deletes the organization itself |
//!
//! Severity high when the call succeeded. A failed attempt is reported too, at medium (as
//! Panther's `AWS.CloudTrail.AttemptToLeaveOrg` does): an account outside the organization
//! escapes its service control policies, organization trail and delegated security
//! services, and trying to get out, even without the permission, is a known step of an
//! attacker (Stratus Red Team's `aws.defense-evasion.organizations-leave` is a denied
//! `LeaveOrganization`).
//!
//! Responses:
//! - every finding (attempts included) is sent with `notify.send` to the config's
//!   `notify_target` (default `security-team`);
//! - when the call succeeded and the caller is an IAM user, or a session of an IAM role, of
//!   the account the event was recorded in, the caller is quarantined:
//!   `iam.quarantine-user(user)` or `iam.quarantine-role(role)` (the deny-all inline policy
//!   `trailwarden-quarantine`; deleting it undoes it). Service-linked roles
//!   (`/aws-service-role/`) and IAM Identity Center roles (`/aws-reserved/`) are left alone:
//!   IAM refuses to change them. Root, federated users and callers from other accounts get
//!   the notification only. Quarantining a role stops everyone who uses it: grant these in
//!   `approve` mode.

use trailwarden_plugin_sdk::capability::{
    log_receipt, IAM_QUARANTINE_ROLE, IAM_QUARANTINE_USER, NOTIFY_SEND,
};
use trailwarden_plugin_sdk::json::{get_ci, str_at, text};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    capitalize, non_empty, Batch, Config, Descriptor, Event, Finding, Rule, Severity,
};

/// The rule id of every finding of this plugin.
pub const RULE_ID: &str = "aws.organizations.account-left";

const ORGANIZATIONS: &str = "organizations.amazonaws.com";

/// The calls it looks at.
pub const EVENT_NAMES: &[&str] = &[
    "LeaveOrganization",
    "RemoveAccountFromOrganization",
    "DeleteOrganization",
];

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND, IAM_QUARANTINE_USER, IAM_QUARANTINE_ROLE];

/// Name, version and the EventBridge pattern: the calls in [`EVENT_NAMES`].
pub fn descriptor() -> Descriptor {
    let pattern = json!({"detail": {"eventSource": [ORGANIZATIONS], "eventName": EVENT_NAMES}});
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![pattern.to_string()],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "leave-attempt-denied.json",
            "leave-organization.json",
            "not-leaving.json",
            "quarantine-not-possible.json",
            "remove-and-delete.json",
        ],
        // It acts: trailwarden's own calls must not come back to it.
        self_caused_events: false,
    }
}

/// The rule catalog, naming the notify target of `config`.
pub fn rules(config: &Config) -> Vec<Rule> {
    vec![Rule::new(
        RULE_ID,
        Severity::High,
        "Account left or removed from the AWS Organization",
        &["T1666"],
        &format!(
            "organizations:LeaveOrganization, RemoveAccountFromOrganization or \
             DeleteOrganization, successful (high) or attempted and failed (medium). An \
             account outside the organization escapes its service control policies, \
             organization trail and delegated security services. Sent to {}; when the call \
             succeeded and the caller is an IAM user or role of the same account, the caller \
             is quarantined.",
            config.notify_target()
        ),
        "Ask the caller's owner whether the account was meant to leave; if not, keep the \
         caller quarantined, invite the account back and check what it did while outside.",
        &[NOTIFY_SEND, IAM_QUARANTINE_USER, IAM_QUARANTINE_ROLE],
    )]
}

/// The findings for one event (none or one).
pub fn detect(event: &Event) -> Vec<Finding> {
    if event.source.as_deref() != Some(ORGANIZATIONS) || !api_call(event) {
        return Vec::new();
    }
    match event.name.as_deref() {
        Some(name) if EVENT_NAMES.contains(&name) => {
            let raw = event.raw_json();
            vec![finding(event, name, raw.as_ref())]
        }
        _ => Vec::new(),
    }
}

/// Whether the event records the API call itself. VPC endpoint network activity events
/// (`AwsVpceEvent`) repeat a call that is also logged as an `AwsApiCall`.
fn api_call(event: &Event) -> bool {
    matches!(event.event_type.as_deref(), None | Some("AwsApiCall"))
}

fn finding(event: &Event, name: &str, raw: Option<&Value>) -> Finding {
    let account = event.account_or_unknown();
    let failed = event.failed();
    let error = non_empty(event.error_code.as_deref())
        .or(non_empty(event.error_message.as_deref()))
        .unwrap_or("error");
    let removed = raw
        .and_then(|r| r.get("requestParameters"))
        .and_then(|p| get_ci(p, "accountId"))
        .and_then(text)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    // The account that leaves, and what happened, in both tenses.
    let (subject, done, tried) = match name {
        "LeaveOrganization" => (
            Some(account.to_owned()),
            format!("made account {account} leave its AWS Organization"),
            format!("tried to make account {account} leave its AWS Organization"),
        ),
        "RemoveAccountFromOrganization" => {
            let who = removed.as_deref().unwrap_or("(not named in the record)");
            (
                removed.clone(),
                format!("removed account {who} from the AWS Organization"),
                format!("tried to remove account {who} from the AWS Organization"),
            )
        }
        _ => (
            Some(account.to_owned()),
            format!("deleted the AWS Organization of management account {account}"),
            format!("tried to delete the AWS Organization of management account {account}"),
        ),
    };
    let subject_text = subject.as_deref().unwrap_or("(not named in the record)");
    let title = match (name, failed) {
        ("LeaveOrganization", false) => format!("Account {subject_text} left its AWS Organization"),
        ("LeaveOrganization", true) => {
            format!("Attempt to take account {subject_text} out of its AWS Organization ({error})")
        }
        ("RemoveAccountFromOrganization", false) => {
            format!("Account {subject_text} removed from the AWS Organization by account {account}")
        }
        ("RemoveAccountFromOrganization", true) => {
            format!("Attempt to remove account {subject_text} from the AWS Organization ({error})")
        }
        (_, false) => format!("AWS Organization of management account {account} deleted"),
        (_, true) => format!(
            "Attempt to delete the AWS Organization of management account {account} ({error})"
        ),
    };
    let why = "Outside the organization an account is no longer bound by its service control \
               policies, organization trail and delegated security services (GuardDuty, \
               Security Hub, Config), so leaving is a way to escape them.";
    let description = if failed {
        format!(
            "{} {tried}, {}, and failed ({error}). {why} Even a denied attempt is a known step \
             of an attacker testing whether the account can get out: check who made it and \
             what else they did.",
            capitalize(&event.actor()),
            event.location()
        )
    } else {
        format!(
            "{} {done}, {}. {why} Confirm it was planned; if not, quarantine the caller, invite \
             the account back, and review what happened while it was outside.",
            capitalize(&event.actor()),
            event.location()
        )
    };
    let context = json!({
        "event_name": name,
        "account": event.account_or_principal_account(),
        "account_leaving": subject,
        "removed_account": removed,
        "attempt_failed": failed,
        "error_code": event.error_code,
        "error_message": event.error_message,
        "region": event.region,
        "principal_arn": event.principal.arn,
        "principal_type": event.principal.r#type,
        "source_ip": event.source_ip,
        "user_agent": event.user_agent,
        "event_time": event.time,
    });
    Finding {
        rule_id: RULE_ID.to_owned(),
        severity: if failed {
            Severity::Medium
        } else {
            Severity::High
        },
        title,
        description,
        resources: subject.iter().cloned().collect(),
        dedup_key: match &subject {
            Some(s) => format!("{RULE_ID}:{s}"),
            None => format!("{RULE_ID}:{account}:unnamed"),
        },
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}

/// Who to quarantine for a successful call: an IAM user, or the role of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quarantine {
    User(String),
    Role(String),
}

/// The account id of an ARN (`arn:aws:iam::111122223333:...`).
fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The caller of `event` when it can be quarantined: an IAM user, or a session of an IAM
/// role (not service-linked, not IAM Identity Center's), of the account the event was
/// recorded in.
pub fn quarantine_target(event: &Event) -> Option<Quarantine> {
    let account = non_empty(event.account.as_deref())?;
    let p = &event.principal;
    let arn = non_empty(p.arn.as_deref());
    match non_empty(p.r#type.as_deref())? {
        "IAMUser" => {
            let in_account = non_empty(p.account_id.as_deref())
                .or_else(|| arn.and_then(arn_account))
                == Some(account);
            let name = non_empty(p.user_name.as_deref())
                .map(str::to_owned)
                .or_else(|| {
                    let resource = arn?.splitn(6, ':').nth(5)?;
                    resource
                        .strip_prefix("user/")?
                        .rsplit('/')
                        .next()
                        .map(str::to_owned)
                })
                .filter(|n| !n.trim().is_empty())?;
            in_account.then_some(Quarantine::User(name))
        }
        "AssumedRole" => {
            let raw = event.raw_json();
            let issuer = raw
                .as_ref()
                .and_then(|r| r.pointer("/userIdentity/sessionContext/sessionIssuer"));
            let issuer_type = issuer.and_then(|i| str_at(i, &["type"]));
            let issuer_arn = non_empty(p.session_issuer_arn.as_deref())
                .or_else(|| issuer.and_then(|i| str_at(i, &["arn"])))?;
            let resource = issuer_arn.splitn(6, ':').nth(5)?;
            let path_and_name = resource.strip_prefix("role/")?;
            if issuer_type.is_some_and(|t| t != "Role")
                || path_and_name.starts_with("aws-service-role/")
                || path_and_name.starts_with("aws-reserved/")
                || arn_account(issuer_arn) != Some(account)
            {
                return None;
            }
            let name = path_and_name.rsplit('/').next().filter(|n| !n.is_empty())?;
            Some(Quarantine::Role(name.to_owned()))
        }
        _ => None,
    }
}

/// The response to one finding: notify, then quarantine the caller of a successful call
/// when [`quarantine_target`] names one.
pub fn respond(event: &Event, finding: &Finding, batch: &Batch) {
    let (id, caps, config) = (event.id.as_str(), batch.caps, batch.config);
    let receipt = caps.notify(id, config.notify_target(), finding);
    log_receipt(NOTIFY_SEND, id, receipt);
    if event.failed() {
        return;
    }
    match quarantine_target(event) {
        Some(Quarantine::User(user)) => {
            let receipt = caps.quarantine_user(id, &user);
            log_receipt(IAM_QUARANTINE_USER, id, receipt);
        }
        Some(Quarantine::Role(role)) => {
            let receipt = caps.quarantine_role(id, &role);
            log_receipt(IAM_QUARANTINE_ROLE, id, receipt);
        }
        None => {}
    }
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, [`respond`] to each finding.
    OrganizationGuard {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: rules,
        detect: detect,
        respond: respond,
    }
);
