//! Bursts: calls harmless once and telling in numbers (user data and Windows passwords
//! read, SSH keys pushed, objects deleted one by one, secrets read in batches), counted per
//! principal in host state.

use trailwarden_plugin_sdk::Severity;

use crate::spec::{always, Facts, Kind, Names, Spec, Threshold};

const HOUR: u32 = 3600;

/// A person or workload asking, not an AWS service acting for one (CloudFormation,
/// Config and scanners that read every instance's attributes).
fn not_a_service(f: &Facts) -> bool {
    let invoked = f
        .event
        .principal
        .invoked_by
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty());
    let from_service = f
        .event
        .source_ip
        .as_deref()
        .is_some_and(|ip| ip.ends_with(".amazonaws.com"));
    !invoked && !from_service
}

fn user_data(f: &Facts) -> bool {
    f.param_str("attribute") == Some("userData") && not_a_service(f)
}

pub const RULES: &[Spec] = &[
    Spec {
        id: "aws.ec2.user-data-read-burst",
        severity: Severity::Medium,
        title: "User data of many EC2 instances read",
        technique: "T1552",
        sources: &["ec2.amazonaws.com"],
        names: Names::Exact(&["DescribeInstanceAttribute"]),
        kind: Kind::ApiCall,
        attempts: true,
        when: user_data,
        threshold: Some(Threshold {
            count: 10,
            window_seconds: HOUR,
        }),
        why: "Instance user data often holds bootstrap secrets; reading it across instances, allowed or denied, is credential hunting.",
        runbook: "Check the caller is an inventory tool; if not, rotate secrets found in the instances' user data and revoke the caller's credentials.",
    },
    Spec {
        id: "aws.ec2.password-data-read-burst",
        severity: Severity::Low,
        title: "Windows passwords of EC2 instances read repeatedly",
        technique: "T1552",
        sources: &["ec2.amazonaws.com"],
        names: Names::Exact(&["GetPasswordData"]),
        kind: Kind::ApiCall,
        attempts: true,
        when: always,
        threshold: Some(Threshold {
            count: 30,
            window_seconds: HOUR,
        }),
        why: "An instance's administrator password is rarely needed more than a few times an hour; many reads are harvesting.",
        runbook: "Check who needs the passwords; if unexplained, change the instances' administrator passwords and revoke the caller's credentials.",
    },
    Spec {
        id: "aws.ec2.ssh-keys-pushed",
        severity: Severity::Medium,
        title: "SSH keys pushed to EC2 instances repeatedly",
        technique: "T1098.004",
        sources: &["ec2-instance-connect.amazonaws.com"],
        names: Names::Exact(&["SendSSHPublicKey"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: Some(Threshold {
            count: 2,
            window_seconds: HOUR,
        }),
        why: "EC2 Instance Connect lets a caller log in with a key of its choice; pushing keys again and again, or to many instances, is lateral movement.",
        runbook: "Check the sessions on the instances named; restrict ec2-instance-connect:SendSSHPublicKey to the people who need it.",
    },
    Spec {
        id: "aws.s3.object-deletion-burst",
        severity: Severity::Low,
        title: "Many S3 objects deleted one by one",
        technique: "T1485",
        sources: &["s3.amazonaws.com"],
        names: Names::Exact(&["DeleteObject"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: Some(Threshold {
            count: 50,
            window_seconds: HOUR,
        }),
        why: "Deleting objects in numbers (data event) destroys data, or clears the way for ransom.",
        runbook: "Check the caller is a clean-up job; if not, restore from versions or replicas and revoke its credentials.",
    },
    Spec {
        id: "aws.secretsmanager.batch-read-burst",
        severity: Severity::Medium,
        title: "Secrets read in batches repeatedly",
        technique: "T1555.006",
        sources: &["secretsmanager.amazonaws.com"],
        names: Names::Exact(&["BatchGetSecretValue"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: Some(Threshold {
            count: 5,
            window_seconds: HOUR,
        }),
        why: "Each batch call returns up to twenty secrets; repeated batches, often region after region, collect the account's secrets.",
        runbook: "Treat the secrets returned as exposed: rotate them and revoke the caller's credentials if unexplained.",
    },
];
