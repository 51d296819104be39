//! IAM, root, STS and sign-in: changes to identities and their credentials.

use trailwarden_plugin_sdk::Severity;

use crate::spec::{always, text, Facts, Kind, Names, Spec};

const IAM: &[&str] = &["iam.amazonaws.com"];

/// IAM calls that read or test, not change.
const READ_PREFIXES: &[&str] = &["Get", "List", "Describe", "Generate", "Simulate"];

fn iam_change(f: &Facts) -> bool {
    let name = f.name();
    !name.is_empty() && !READ_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// AWS's own quarantine of a leaked key: the managed `AWSCompromisedKeyQuarantine*` policy
/// attached, or an inline policy of those names or `AWSExposedCredentialPolicy_DO_NOT_REMOVE`
/// put on the user.
fn quarantined(f: &Facts) -> bool {
    let managed = f
        .param_str("policyArn")
        .is_some_and(|arn| arn.contains(":policy/AWSCompromisedKeyQuarantine"));
    let inline = f.name() == "PutUserPolicy"
        && f.param_str("policyName").is_some_and(|n| {
            n.starts_with("AWSExposedCredentialPolicy")
                || n.starts_with("AWSCompromisedKeyQuarantine")
        });
    managed || inline
}

fn root(f: &Facts) -> bool {
    f.event.principal.r#type.as_deref() == Some("Root")
}

/// The root user made a key for itself (no `userName`: the caller's own key).
fn root_own_key(f: &Facts) -> bool {
    root(f) && f.param_str("userName").is_none()
}

fn root_password_updated(f: &Facts) -> bool {
    root(f) && text(f.response("PasswordUpdated")) == Some("Success")
}

fn iam_user(f: &Facts) -> bool {
    f.event.principal.r#type.as_deref() == Some("IAMUser")
}

/// Not from the IAM Identity Center portal, which asks for sign-in tokens for its users.
fn signin_token_outside_sso(f: &Facts) -> bool {
    let arn = f.event.principal.arn.as_deref().unwrap_or("");
    let agent = f.event.user_agent.as_deref().unwrap_or("");
    !arn.contains("/AWSReservedSSO_") && !agent.starts_with("Jersey/")
}

pub const RULES: &[Spec] = &[
    Spec {
        id: "aws.iam.changed",
        severity: Severity::Info,
        title: "IAM configuration changed",
        technique: "T1098",
        sources: IAM,
        names: Names::AnyBut(READ_PREFIXES),
        kind: Kind::ApiCall,
        attempts: false,
        when: iam_change,
        threshold: None,
        why: "Any successful IAM call that is not a read: a view of how often identities and permissions change.",
        runbook: "Review against change tickets; the more specific identity rules say which changes matter most.",
    },
    Spec {
        id: "aws.iam.key-quarantined-by-aws",
        severity: Severity::High,
        title: "AWS quarantined a leaked access key",
        technique: "T1078.004",
        sources: IAM,
        names: Names::Exact(&[
            "AttachGroupPolicy",
            "AttachRolePolicy",
            "AttachUserPolicy",
            "PutUserPolicy",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: quarantined,
        threshold: None,
        why: "AWS found the user's access key exposed in public and denied its riskiest actions; someone else may hold the key.",
        runbook: "Deactivate and delete the key, review what it did (CloudTrail by access key id), then remove the quarantine policy as AWS's support case says.",
    },
    Spec {
        id: "aws.iam.role-created",
        severity: Severity::Info,
        title: "IAM role created",
        technique: "T1098.003",
        sources: IAM,
        names: Names::Exact(&["CreateRole"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "A new identity that can be assumed; identity-changes reports trust policies open to other accounts.",
        runbook: "Check the role's trust policy and permissions match its purpose.",
    },
    Spec {
        id: "aws.iam.policy-changed",
        severity: Severity::Info,
        title: "IAM policy changed",
        technique: "T1098.003",
        sources: IAM,
        names: Names::Exact(&[
            "AttachGroupPolicy",
            "AttachRolePolicy",
            "AttachUserPolicy",
            "CreatePolicy",
            "CreatePolicyVersion",
            "DeleteGroupPolicy",
            "DeletePolicy",
            "DeletePolicyVersion",
            "DeleteRolePolicy",
            "DeleteUserPolicy",
            "DetachGroupPolicy",
            "DetachRolePolicy",
            "DetachUserPolicy",
            "PutGroupPolicy",
            "PutRolePolicy",
            "PutUserPolicy",
            "SetDefaultPolicyVersion",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "What an identity may do changed (admin-policy-attached reports administrator grants).",
        runbook: "Check the policy change against a reviewed request; revert it if not.",
    },
    Spec {
        id: "aws.iam.credentials-created",
        severity: Severity::Info,
        title: "IAM user, password or access key created or changed",
        technique: "T1098.001",
        sources: IAM,
        names: Names::Exact(&[
            "ChangePassword",
            "CreateAccessKey",
            "CreateLoginProfile",
            "CreateUser",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "New long-lived credentials, or a changed password, are how access is kept.",
        runbook: "Check the user or key has an owner and a reason; deactivate it if not.",
    },
    Spec {
        id: "aws.root.access-key-created",
        severity: Severity::Critical,
        title: "Access key created for the root user",
        technique: "T1098.001",
        sources: IAM,
        names: Names::Exact(&["CreateAccessKey"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: root_own_key,
        threshold: None,
        why: "The root user now has programmatic credentials, which no policy can limit.",
        runbook: "Delete the key at once (root sign-in, Security credentials), rotate the root password and MFA, and review the root user's activity.",
    },
    Spec {
        id: "aws.root.password-changed",
        severity: Severity::High,
        title: "Root user password changed",
        technique: "T1098",
        sources: &["signin.amazonaws.com"],
        names: Names::Exact(&["PasswordUpdated"]),
        kind: Kind::ConsoleSignIn,
        attempts: false,
        when: root_password_updated,
        threshold: None,
        why: "Whoever changed it now controls the account's most powerful identity.",
        runbook: "Confirm with the account owner; if not them, recover the root user through AWS support and review root activity.",
    },
    Spec {
        id: "aws.sts.session-token-by-user",
        severity: Severity::Low,
        title: "Session token obtained by an IAM user",
        technique: "T1550.001",
        sources: &["sts.amazonaws.com"],
        names: Names::Exact(&["GetSessionToken"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: iam_user,
        threshold: None,
        why: "Temporary credentials made from a user's key outlive the key's deactivation: a way to keep access after it is revoked.",
        runbook: "Check the user's tooling needs it (MFA-protected CLI); if not, revoke the user's sessions (deny by aws:TokenIssueTime) and rotate the key.",
    },
    Spec {
        id: "aws.signin.token-outside-sso",
        severity: Severity::Medium,
        title: "Console sign-in token made from API credentials",
        technique: "T1550.001",
        sources: &["signin.amazonaws.com"],
        names: Names::Exact(&["GetSigninToken"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: signin_token_outside_sso,
        threshold: None,
        why: "Tools like aws_consoler turn stolen API credentials into a console session this way, hiding the original key.",
        runbook: "Identify the credentials behind the session; revoke them and review the console session's actions.",
    },
    Spec {
        id: "aws.sso.device-code-token",
        severity: Severity::Info,
        title: "IAM Identity Center token issued through the device code flow",
        technique: "T1528",
        sources: &["sso.amazonaws.com", "sso-oauth.amazonaws.com"],
        names: Names::Exact(&["CreateToken"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: device_code,
        threshold: None,
        why: "The device code flow is how the CLI signs in, and how device-code phishing steals a session.",
        runbook: "Check the user started a CLI sign-in from the source address; if not, revoke the user's sessions.",
    },
];

fn device_code(f: &Facts) -> bool {
    f.param_str("grantType")
        .is_some_and(|g| g.ends_with(":device_code"))
}
