//! Reconnaissance (accounts, SES, secrets in bulk) and VPC endpoint records.

use std::net::IpAddr;

use trailwarden_plugin_sdk::serde_json::Value;
use trailwarden_plugin_sdk::Severity;

use crate::spec::{always, text, Facts, Kind, Names, Spec};

/// Trusted Advisor checks SES quotas for every account: not reconnaissance.
fn not_trusted_advisor(f: &Facts) -> bool {
    let by = |s: Option<&str>| s.is_some_and(|s| s.contains("trustedadvisor.amazonaws.com"));
    !by(f.event.user_agent.as_deref()) && !by(f.event.source_ip.as_deref())
}

/// A batch read selected by filters alone, every one of them negated (`!tag`): it matches
/// every secret the caller can read.
fn catch_all(f: &Facts) -> bool {
    if f.param("secretIdList").is_some_and(|v| !v.is_null()) {
        return false;
    }
    let Some(filters) = f.param("filters").and_then(Value::as_array) else {
        return false;
    };
    !filters.is_empty()
        && filters.iter().all(|filter| {
            filter
                .get("values")
                .and_then(Value::as_array)
                .is_some_and(|vs| {
                    !vs.is_empty()
                        && vs
                            .iter()
                            .all(|v| text(Some(v)).is_some_and(|s| s.starts_with('!')))
                })
        })
}

fn vpce_denied(f: &Facts) -> bool {
    f.event.error_code.as_deref() == Some("VpceAccessDenied")
}

/// The caller's account is not the endpoint's.
fn external_principal(f: &Facts) -> bool {
    match (
        f.event.principal.account_id.as_deref(),
        f.field("vpcEndpointAccountId"),
    ) {
        (Some(caller), Some(endpoint)) => caller != endpoint,
        _ => false,
    }
}

fn public_ip(s: &str) -> bool {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_documentation()
                || ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
        }
        Ok(IpAddr::V6(ip)) => {
            !(ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00)
        }
        Err(_) => false,
    }
}

/// S3 object reads and writes through an endpoint from a public address.
fn s3_from_public_ip(f: &Facts) -> bool {
    f.event.source_ip.as_deref().is_some_and(public_ip)
}

/// Calls through a VPC endpoint that weaken logging, keys or access, or read secrets.
const SENSITIVE_THROUGH_ENDPOINT: &[&str] = &[
    "DeleteTrail",
    "PutEventSelectors",
    "StopLogging",
    "UpdateTrail",
    "CreateGrant",
    "DisableKey",
    "PutKeyPolicy",
    "ScheduleKeyDeletion",
    "DeleteBucketPolicy",
    "PutBucketAcl",
    "PutBucketPolicy",
    "PutBucketPublicAccessBlock",
    "BatchGetSecretValue",
    "GetSecretValue",
    "PutResourcePolicy",
    "ModifyInstanceAttribute",
    "ModifySnapshotAttribute",
    "ModifyImageAttribute",
];

pub const RULES: &[Spec] = &[
    Spec {
        id: "aws.account.discovery",
        severity: Severity::Info,
        title: "Account details or contacts read",
        technique: "T1087.004",
        sources: &[
            "organizations.amazonaws.com",
            "account.amazonaws.com",
            "billingconsole.amazonaws.com",
        ],
        names: Names::Exact(&[
            "DescribeAccount",
            "GetAlternateContact",
            "GetContactInformation",
        ]),
        kind: Kind::ApiOrConsole,
        attempts: false,
        when: always,
        threshold: None,
        why: "Reading an account's details and contacts tells an intruder whom alerts reach and which accounts exist.",
        runbook: "Check the caller is an administrator or an inventory tool; review its other discovery calls if not.",
    },
    Spec {
        id: "aws.ses.reconnaissance",
        severity: Severity::Info,
        title: "SES sending capacity or identities checked",
        technique: "T1526",
        sources: &["ses.amazonaws.com"],
        names: Names::Exact(&[
            "GetAccountSendingEnabled",
            "GetIdentityVerificationAttributes",
            "GetSendQuota",
            "ListIdentities",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: not_trusted_advisor,
        threshold: None,
        why: "Checking whether SES can send, how much, and from which verified identities is how stolen keys are vetted for spam and phishing.",
        runbook: "Check the caller runs mail for the account; if not, revoke its credentials and watch SES sending statistics.",
    },
    Spec {
        id: "aws.secretsmanager.batch-catch-all",
        severity: Severity::Medium,
        title: "Secrets read in bulk with a catch-all filter",
        technique: "T1555.006",
        sources: &["secretsmanager.amazonaws.com"],
        names: Names::Exact(&["BatchGetSecretValue"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: catch_all,
        threshold: None,
        why: "Negated filters alone select every secret the caller may read, in one call that looks like a single read.",
        runbook: "Treat the secrets returned as exposed: rotate them and revoke the caller's credentials if unexplained.",
    },
    Spec {
        id: "aws.vpce.access-denied",
        severity: Severity::Medium,
        title: "Access denied by a VPC endpoint policy",
        technique: "T1530",
        sources: &[],
        names: Names::Any,
        kind: Kind::VpcEndpoint,
        attempts: true,
        when: vpce_denied,
        threshold: None,
        why: "Something inside the network tried to reach a resource its endpoint policy forbids.",
        runbook: "Identify the caller and what it tried to reach; a workload probing other accounts' resources is compromised.",
    },
    Spec {
        id: "aws.vpce.external-principal",
        severity: Severity::Medium,
        title: "Another account's principal used a VPC endpoint",
        technique: "T1530",
        sources: &[],
        names: Names::Any,
        kind: Kind::VpcEndpoint,
        attempts: false,
        when: external_principal,
        threshold: None,
        why: "Credentials of another account were used from inside this account's network, e.g. to move data to it.",
        runbook: "Check the other account is a partner; if not, restrict the endpoint policy to the organisation (aws:PrincipalOrgID).",
    },
    Spec {
        id: "aws.vpce.s3-from-public-ip",
        severity: Severity::Medium,
        title: "S3 reached through a VPC endpoint from a public address",
        technique: "T1530",
        sources: &["s3.amazonaws.com"],
        names: Names::Any,
        kind: Kind::VpcEndpoint,
        attempts: false,
        when: s3_from_public_ip,
        threshold: None,
        why: "Endpoint traffic should come from private addresses; a public one is unexpected routing or spoofing.",
        runbook: "Check the network path of the address; restrict the endpoint policy and bucket policies by aws:SourceVpce.",
    },
    Spec {
        id: "aws.vpce.sensitive-call",
        severity: Severity::Medium,
        title: "Sensitive call made through a VPC endpoint",
        technique: "T1562.008",
        sources: &[
            "cloudtrail.amazonaws.com",
            "ec2.amazonaws.com",
            "kms.amazonaws.com",
            "s3.amazonaws.com",
            "secretsmanager.amazonaws.com",
        ],
        names: Names::Exact(SENSITIVE_THROUGH_ENDPOINT),
        kind: Kind::VpcEndpoint,
        attempts: false,
        when: always,
        threshold: None,
        why: "Logging, keys, bucket access or secrets were changed or read from inside the network, a sign of a compromised workload moving laterally.",
        runbook: "Identify the workload behind the endpoint and its credentials; review the call's effect and revert it if unexpected.",
    },
];

#[cfg(test)]
mod tests {
    use super::public_ip;

    #[test]
    fn public_addresses() {
        assert!(public_ip("8.8.8.8"));
        assert!(!public_ip("10.0.0.1"));
        assert!(!public_ip("100.64.1.1"));
        assert!(!public_ip("s3.amazonaws.com"));
        assert!(public_ip("2600:1f18::1"));
        assert!(!public_ip("fd00::1"));
    }
}
