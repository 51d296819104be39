//! Federation used to keep access: SAML providers and federation tokens.
//!
//! `aws.iam.saml-provider-changed` (medium): a successful `iam:CreateSAMLProvider`,
//! `UpdateSAMLProvider` or `DeleteSAMLProvider`. Whoever holds a provider's signing key can
//! sign in as any role that trusts the provider ("golden SAML"), so a new or re-keyed
//! provider is a way back in; a deleted one can cut the real users off. Changes made by IAM
//! Identity Center itself (the call `invokedBy` `sso.amazonaws.com`, or a session of its
//! service-linked role `aws-service-role/sso.amazonaws.com/AWSServiceRoleForSSO`) are left
//! out, as Panther's `AWS.Suspicious.SAML.Activity` does; changes through CloudFormation
//! are reported (Panther's tests too).
//!
//! `aws.sts.federation-token-issued` (medium): a successful `sts:GetFederationToken`. Only
//! an IAM user's (or the root user's) long-term keys can call it; the credentials it
//! returns last up to 36 hours, survive the deactivation or deletion of the key that
//! minted them, and can be turned into a console session. Few programs need it, so it is
//! reported every time; the dedup key (the calling principal) makes one incident of a
//! user's tokens. No Panther rule of the corpus corresponds.

use trailwarden_plugin_sdk::json::at;
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, non_empty, Event, Finding, Severity};

use crate::{
    api_call, region, text_of, Draft, FEDERATION_TOKEN_ISSUED, IAM, SAML_PROVIDER_CHANGED, STS,
};

/// IAM Identity Center's own calls.
fn by_identity_center(event: &Event) -> bool {
    event.principal.invoked_by.as_deref() == Some("sso.amazonaws.com")
        || event
            .principal
            .session_issuer_arn
            .as_deref()
            .is_some_and(|arn| arn.contains(":role/aws-service-role/sso.amazonaws.com/"))
}

/// The finding, if `event` changed a SAML provider.
pub fn detect_saml(event: &Event, raw: Option<&Value>) -> Option<Finding> {
    let (verb, past) = match event.name.as_deref()? {
        "CreateSAMLProvider" => ("create", "created"),
        "UpdateSAMLProvider" => ("update", "updated"),
        "DeleteSAMLProvider" => ("delete", "deleted"),
        _ => return None,
    };
    if event.source.as_deref() != Some(IAM)
        || event.failed()
        || !api_call(event)
        || by_identity_center(event)
    {
        return None;
    }
    let arn = text_of(raw, &["responseElements", "sAMLProviderArn"])
        .or_else(|| text_of(raw, &["requestParameters", "sAMLProviderArn"]));
    let name = text_of(raw, &["requestParameters", "name"])
        .or_else(|| arn.and_then(|a| a.rsplit_once(":saml-provider/").map(|(_, n)| n)));
    let label = match (arn, name) {
        (Some(arn), _) => arn.to_owned(),
        (None, Some(name)) => name.to_owned(),
        (None, None) => "(provider not recorded)".to_owned(),
    };
    let account = event.account_or_unknown();
    let actor = event.actor();
    let via = match non_empty(event.principal.invoked_by.as_deref()) {
        Some(service) => format!(" through {service}"),
        None => String::new(),
    };
    let title = format!(
        "SAML provider {} {past} by {actor} in account {account}",
        name.unwrap_or("(unnamed)")
    );
    let consequence = if verb == "delete" {
        "Users who sign in through it can no longer do so, and a provider deleted to be \
         created again with another key is a way to take over the roles that trust it."
    } else {
        "Whoever holds the signing key in its metadata can sign in as any role that trusts \
         it."
    };
    let description = format!(
        "{} {past} SAML identity provider {label}{via} in account {account}, region {}, {}. \
         {consequence} Check that the provider's metadata (signing certificate, issuer) is \
         your identity provider's, and which roles trust it.",
        capitalize(&actor),
        region(event),
        event.origin(),
    );
    Some(
        Draft {
            rule_id: SAML_PROVIDER_CHANGED,
            severity: Severity::Medium,
            title,
            description,
            resources: arn.map(str::to_owned).into_iter().collect(),
            subject: arn.or(name).unwrap_or("unknown-provider").to_owned(),
            extra: json!({
                "action": verb,
                "provider_arn": arn,
                "provider_name": name,
            }),
        }
        .finish(event),
    )
}

/// The finding, if `event` issued a federation token.
pub fn detect_token(event: &Event, raw: Option<&Value>) -> Option<Finding> {
    if !event.is(STS, "GetFederationToken") || event.failed() || !api_call(event) {
        return None;
    }
    let account = event.account_or_unknown();
    let actor = event.actor();
    let federated_arn = text_of(raw, &["responseElements", "federatedUser", "arn"]);
    let name = text_of(raw, &["requestParameters", "name"])
        .or_else(|| federated_arn.and_then(|a| a.rsplit_once(":federated-user/").map(|(_, n)| n)));
    let duration = raw
        .and_then(|r| at(r, &["requestParameters", "durationSeconds"]))
        .and_then(Value::as_u64);
    let temporary_key = text_of(raw, &["responseElements", "credentials", "accessKeyId"]);
    let lasting = match duration {
        Some(seconds) if seconds % 3600 == 0 => format!("valid for {} hours", seconds / 3600),
        Some(seconds) => format!("valid for {} minutes", seconds / 60),
        None => "valid for 12 hours (the default)".to_owned(),
    };
    let title = match name {
        Some(name) => {
            format!("Federation token for {name} issued to {actor} in account {account}")
        }
        None => format!("Federation token issued to {actor} in account {account}"),
    };
    let description = format!(
        "{} called GetFederationToken{} in account {account}, region {}, {}: temporary \
         credentials {lasting}{} that keep working after the access key that minted them is \
         deactivated or deleted, and that can open a console session. Attackers use it to \
         keep access to a stolen key. Check whether the user's software is known to call \
         it; if not, attach a deny-all policy to the user (it binds its federated sessions \
         too) and rotate its keys.",
        capitalize(&actor),
        name.map(|n| format!(" (federated user name {n})"))
            .unwrap_or_default(),
        region(event),
        event.origin(),
        temporary_key
            .map(|k| format!(" (access key {k})"))
            .unwrap_or_default(),
    );
    let caller = non_empty(event.principal.arn.as_deref());
    let mut resources: Vec<String> = caller.map(str::to_owned).into_iter().collect();
    resources.extend(federated_arn.map(str::to_owned));
    Some(
        Draft {
            rule_id: FEDERATION_TOKEN_ISSUED,
            severity: Severity::Medium,
            title,
            description,
            resources,
            subject: caller
                .or(non_empty(event.principal.access_key_id.as_deref()))
                .unwrap_or("unknown-caller")
                .to_owned(),
            extra: json!({
                "federated_user_name": name,
                "federated_user_arn": federated_arn,
                "duration_seconds": duration,
                "temporary_access_key_id": temporary_key,
            }),
        }
        .finish(event),
    )
}
