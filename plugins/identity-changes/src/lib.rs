//! `identity-changes`: changes to who can sign in to an account or act in it, and the
//! responses to them.
//!
//! | rule id | events | severity | response |
//! |---|---|---|---|
//! | `aws.root.console-signin-failed` | `signin:ConsoleLogin` (or `CheckMfa`) by the root user that failed | high | `notify.send` |
//! | `aws.iam.login-profile-changed-by-other` | `iam:CreateLoginProfile` / `UpdateLoginProfile` for another user, no password reset required | high | `iam.delete-login-profile` of that user |
//! | `aws.iam.mfa-device-removed` | `iam:DeactivateMFADevice`, `DeleteVirtualMFADevice` | high for the root user's device, else medium | `notify.send` |
//! | `aws.iam.role-trust-opened` | `iam:UpdateAssumeRolePolicy` / `CreateRole` whose trust policy lets everyone, or an account that is neither the event's nor trusted, assume the role | high | `iam.revoke-role-sessions` of the role |
//! | `aws.iam.saml-provider-changed` | `iam:CreateSAMLProvider` / `UpdateSAMLProvider` / `DeleteSAMLProvider`, except by IAM Identity Center | medium | `notify.send` |
//! | `aws.sts.federation-token-issued` | `sts:GetFederationToken` | medium | `notify.send` |
//! | `aws.iam.user-created-or-updated` | `iam:CreateUser`, or `UpdateUser` (rename or path change) of another user, except by an AWS service | medium | `notify.send` |
//!
//! Successful calls only, except for the root sign-in failures, which are about failing.
//! Each rule's logic and reasoning is in its module.
//!
//! Config (the plugin's `config` table, see [`Settings`]): `notify_target` (default
//! `security-team`); `notify_window_seconds` (default 3600): once a finding has been
//! notified, later findings with the same dedup key (one incident: the same source address
//! for root sign-in failures, the same MFA device, provider, caller or user) are recorded but not
//! notified again for that long, so that one burst does not use up the grant's hourly
//! budget; `trusted_accounts` and `trusted_org_ids` for the role trust rule.

pub mod federation;
pub mod login_profile;
pub mod mfa;
pub mod root_signin;
mod settings;
pub mod trust_policy;
pub mod user_change;

pub use settings::{account_id, Settings, DEFAULT_NOTIFY_WINDOW_SECONDS};

use trailwarden_plugin_sdk::capability::{
    log_receipt, IAM_DELETE_LOGIN_PROFILE, IAM_REVOKE_ROLE_SESSIONS, NOTIFY_SEND,
};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    non_empty, Batch, Config, Descriptor, Event, Finding, NotifyWindow, Rule, Severity, WindowOpens,
};

/// A failed root console sign-in.
pub const ROOT_SIGNIN_FAILED: &str = "aws.root.console-signin-failed";
/// A console password created or reset for another user, not to be changed at first use.
pub const LOGIN_PROFILE_BY_OTHER: &str = "aws.iam.login-profile-changed-by-other";
/// An MFA device deactivated or deleted.
pub const MFA_DEVICE_REMOVED: &str = "aws.iam.mfa-device-removed";
/// A role's trust policy lets everyone, or an outside account, assume it.
pub const ROLE_TRUST_OPENED: &str = "aws.iam.role-trust-opened";
/// A SAML identity provider created, updated or deleted.
pub const SAML_PROVIDER_CHANGED: &str = "aws.iam.saml-provider-changed";
/// Federation credentials minted from an IAM user's long-term keys.
pub const FEDERATION_TOKEN_ISSUED: &str = "aws.sts.federation-token-issued";
/// An IAM user created, or another user renamed or moved.
pub const USER_CREATED_OR_UPDATED: &str = "aws.iam.user-created-or-updated";

/// Every rule id, in catalog order.
pub const RULE_IDS: &[&str] = &[
    ROOT_SIGNIN_FAILED,
    LOGIN_PROFILE_BY_OTHER,
    MFA_DEVICE_REMOVED,
    ROLE_TRUST_OPENED,
    SAML_PROVIDER_CHANGED,
    FEDERATION_TOKEN_ISSUED,
    USER_CREATED_OR_UPDATED,
];

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[
    IAM_DELETE_LOGIN_PROFILE,
    IAM_REVOKE_ROLE_SESSIONS,
    NOTIFY_SEND,
];

pub(crate) const IAM: &str = "iam.amazonaws.com";
pub(crate) const STS: &str = "sts.amazonaws.com";
pub(crate) const SIGNIN: &str = "signin.amazonaws.com";

/// The IAM calls it looks at.
pub const IAM_EVENT_NAMES: &[&str] = &[
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "DeactivateMFADevice",
    "DeleteVirtualMFADevice",
    "UpdateAssumeRolePolicy",
    "CreateRole",
    "CreateSAMLProvider",
    "UpdateSAMLProvider",
    "DeleteSAMLProvider",
    "CreateUser",
    "UpdateUser",
];

/// Name, version and the EventBridge patterns: root sign-in events, the IAM calls of
/// [`IAM_EVENT_NAMES`], and `sts:GetFederationToken`.
pub fn descriptor() -> Descriptor {
    let patterns = [
        json!({"detail": {
            "eventSource": [SIGNIN],
            "eventName": ["ConsoleLogin", "CheckMfa"],
            "userIdentity": {"type": ["Root"]},
        }}),
        json!({"detail": {"eventSource": [IAM], "eventName": IAM_EVENT_NAMES}}),
        json!({"detail": {"eventSource": [STS], "eventName": ["GetFederationToken"]}}),
    ];
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: patterns.iter().map(Value::to_string).collect(),
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "federation-token-not-issued.json",
            "federation-token.json",
            "login-profile-for-other.json",
            "login-profile-not-for-other.json",
            "mfa-not-removed.json",
            "mfa-removed.json",
            "role-trust-not-opened.json",
            "role-trust-opened.json",
            "root-signin-failed.json",
            "root-signin-not-failed.json",
            "saml-provider-changed.json",
            "saml-provider-not-changed.json",
            "user-created-or-updated.json",
            "user-not-created-or-updated.json",
        ],
        // It acts: trailwarden's own calls must not come back to it.
        self_caused_events: false,
    }
}

/// The rule catalog, naming the notify target and the trusted accounts of `config`.
pub fn rules(config: &Config) -> Vec<Rule> {
    let settings = Settings::parse(config).0;
    let target = &settings.notify_target;
    let trusted = if settings.trusted_accounts.is_empty() {
        "no other account is trusted (`trusted_accounts` is empty)".to_owned()
    } else {
        format!("trusted: {}", settings.trusted_accounts.join(", "))
    };
    vec![
        Rule::new(
            ROOT_SIGNIN_FAILED,
            Severity::High,
            "Root console sign-in failed",
            &["T1110", "T1078.004"],
            &format!(
                "A console sign-in as the root user failed (`ConsoleLogin` with \
                 `ConsoleLogin: Failure`), or its MFA step failed (`CheckMfa`: the password \
                 was right). Someone is trying the root credentials. The first failure from \
                 an address is sent to {target}."
            ),
            "Ask the owner of the root credentials whether it was them; if not, make sure \
             the root user has MFA and a new long password, and look for any successful \
             root sign-in from the same address.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            LOGIN_PROFILE_BY_OTHER,
            Severity::High,
            "Console password set for another IAM user",
            &["T1098"],
            "A principal created or reset the console password of another IAM user \
             (`CreateLoginProfile` / `UpdateLoginProfile`) without requiring a new password \
             at the next sign-in: the caller now knows a working password of that user. A \
             session named after the user counts as the user (as in Panther). The user's \
             login profile is deleted with `iam.delete-login-profile`.",
            "Ask the user and the caller whether the password was meant to be set; if not, \
             keep the login profile deleted, and review the sign-ins of the user since the \
             change.",
            &[IAM_DELETE_LOGIN_PROFILE],
        ),
        Rule::new(
            MFA_DEVICE_REMOVED,
            Severity::High,
            "MFA device deactivated or deleted",
            &["T1556.006"],
            &format!(
                "An MFA device was deactivated (`DeactivateMFADevice`) or a virtual one \
                 deleted (`DeleteVirtualMFADevice`): the user can sign in with the password \
                 alone until a device is enabled again. High for the root user's device, \
                 medium for an IAM user's. Sent to {target} once per device."
            ),
            "Confirm with the user that the device was replaced on purpose and that a new \
             one is enabled; if not, reset the user's password and enable MFA again.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            ROLE_TRUST_OPENED,
            Severity::High,
            "Role trust policy opened to everyone or an outside account",
            &["T1098.003", "T1199"],
            &format!(
                "A role was created or its trust policy updated (`CreateRole`, \
                 `UpdateAssumeRolePolicy`) so that it can be assumed by everyone \
                 (`Principal: \"*\"`) or by an account that is neither the role's nor \
                 trusted ({trusted}), without a condition that restricts who \
                 (`aws:PrincipalOrgID`, `aws:PrincipalAccount` or `aws:PrincipalArn` naming \
                 trusted accounts; for a named account also `sts:ExternalId`). The role's \
                 existing sessions are revoked with `iam.revoke-role-sessions`."
            ),
            "Restore the trust policy from your infrastructure code, then review what \
             sessions of the role did since the change (AssumeRole events from the outside \
             account).",
            &[IAM_REVOKE_ROLE_SESSIONS],
        ),
        Rule::new(
            SAML_PROVIDER_CHANGED,
            Severity::Medium,
            "SAML identity provider created, updated or deleted",
            &["T1484.002", "T1606.002"],
            &format!(
                "A SAML identity provider was created, updated or deleted \
                 (`CreateSAMLProvider`, `UpdateSAMLProvider`, `DeleteSAMLProvider`). Whoever \
                 holds the provider's signing key can sign in as any role that trusts it. \
                 Changes made by IAM Identity Center itself are left out. Sent to {target}."
            ),
            "Check that the provider's metadata (its signing certificate and issuer) belongs \
             to your identity provider, and which roles trust the provider.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            FEDERATION_TOKEN_ISSUED,
            Severity::Medium,
            "Federation token issued from IAM user credentials",
            &["T1550.001", "T1078.004"],
            &format!(
                "An IAM user (or the root user) called `sts:GetFederationToken`: temporary \
                 credentials, valid up to 36 hours, that keep working after the user's access \
                 key is deactivated or deleted and can open a console session. Attackers use \
                 it to keep access to a stolen key. Sent to {target}."
            ),
            "Check whether the user's software is known to call GetFederationToken; if not, \
             attach a deny-all policy to the user (it also binds the federated sessions), \
             then rotate its keys.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            USER_CREATED_OR_UPDATED,
            Severity::Medium,
            "IAM user created, or another user renamed or moved",
            &["T1136.003", "T1098"],
            &format!(
                "An IAM user was created (`CreateUser`), or another user than the caller \
                 renamed or moved to another path (`UpdateUser`). A new user is a lasting \
                 identity that outlives the session that made it; a renamed or moved user \
                 escapes the policies and reviews that name its ARN. Calls made by an AWS \
                 service (an `AWSService` principal, or `invokedBy` one, such as CloudFormation \
                 deploying a template) are left out. Sent to {target} once per user."
            ),
            "Check that the user was meant to be created or changed (a ticket, your \
             infrastructure code); if not, delete its access keys and login profile, then the \
             user, or restore its name and path, and review what the caller did since.",
            &[NOTIFY_SEND],
        ),
    ]
}

/// The findings for one event (none or one), with the default settings.
pub fn detect(event: &Event) -> Vec<Finding> {
    detect_with(event, &Settings::default())
}

/// The findings for one event (none or one).
pub fn detect_with(event: &Event, settings: &Settings) -> Vec<Finding> {
    let raw = event.raw_json();
    let raw = raw.as_ref();
    let finding = match (event.source.as_deref(), event.name.as_deref()) {
        (Some(SIGNIN), Some(_)) => root_signin::detect(event, raw),
        (Some(IAM), Some("CreateLoginProfile" | "UpdateLoginProfile")) => {
            login_profile::detect(event, raw)
        }
        (Some(IAM), Some("DeactivateMFADevice" | "DeleteVirtualMFADevice")) => {
            mfa::detect(event, raw)
        }
        (Some(IAM), Some("UpdateAssumeRolePolicy" | "CreateRole")) => {
            trust_policy::detect(event, raw, settings)
        }
        (Some(IAM), Some("CreateSAMLProvider" | "UpdateSAMLProvider" | "DeleteSAMLProvider")) => {
            federation::detect_saml(event, raw)
        }
        (Some(STS), Some("GetFederationToken")) => federation::detect_token(event, raw),
        (Some(IAM), Some("CreateUser" | "UpdateUser")) => user_change::detect(event, raw),
        _ => None,
    };
    finding.into_iter().collect()
}

/// The response to one finding of `event`: delete the login profile, revoke the role's
/// sessions, or notify (once per dedup key per `notify_window_seconds`).
pub fn respond(event: &Event, finding: &Finding, batch: &Batch<Settings>) {
    let (caps, state, settings) = (batch.caps, batch.state, &batch.settings);
    let raw = event.raw_json();
    let raw = raw.as_ref();
    match finding.rule_id.as_str() {
        LOGIN_PROFILE_BY_OTHER => {
            if let Some(change) = login_profile::password_for_other(event, raw) {
                let receipt = caps.delete_login_profile(&event.id, &change.user_name);
                log_receipt(IAM_DELETE_LOGIN_PROFILE, &event.id, receipt);
            }
        }
        ROLE_TRUST_OPENED => {
            // Without the role's name (a record that lost it) there is nothing to act on.
            let role = trust_policy::opened(event, raw, settings).and_then(|o| o.role_name);
            if let Some(role) = role {
                let receipt = caps.revoke_role_sessions(&event.id, &role);
                log_receipt(IAM_REVOKE_ROLE_SESSIONS, &event.id, receipt);
            }
        }
        ROOT_SIGNIN_FAILED
        | MFA_DEVICE_REMOVED
        | SAML_PROVIDER_CHANGED
        | FEDERATION_TOKEN_ISSUED
        | USER_CREATED_OR_UPDATED => {
            // Once per dedup key per `notify_window_seconds`; a denied notification is
            // tried again by the next finding.
            let window = NotifyWindow {
                target: &settings.notify_target,
                seconds: settings.notify_window_seconds,
                opens: WindowOpens::WhenGranted,
            };
            window.notify(event, finding, caps, state);
        }
        _ => {}
    }
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect_with`] each event, [`respond`] to each finding.
    IdentityChanges {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: rules,
        settings: Settings::from_config,
        detect_with: |event, batch| detect_with(event, &batch.settings),
        respond: respond,
    }
);

// ---------------------------------------------------------------------------------------
// Shared by the rule modules
// ---------------------------------------------------------------------------------------

/// Whether the event records the API call itself (not a service event or a VPC endpoint
/// copy of it, which does not tell whether the call succeeded).
pub(crate) fn api_call(event: &Event) -> bool {
    matches!(event.event_type.as_deref(), None | Some("AwsApiCall"))
}

/// The region for descriptions, or `an unknown region` (unlike [`Event::region_or_unknown`],
/// it reads as a phrase).
pub(crate) fn region(event: &Event) -> &str {
    non_empty(event.region.as_deref()).unwrap_or("an unknown region")
}

/// A trimmed, non-empty string of the record.
pub(crate) fn text_of<'a>(raw: Option<&'a Value>, path: &[&str]) -> Option<&'a str> {
    trailwarden_plugin_sdk::json::str_at(raw?, path)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Whether the caller is IAM user `user` itself: its ARN ends in `/<user>` (a role session
/// named after the user counts, as in Panther), or it is the IAM user of that name.
pub(crate) fn caller_is_user(event: &Event, raw: &Value, user: &str) -> bool {
    let arn = non_empty(event.principal.arn.as_deref()).unwrap_or("");
    let arn_tail = arn.rsplit_once('/').map(|(_, tail)| tail);
    let own_user_name = (event.principal.r#type.as_deref() == Some("IAMUser"))
        .then(|| text_of(Some(raw), &["userIdentity", "userName"]))
        .flatten();
    [arn_tail, own_user_name]
        .into_iter()
        .flatten()
        .any(|name| name.eq_ignore_ascii_case(user))
}

/// `arn:<partition>:iam::<account>:<resource>`.
pub(crate) fn iam_arn(event: &Event, resource: &str) -> String {
    format!(
        "arn:{}:iam::{}:{resource}",
        event.partition(),
        event.account_or_unknown()
    )
}

/// A finding before it is tied to its event.
pub(crate) struct Draft {
    pub rule_id: &'static str,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub resources: Vec<String>,
    /// What the dedup key `<rule>:<account>:<subject>` groups by.
    pub subject: String,
    /// Facts added to the context every finding carries (a JSON object).
    pub extra: Value,
}

impl Draft {
    /// The finding of `event`.
    pub fn finish(self, event: &Event) -> Finding {
        let mut context = json!({
            "account": event.account_or_unknown(),
            "region": event.region,
            "event_source": event.source,
            "event_name": event.name,
            "event_time": event.time,
            "caller_arn": event.principal.arn,
            "caller_type": event.principal.r#type,
            "caller_access_key_id": non_empty(event.principal.access_key_id.as_deref()),
            "invoked_by": event.principal.invoked_by,
            "source_ip": event.source_ip,
            "user_agent": event.user_agent,
        });
        if let (Some(base), Value::Object(extra)) = (context.as_object_mut(), self.extra) {
            base.extend(extra);
        }
        Finding {
            rule_id: self.rule_id.to_owned(),
            severity: self.severity,
            title: self.title,
            description: self.description,
            resources: self.resources,
            dedup_key: format!(
                "{}:{}:{}",
                self.rule_id,
                event.account_or_unknown(),
                self.subject
            ),
            event_id: event.id.clone(),
            context: context.to_string(),
        }
    }
}
