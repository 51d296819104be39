//! `admin-policy-attached`: full administrator access was granted to an IAM user, role or
//! group; an attached `AdministratorAccess` is detached.
//!
//! One finding (`aws.iam.admin-policy-attached`, critical) per successful call to
//! `iam.amazonaws.com` that:
//! - attaches the AWS managed policy `AdministratorAccess` (`arn:<partition>:iam::aws:policy/
//!   AdministratorAccess`): `AttachUserPolicy`, `AttachRolePolicy`, `AttachGroupPolicy`;
//! - or puts an inline policy that allows every action on every resource: `PutUserPolicy`,
//!   `PutRolePolicy`, `PutGroupPolicy` whose `policyDocument` (JSON text, URL-encoded as
//!   CloudTrail often records it) has a statement with `"Effect": "Allow"`, `"Action": "*"`
//!   (or `"*:*"`) and `"Resource": "*"` (alone or in a list; conditions do not make it
//!   less so, they are noted in the context).
//!
//! Not judged: customer managed policies attached by ARN (their document is not in the
//! event), `NotAction`/`NotResource` statements, and policies that are admin in all but name
//! (e.g. `iam:*` on `*`).
//!
//! Response, for the attach cases: `iam.detach-user-policy`, `iam.detach-role-policy` or
//! `iam.detach-group-policy` (event, name, policy ARN); the inverse attaches it again. For an
//! inline policy: `iam.delete-inline-policy` (contract 0.6.0: event, kind, name, policy name);
//! the host records the document first and the inverse puts it back. The example
//! configuration puts these capabilities in `approve` mode: a person confirms each removal.

use trailwarden_plugin_sdk::capability::{
    log_receipt, PrincipalKind, IAM_DELETE_INLINE_POLICY, IAM_DETACH_GROUP_POLICY,
    IAM_DETACH_ROLE_POLICY, IAM_DETACH_USER_POLICY,
};
use trailwarden_plugin_sdk::json::{get_ci, policy_document};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    capitalize, Capabilities, Descriptor, Event, Finding, Rule, Severity,
};

/// The rule id of every finding of this plugin.
pub const RULE_ID: &str = "aws.iam.admin-policy-attached";

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[
    IAM_DETACH_USER_POLICY,
    IAM_DETACH_ROLE_POLICY,
    IAM_DETACH_GROUP_POLICY,
    IAM_DELETE_INLINE_POLICY,
];

const IAM: &str = "iam.amazonaws.com";

/// The event names this plugin looks at.
pub const EVENT_NAMES: &[&str] = &[
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
    "PutUserPolicy",
    "PutRolePolicy",
    "PutGroupPolicy",
];

/// The rule catalog: `aws.iam.admin-policy-attached`.
pub fn rules() -> Vec<Rule> {
    vec![Rule::new(
        RULE_ID,
        Severity::Critical,
        "Administrator access granted",
        &["T1098.003"],
        "The AWS managed policy `AdministratorAccess` was attached to an IAM user, role or \
         group, or an inline policy allowing every action on every resource was put on one. \
         An attached `AdministratorAccess` is detached with `iam.detach-user-policy`, \
         `iam.detach-role-policy` or `iam.detach-group-policy`, and an inline policy is \
         deleted with `iam.delete-inline-policy` (its document recorded for undo); the \
         example configuration holds each for approval.",
        "Confirm with the identity's owner that it needs full admin rights; if not, remove \
         the policy and review what the caller and the identity did since.",
        CAPABILITIES,
    )]
}

/// Name, version and the EventBridge pattern: the IAM calls in [`EVENT_NAMES`].
pub fn descriptor() -> Descriptor {
    let pattern = json!({"detail": {"eventSource": [IAM], "eventName": EVENT_NAMES}});
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![pattern.to_string()],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "attach-administrator-access.json",
            "inline-admin-policies.json",
            "not-admin.json",
        ],
        // It acts: trailwarden's own DetachRolePolicy (or PutRolePolicy, on undo) must not
        // come back to it.
        self_caused_events: false,
    }
}

/// The kind of IAM identity a policy went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Role,
    Group,
}

impl Kind {
    /// `user`, `role` or `group`, as in IAM ARNs.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Role => "role",
            Kind::Group => "group",
        }
    }

    /// The same kind, as the SDK's capability argument.
    pub fn principal_kind(self) -> PrincipalKind {
        match self {
            Kind::User => PrincipalKind::User,
            Kind::Role => PrincipalKind::Role,
            Kind::Group => PrincipalKind::Group,
        }
    }

    fn name_param(self) -> &'static str {
        match self {
            Kind::User => "userName",
            Kind::Role => "roleName",
            Kind::Group => "groupName",
        }
    }
}

/// How the access was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// The managed policy `AdministratorAccess`, by this ARN.
    Attached { policy_arn: String },
    /// An inline policy with this name; `conditional` when the admin statement has a
    /// `Condition`.
    Inline {
        policy_name: Option<String>,
        conditional: bool,
    },
}

/// A grant of full administrator access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminGrant {
    pub kind: Kind,
    /// The user, role or group, when the record names it.
    pub name: Option<String>,
    pub grant: Grant,
}

/// Whether `arn` is the AWS managed `AdministratorAccess` policy, in any partition.
pub fn is_administrator_access(arn: &str) -> bool {
    let mut parts = arn.trim().splitn(6, ':');
    let (prefix, partition) = (parts.next(), parts.next());
    prefix == Some("arn")
        && partition.is_some_and(|p| p.starts_with("aws"))
        && parts.collect::<Vec<_>>() == ["iam", "", "aws", "policy/AdministratorAccess"]
}

fn has_star(v: Option<&Value>, stars: &[&str]) -> bool {
    match v {
        Some(Value::String(s)) => stars.contains(&s.trim()),
        Some(Value::Array(list)) => list
            .iter()
            .any(|v| v.as_str().is_some_and(|s| stars.contains(&s.trim()))),
        _ => false,
    }
}

/// The statement of `doc` that allows every action on every resource, if any.
pub fn admin_statement(doc: &Value) -> Option<&Value> {
    let statements: Vec<&Value> = match get_ci(doc, "Statement")? {
        list @ Value::Array(_) => list.as_array().into_iter().flatten().collect(),
        one => vec![one],
    };
    statements.into_iter().find(|st| {
        get_ci(st, "Effect")
            .and_then(Value::as_str)
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("Allow"))
            && has_star(get_ci(st, "Action"), &["*", "*:*"])
            && has_star(get_ci(st, "Resource"), &["*"])
    })
}

/// The grant `event` made, if it gives full administrator access.
pub fn admin_grant(event: &Event) -> Option<AdminGrant> {
    if event.source.as_deref() != Some(IAM) || event.failed() {
        return None;
    }
    if !matches!(event.event_type.as_deref(), None | Some("AwsApiCall")) {
        return None;
    }
    let (attach, kind) = match event.name.as_deref()? {
        "AttachUserPolicy" => (true, Kind::User),
        "AttachRolePolicy" => (true, Kind::Role),
        "AttachGroupPolicy" => (true, Kind::Group),
        "PutUserPolicy" => (false, Kind::User),
        "PutRolePolicy" => (false, Kind::Role),
        "PutGroupPolicy" => (false, Kind::Group),
        _ => return None,
    };
    let raw = event.raw_json()?;
    let params = raw.get("requestParameters").filter(|p| p.is_object())?;
    let param = |key: &str| {
        get_ci(params, key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let grant = if attach {
        let policy_arn = param("policyArn").filter(|a| is_administrator_access(a))?;
        Grant::Attached { policy_arn }
    } else {
        let doc = policy_document(get_ci(params, "policyDocument")?)?;
        let statement = admin_statement(&doc)?;
        Grant::Inline {
            policy_name: param("policyName"),
            conditional: get_ci(statement, "Condition").is_some_and(|c| !c.is_null()),
        }
    };
    Some(AdminGrant {
        kind,
        name: param(kind.name_param()),
        grant,
    })
}

/// The findings for one event (none, or one).
pub fn detect(event: &Event) -> Vec<Finding> {
    admin_grant(event)
        .map(|g| finding(event, &g))
        .into_iter()
        .collect()
}

fn finding(event: &Event, g: &AdminGrant) -> Finding {
    let account = event.account_or_unknown();
    let kind = g.kind.as_str();
    let name = g.name.as_deref().unwrap_or("(unnamed)");
    let identity_arn = g
        .name
        .as_ref()
        .map(|n| format!("arn:{}:iam::{account}:{kind}/{n}", event.partition()));
    let mut resources: Vec<String> = identity_arn.into_iter().collect();
    let (title, how) = match &g.grant {
        Grant::Attached { policy_arn } => {
            resources.push(policy_arn.clone());
            (
                format!("AdministratorAccess attached to IAM {kind} {name} in account {account}"),
                format!("attached the managed policy {policy_arn} to IAM {kind} {name}"),
            )
        }
        Grant::Inline {
            policy_name,
            conditional,
        } => {
            let policy = policy_name.as_deref().unwrap_or("(unnamed)");
            let condition = if *conditional {
                " (under a condition)"
            } else {
                ""
            };
            (
                format!(
                    "Inline policy {policy} granting full administrator access put on IAM {kind} \
                     {name} in account {account}"
                ),
                format!(
                    "put the inline policy {policy} on IAM {kind} {name}, allowing every action \
                     on every resource{condition}"
                ),
            )
        }
    };
    let description = format!(
        "{} {how}, in account {account}, region {}, {}. Full administrator access lets the \
         holder do anything in the account, including hiding its tracks; granting it is a \
         common privilege-escalation and persistence step. Confirm that the grant is intended \
         and approved; if not, remove it and review what the {kind} and the caller did.",
        capitalize(&event.actor()),
        event.region_or_unknown(),
        event.origin()
    );
    let (policy_arn, policy_name, conditional) = match &g.grant {
        Grant::Attached { policy_arn } => (Some(policy_arn.as_str()), None, None),
        Grant::Inline {
            policy_name,
            conditional,
        } => (None, policy_name.as_deref(), Some(*conditional)),
    };
    let context = json!({
        "account": account,
        "region": event.region,
        "event_name": event.name,
        "identity_kind": kind,
        "identity_name": g.name,
        "policy_arn": policy_arn,
        "policy_name": policy_name,
        "conditional": conditional,
        "principal_arn": event.principal.arn,
        "source_ip": event.source_ip,
        "user_agent": event.user_agent,
        "event_time": event.time,
    });
    Finding {
        rule_id: RULE_ID.to_owned(),
        severity: Severity::Critical,
        title,
        description,
        resources,
        dedup_key: format!("{RULE_ID}:{account}:{kind}/{name}"),
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}

/// The response to `event`'s finding: detach an attached `AdministratorAccess`, delete an
/// admin inline policy.
pub fn respond(event: &Event, finding: &Finding, caps: &dyn Capabilities) {
    if finding.rule_id != RULE_ID {
        return;
    }
    let Some(AdminGrant {
        kind,
        name: Some(name),
        grant,
    }) = admin_grant(event)
    else {
        return;
    };
    let id = event.id.as_str();
    let policy_arn = match grant {
        Grant::Attached { policy_arn } => policy_arn,
        Grant::Inline {
            policy_name: Some(policy_name),
            ..
        } => {
            let receipt = caps.delete_inline_policy(id, kind.principal_kind(), &name, &policy_name);
            log_receipt(IAM_DELETE_INLINE_POLICY, id, receipt);
            return;
        }
        // No policy name in the record: nothing names what to delete.
        Grant::Inline {
            policy_name: None, ..
        } => return,
    };
    let (capability, receipt) = match kind {
        Kind::User => (
            IAM_DETACH_USER_POLICY,
            caps.detach_user_policy(id, &name, &policy_arn),
        ),
        Kind::Role => (
            IAM_DETACH_ROLE_POLICY,
            caps.detach_role_policy(id, &name, &policy_arn),
        ),
        Kind::Group => (
            IAM_DETACH_GROUP_POLICY,
            caps.detach_group_policy(id, &name, &policy_arn),
        ),
    };
    log_receipt(capability, id, receipt);
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, [`respond`] to each finding.
    AdminPolicyAttached {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: |_| rules(),
        detect: detect,
        respond: |event, finding, batch| respond(event, finding, batch.caps),
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrator_access_in_every_partition_only() {
        assert!(is_administrator_access(
            "arn:aws:iam::aws:policy/AdministratorAccess"
        ));
        assert!(is_administrator_access(
            "arn:aws-us-gov:iam::aws:policy/AdministratorAccess"
        ));
        assert!(!is_administrator_access(
            "arn:aws:iam::aws:policy/AdministratorAccess-Amplify"
        ));
        assert!(!is_administrator_access(
            "arn:aws:iam::123456789012:policy/AdministratorAccess"
        ));
        assert!(!is_administrator_access(
            "arn:aws:iam::aws:policy/job-function/SystemAdministrator"
        ));
    }

    #[test]
    fn admin_statements() {
        let admin = |doc: Value| admin_statement(&doc).is_some();
        assert!(admin(
            json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})
        ));
        assert!(admin(
            json!({"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
                                 {"Effect": "Allow", "Action": ["s3:GetObject", "*:*"], "Resource": ["*"]}]})
        ));
        assert!(!admin(
            json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
        ));
        assert!(!admin(
            json!({"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]})
        ));
        assert!(!admin(
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}]})
        ));
        assert!(!admin(
            json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]})
        ));
        assert!(!admin(json!({"Version": "2012-10-17"})));
    }
}
