//! `console-no-mfa`: a successful AWS console sign-in without MFA.
//!
//! One finding (`aws.console.signin-without-mfa`) per `ConsoleLogin` event from
//! `signin.amazonaws.com` where:
//! - the sign-in succeeded: `responseElements.ConsoleLogin == "Success"` and no error;
//! - the person authenticated here, with a password: an `IAMUser` or the `Root` user
//!   (critical for root, high otherwise), or a role session minted from plain credentials
//!   (below);
//! - no MFA: `additionalEventData.MFAUsed` is not `Yes` (and for role sessions
//!   `sessionContext.attributes.mfaAuthenticated` is not true);
//! - not federated: no `SamlProviderArn`, no IAM Identity Center (`AWSReservedSSO_`) role,
//!   no `sourceIdentity` or web identity, not a `FederatedUser`/`SAMLUser`/`WebIdentityUser`.
//!   There the identity provider did the authentication, and CloudTrail cannot tell about
//!   its MFA.
//!
//! A console sign-in as an `AssumedRole` that shows none of these federation signs comes
//! from the federation endpoint (`GetSigninToken`) with role credentials obtained by an API
//! call: if that session was not created with MFA either, nobody used MFA anywhere on the
//! way to the console (the pattern of tools that turn stolen keys into a console session).
//!
//! Everything is read from the raw record: when `raw` is not JSON there is no finding.
//!
//! Response: each finding is sent with `notify.send` to the notify target named in the
//! plugin config (`{"notify_target": "..."}`, default `security-team`). No corrective
//! capability fits: the session already exists, and deleting the password or quarantining
//! the user would lock out a person who may only lack an MFA device.

use trailwarden_plugin_sdk::capability::NOTIFY_SEND;
use trailwarden_plugin_sdk::json::{at, boolish, str_at};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    capitalize, non_empty, Batch, Config, Descriptor, Event, Finding, Rule, Severity,
};

/// The rule id of every finding of this plugin.
pub const RULE_ID: &str = "aws.console.signin-without-mfa";

/// The capabilities it calls: `notify.send`.
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND];

/// Name, version and the EventBridge pattern: console sign-ins.
pub fn descriptor() -> Descriptor {
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![
            r#"{"detail":{"eventSource":["signin.amazonaws.com"],"eventName":["ConsoleLogin"]}}"#
                .to_owned(),
        ],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "eventbridge-envelope.json",
            "failed-sign-ins.json",
            "federated-sign-ins.json",
            "iam-user-without-mfa.json",
            "mfa-used.json",
            "not-console-login.json",
            "role-session-from-keys.json",
            "role-session-with-mfa.json",
            "root-without-mfa.json",
        ],
        // It acts: trailwarden's own sign-ins (if any) must not come back to it.
        self_caused_events: false,
    }
}

/// The rule catalog: `aws.console.signin-without-mfa`, naming the notify target of `config`.
pub fn rules(config: &Config) -> Vec<Rule> {
    vec![Rule::new(
        RULE_ID,
        Severity::High,
        "Console sign-in without MFA",
        &["T1078.004"],
        &format!(
            "A successful AWS console sign-in without MFA by an IAM user (high), the root \
             user (critical), or a role session minted from credentials that were not \
             created with MFA either (the way stolen access keys are turned into a console \
             session). Federated sign-ins (SAML, IAM Identity Center, web identity) are left \
             out: the identity provider did the authentication. Each finding is sent to {}.",
            config.notify_target()
        ),
        "Confirm with the person that the sign-in was theirs, then require MFA for the user \
         (or root), or find out who requested the role session's sign-in token.",
        &[NOTIFY_SEND],
    )]
}

/// Who signed in, as far as MFA is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Root,
    IamUser,
    /// A role session not created through an identity provider.
    RoleSession,
}

/// The findings for one event (none, or one `aws.console.signin-without-mfa`).
pub fn detect(event: &Event) -> Vec<Finding> {
    if !event.is("signin.amazonaws.com", "ConsoleLogin") || event.failed() {
        return Vec::new();
    }
    let Some(raw) = event.raw_json() else {
        return Vec::new();
    };
    if str_at(&raw, &["responseElements", "ConsoleLogin"]) != Some("Success") {
        return Vec::new();
    }
    if mfa_used(&raw) || federated(&raw) {
        return Vec::new();
    }
    let ptype = str_at(&raw, &["userIdentity", "type"]).or(event.principal.r#type.as_deref());
    let who = match ptype {
        Some("Root") => Who::Root,
        Some("IAMUser") => Who::IamUser,
        Some("AssumedRole") => {
            let session_mfa = at(
                &raw,
                &[
                    "userIdentity",
                    "sessionContext",
                    "attributes",
                    "mfaAuthenticated",
                ],
            )
            .and_then(boolish);
            if session_mfa == Some(true) {
                return Vec::new();
            }
            Who::RoleSession
        }
        // FederatedUser, SAMLUser, WebIdentityUser, IdentityCenterUser, AWSService, Unknown
        // (a failed sign-in of a user that does not exist), or no type: not ours.
        _ => return Vec::new(),
    };
    vec![finding(event, &raw, who)]
}

/// `additionalEventData.MFAUsed` says yes (any case).
fn mfa_used(raw: &Value) -> bool {
    at(raw, &["additionalEventData", "MFAUsed"]).and_then(boolish) == Some(true)
}

/// Signs that an identity provider (SAML, IAM Identity Center, OIDC) authenticated the
/// person, so the sign-in's own MFA field says nothing.
fn federated(raw: &Value) -> bool {
    let ui = raw.get("userIdentity").unwrap_or(&Value::Null);
    let sso = |s: Option<&str>| {
        s.is_some_and(|s| {
            s.contains("AWSReservedSSO_") || s.contains("/aws-reserved/sso.amazonaws.com/")
        })
    };
    str_at(raw, &["additionalEventData", "SamlProviderArn"]).is_some()
        || matches!(
            str_at(ui, &["type"]),
            Some("FederatedUser" | "SAMLUser" | "WebIdentityUser" | "IdentityCenterUser")
        )
        || sso(str_at(ui, &["arn"]))
        || sso(str_at(ui, &["sessionContext", "sessionIssuer", "arn"]))
        || sso(str_at(ui, &["sessionContext", "sessionIssuer", "userName"]))
        || str_at(ui, &["sessionContext", "sourceIdentity"]).is_some()
        || str_at(
            ui,
            &["sessionContext", "webIdFederationData", "federatedProvider"],
        )
        .is_some()
}

fn finding(event: &Event, raw: &Value, who: Who) -> Finding {
    let account = event.account_or_unknown();
    let partition = event.partition();
    let user = non_empty(event.principal.user_name.as_deref());
    let arn = non_empty(event.principal.arn.as_deref()).map(str::to_owned);
    let (principal_arn, label, severity) = match who {
        Who::Root => (
            arn.unwrap_or_else(|| format!("arn:{partition}:iam::{account}:root")),
            "the root user".to_owned(),
            Severity::Critical,
        ),
        Who::IamUser => {
            let name = user.unwrap_or("(unknown)");
            (
                arn.unwrap_or_else(|| format!("arn:{partition}:iam::{account}:user/{name}")),
                format!("IAM user {name}"),
                Severity::High,
            )
        }
        Who::RoleSession => {
            let arn = arn
                .or_else(|| event.principal.session_issuer_arn.clone())
                .unwrap_or_else(|| format!("arn:{partition}:iam::{account}:role/(unknown)"));
            let label = format!("role session {arn}");
            (arn, label, Severity::High)
        }
    };
    let mut resources = vec![principal_arn.clone()];
    if who == Who::RoleSession {
        if let Some(issuer) = non_empty(event.principal.session_issuer_arn.as_deref()) {
            if issuer != principal_arn {
                resources.push(issuer.to_owned());
            }
        }
    }
    let ip = non_empty(event.source_ip.as_deref()).unwrap_or("an unknown address");
    let region = non_empty(event.region.as_deref()).unwrap_or("an unknown region");
    let login_to = str_at(raw, &["additionalEventData", "LoginTo"]);
    let advice = match who {
        Who::Root => {
            "The root user has unrestricted access and should be protected by MFA; \
             enable an MFA device for it and confirm the sign-in was its owner's."
        }
        Who::IamUser => {
            "A password alone protected this console session; require MFA for the user \
             (or move people to an identity provider) and confirm the sign-in was theirs."
        }
        Who::RoleSession => {
            "The session was minted through the federation endpoint from role credentials \
             that were not created with MFA either; tools that turn stolen access keys into \
             console sessions do exactly this. Confirm who requested the sign-in token."
        }
    };
    let description = format!(
        "{} signed in to the AWS console of account {account} without MFA, from {ip} \
         (region {region}, user agent: {}). {advice}",
        capitalize(&label),
        non_empty(event.user_agent.as_deref()).unwrap_or("unknown"),
    );
    let context = json!({
        "account": account,
        "region": event.region,
        "principal_type": event.principal.r#type,
        "principal_arn": principal_arn,
        "user_name": user,
        "session_issuer_arn": event.principal.session_issuer_arn,
        "source_ip": event.source_ip,
        "user_agent": event.user_agent,
        "event_time": event.time,
        "login_to": login_to,
        "mfa_used": at(raw, &["additionalEventData", "MFAUsed"]).cloned(),
    });
    // One incident per person, or per role for role sessions (each session has its own name).
    let dedup_key = format!(
        "{RULE_ID}:{account}:{}",
        resources.last().unwrap_or(&principal_arn)
    );
    Finding {
        rule_id: RULE_ID.to_owned(),
        severity,
        title: format!("Console sign-in without MFA by {label} in account {account}"),
        description,
        resources,
        dedup_key,
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}

/// The response to one finding of `event`: send it to the notify target.
pub fn respond(event: &Event, finding: &Finding, batch: &Batch) {
    if finding.rule_id == RULE_ID {
        trailwarden_plugin_sdk::notify(event, finding, batch);
    }
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, [`respond`] to each finding.
    ConsoleNoMfa {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: rules,
        detect: detect,
        respond: respond,
    }
);
