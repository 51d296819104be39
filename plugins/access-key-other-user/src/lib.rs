//! `access-key-other-user`: an access key was created for another IAM user, and is disabled.
//!
//! One finding (`aws.iam.access-key-created-for-other-user`, high) per successful
//! `iam:CreateAccessKey` whose target user (`requestParameters.userName`, else
//! `responseElements.accessKey.userName`) is not the caller itself:
//! - an IAM user creating a key for a user with another name (IAM user names are unique
//!   case-insensitively, so `Alice` and `alice` are the same user); the caller's name is
//!   `userIdentity.userName`, else the last part of its `user/` ARN;
//! - the root user naming a user in the request (without a name, root creates its own key:
//!   that is `root-usage`'s business);
//! - any other caller (a role session, a federated user, another account) naming a user: a
//!   session has no access keys of its own.
//!
//! A second key for another user is the classic persistence step after a credential theft
//! (Panther's `AWS.IAM.Backdoor.User.Keys`). Calls made through CloudFormation (`invokedBy`)
//! are reported too: a stack creating keys for other users is worth a look, and the admin
//! can scope the grant.
//!
//! Response: `iam.disable-access-key(event, user, key)` with the new key's id from
//! `responseElements.accessKey.accessKeyId` (a record without it gets the finding only).
//! Setting the key Inactive is undone by setting it Active again.

use trailwarden_plugin_sdk::capability::{log_receipt, IAM_DISABLE_ACCESS_KEY};
use trailwarden_plugin_sdk::json::str_at;
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    capitalize, non_empty, Capabilities, Descriptor, Event, Finding, Rule, Severity,
};

/// The rule id of every finding of this plugin.
pub const RULE_ID: &str = "aws.iam.access-key-created-for-other-user";

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[IAM_DISABLE_ACCESS_KEY];

/// Name, version and the EventBridge pattern: `iam:CreateAccessKey`.
pub fn descriptor() -> Descriptor {
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![
            r#"{"detail":{"eventSource":["iam.amazonaws.com"],"eventName":["CreateAccessKey"]}}"#
                .to_owned(),
        ],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "assumed-role-creates-key.json",
            "failed-and-incomplete.json",
            "iam-user-creates-key-for-other.json",
            "own-keys.json",
            "root-creates-key-for-user.json",
        ],
        // It acts: trailwarden's own calls must not come back to it.
        self_caused_events: false,
    }
}

/// The rule catalog: `aws.iam.access-key-created-for-other-user`.
pub fn rules() -> Vec<Rule> {
    vec![Rule::new(
        RULE_ID,
        Severity::High,
        "Access key created for another IAM user",
        &["T1098.001"],
        "A successful `iam:CreateAccessKey` for an IAM user other than the caller (by another \
         user, the root user, a role session or a federated user): a second key for someone \
         else is the classic way to keep access after a credential theft. The new key is \
         set inactive with `iam.disable-access-key`.",
        "Ask the caller and the key's user whether the key is wanted; if not, delete it and \
         review what the caller's credentials did.",
        &[IAM_DISABLE_ACCESS_KEY],
    )]
}

/// Who called, as far as owning an access key goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// An IAM user, with its name if known.
    User(Option<String>),
    Root,
    /// Anything else: a role session, a federated user, another account, ...
    Other,
}

fn caller(event: &Event, raw: &Value) -> Caller {
    let p = &event.principal;
    let arn = non_empty(p.arn.as_deref()).unwrap_or("");
    let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
    match non_empty(p.r#type.as_deref()) {
        Some("Root") => Caller::Root,
        Some("IAMUser") => Caller::User(user_name(event, raw, resource)),
        Some(_) => Caller::Other,
        // No type (some producers drop it): judge by the ARN.
        None if resource == "root" => Caller::Root,
        None if resource.starts_with("user/") => Caller::User(user_name(event, raw, resource)),
        None => Caller::Other,
    }
}

/// An IAM user's own name: `userIdentity.userName`, else the last part of its ARN.
fn user_name(event: &Event, raw: &Value, arn_resource: &str) -> Option<String> {
    str_at(raw, &["userIdentity", "userName"])
        .or(non_empty(event.principal.user_name.as_deref()))
        .or_else(|| arn_resource.strip_prefix("user/")?.rsplit('/').next())
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

/// The facts of a `CreateAccessKey` for another user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyForOther {
    /// The user the key was created for.
    pub user_name: String,
    /// The new key's id, when the record has it.
    pub access_key_id: Option<String>,
}

/// The user and key when `event` is a successful `CreateAccessKey` for another user.
pub fn key_for_other_user(event: &Event) -> Option<KeyForOther> {
    if !event.is("iam.amazonaws.com", "CreateAccessKey") || event.failed() {
        return None;
    }
    if !matches!(event.event_type.as_deref(), None | Some("AwsApiCall")) {
        return None;
    }
    let raw = event.raw_json()?;
    let requested = str_at(&raw, &["requestParameters", "userName"]).map(str::trim);
    let created = str_at(&raw, &["responseElements", "accessKey", "userName"]).map(str::trim);
    let target = non_empty(requested).or(non_empty(created))?;
    let other = match caller(event, &raw) {
        // Without a name in the request, root creates its own key (the response may say
        // `Root`).
        Caller::Root => non_empty(requested).is_some(),
        Caller::User(Some(own)) => !own.eq_ignore_ascii_case(target),
        // A user whose name we cannot tell: only an explicit, different-looking request
        // would count, and we cannot compare; stay quiet rather than guess.
        Caller::User(None) => false,
        Caller::Other => true,
    };
    other.then(|| KeyForOther {
        user_name: target.to_owned(),
        access_key_id: str_at(&raw, &["responseElements", "accessKey", "accessKeyId"])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    })
}

/// The findings for one event (none, or one).
pub fn detect(event: &Event) -> Vec<Finding> {
    key_for_other_user(event)
        .map(|k| finding(event, &k))
        .into_iter()
        .collect()
}

fn finding(event: &Event, key: &KeyForOther) -> Finding {
    let account = event.account_or_unknown();
    let user_arn = format!(
        "arn:{}:iam::{account}:user/{}",
        event.partition(),
        key.user_name
    );
    let key_text = key.access_key_id.as_deref().unwrap_or("(id not recorded)");
    let actor = event.actor();
    let via = match non_empty(event.principal.invoked_by.as_deref()) {
        Some(service) => format!(" through {service}"),
        None => String::new(),
    };
    let title = format!(
        "Access key created for IAM user {} by {actor} in account {account}",
        key.user_name
    );
    let description = format!(
        "{} created access key {key_text} for IAM user {}{via} in account {account}, region {}, {}. \
         Creating a key for another user is how a stolen identity gets a second, quieter way \
         in. Confirm with the user and the caller that the key is expected; if not, delete it \
         and review what the caller did.",
        capitalize(&actor),
        key.user_name,
        event.region_or_unknown(),
        event.origin()
    );
    let context = json!({
        "account": account,
        "region": event.region,
        "user_name": key.user_name,
        "access_key_id": key.access_key_id,
        "caller_arn": event.principal.arn,
        "caller_type": event.principal.r#type,
        "caller_access_key_id": non_empty(event.principal.access_key_id.as_deref()),
        "invoked_by": event.principal.invoked_by,
        "source_ip": event.source_ip,
        "user_agent": event.user_agent,
        "event_time": event.time,
    });
    let caller = non_empty(event.principal.arn.as_deref()).unwrap_or("unknown-caller");
    Finding {
        rule_id: RULE_ID.to_owned(),
        severity: Severity::High,
        title,
        description,
        resources: vec![user_arn],
        dedup_key: format!("{RULE_ID}:{account}:{caller}"),
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}

/// The response to `event`'s finding: disable the new key.
pub fn respond(event: &Event, finding: &Finding, caps: &dyn Capabilities) {
    if finding.rule_id != RULE_ID {
        return;
    }
    let Some(KeyForOther {
        user_name,
        access_key_id: Some(key),
    }) = key_for_other_user(event)
    else {
        return;
    };
    let receipt = caps.disable_access_key(&event.id, &user_name, &key);
    log_receipt(IAM_DISABLE_ACCESS_KEY, &event.id, receipt);
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, [`respond`] to each finding.
    AccessKeyOtherUser {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: |_| rules(),
        detect: detect,
        respond: |event, finding, batch| respond(event, finding, batch.caps),
    }
);
