//! `report cis`: the CIS AWS Foundations Benchmark monitoring controls (4.1-4.15 in the
//! v1.4.0-v5.0.0 numbering, 5.1-5.15 in v6.0.0 and v7.0.0), which rules implement each,
//! what fired, and a status per account and region.
//!
//! Each control ships an EventBridge pattern equivalent to its published CloudWatch Logs
//! metric filter, so a control no rule covers can still be watched (`trailwarden pattern
//! test`, or a plugin's `patterns` override). 4.1 follows v5.0.0's filter: the v1.4-v3.0
//! text joined its exclusions with `||`, which matches almost every event.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::queries::{ActionFact, FindingFacts, Volume};
use super::Period;
use crate::rule_row::RuleRow;

/// One monitoring control.
#[derive(Debug, Clone, Copy)]
pub struct Control {
    /// Number in v1.4.0, v1.5.0, v2.0.0, v3.0.0 and v5.0.0 (section 4, Monitoring).
    pub id: &'static str,
    /// Number in v6.0.0 (Monitoring moved to section 5) and in v7.0.0, which keeps it: its
    /// section 5 lists the same fifteen controls as 5.1-5.15 in the same order (checked
    /// against the v7.0.0 recommendation list, titles and filter patterns).
    pub v6: &'static str,
    pub title: &'static str,
    /// The published CloudWatch Logs metric filter (v3.0.0; v5.0.0 for 4.1).
    pub metric_filter: &'static str,
    /// Its EventBridge equivalent, on the CloudTrail event's EventBridge form.
    pub pattern: &'static str,
    /// Rules (ids from the plugins' catalogs) that alert on what the control watches.
    pub rules: &'static [&'static str],
    /// How much of the filter the rules cover: `full`, or what they leave out.
    pub coverage: &'static str,
}

/// The fifteen controls.
pub const CONTROLS: &[Control] = &[
    Control {
        id: "4.1",
        v6: "5.1",
        title: "Unauthorized API calls are monitored",
        metric_filter: r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") && ($.sourceIPAddress != "delivery.logs.amazonaws.com") && ($.eventName != "HeadBucket") }"#,
        pattern: r#"{"detail": {"errorCode": [{"wildcard": "*UnauthorizedOperation"}, {"prefix": "AccessDenied"}], "sourceIPAddress": [{"anything-but": "delivery.logs.amazonaws.com"}], "eventName": [{"anything-but": "HeadBucket"}]}}"#,
        rules: &["aws.credentials.access-denied-burst"],
        coverage: "partial: alerts on bursts of denied calls from one principal, not on each one",
    },
    Control {
        id: "4.2",
        v6: "5.2",
        title: "Management console sign-in without MFA is monitored",
        metric_filter: r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }"#,
        pattern: r#"{"detail": {"eventName": ["ConsoleLogin"], "additionalEventData": {"MFAUsed": [{"anything-but": "Yes"}]}, "userIdentity": {"type": ["IAMUser"]}, "responseElements": {"ConsoleLogin": ["Success"]}}}"#,
        rules: &[
            "aws.console.signin-without-mfa",
            "sigma.77caf516-34e5-4df9-b4db-20744fea0a60",
        ],
        coverage: "full",
    },
    Control {
        id: "4.3",
        v6: "5.3",
        title: "Usage of the 'root' account is monitored",
        metric_filter: r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#,
        pattern: r#"{"detail": {"userIdentity": {"type": ["Root"], "invokedBy": [{"exists": false}]}, "eventType": [{"anything-but": "AwsServiceEvent"}]}}"#,
        rules: &[
            "aws.root.usage",
            "aws.root.read-only-usage",
            "aws.root.console-signin-failed",
            "sigma.8ad1600d-e9dc-4251-b0ee-a65268f29add",
        ],
        coverage: "full",
    },
    Control {
        id: "4.4",
        v6: "5.4",
        title: "IAM policy changes are monitored",
        metric_filter: r#"{($.eventSource=iam.amazonaws.com) && (($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||($.eventName=DetachGroupPolicy))}"#,
        pattern: r#"{"detail": {"eventSource": ["iam.amazonaws.com"], "eventName": ["DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy", "PutRolePolicy", "PutUserPolicy", "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion", "AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy"]}}"#,
        rules: &["aws.iam.admin-policy-attached"],
        coverage: "partial: alerts when administrator access is granted, not on every policy change",
    },
    Control {
        id: "4.5",
        v6: "5.5",
        title: "CloudTrail configuration changes are monitored",
        metric_filter: r#"{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }"#,
        pattern: r#"{"detail": {"eventName": ["CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging"]}}"#,
        rules: &[
            "aws.cloudtrail.stopped",
            "aws.cloudtrail.deleted",
            "aws.cloudtrail.updated",
            "aws.cloudtrail.selectors-narrowed",
            "sigma.4db60cc0-36fb-42b7-9b58-a5b53019fb74",
        ],
        coverage: "full",
    },
    Control {
        id: "4.6",
        v6: "5.6",
        title: "AWS Management Console authentication failures are monitored",
        metric_filter: r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#,
        pattern: r#"{"detail": {"eventName": ["ConsoleLogin"], "errorMessage": ["Failed authentication"]}}"#,
        rules: &[
            "aws.console.brute-force",
            "aws.root.console-signin-failed",
            "sigma.6393e346-1977-46ef-8987-ad414a145fad",
        ],
        coverage: "full",
    },
    Control {
        id: "4.7",
        v6: "5.7",
        title: "Disabling or scheduled deletion of customer created CMKs is monitored",
        metric_filter: r#"{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }"#,
        pattern: r#"{"detail": {"eventSource": ["kms.amazonaws.com"], "eventName": ["DisableKey", "ScheduleKeyDeletion"]}}"#,
        rules: &["aws.kms.key-loss"],
        coverage: "full",
    },
    Control {
        id: "4.8",
        v6: "5.8",
        title: "S3 bucket policy changes are monitored",
        metric_filter: r#"{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = DeleteBucketReplication)) }"#,
        pattern: r#"{"detail": {"eventSource": ["s3.amazonaws.com"], "eventName": ["PutBucketAcl", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle", "PutBucketReplication", "DeleteBucketPolicy", "DeleteBucketCors", "DeleteBucketLifecycle", "DeleteBucketReplication"]}}"#,
        rules: &["aws.s3.bucket-policy-public", "aws.s3.bucket-acl-public"],
        coverage: "partial: alerts when a policy or ACL makes a bucket public, not on every change",
    },
    Control {
        id: "4.9",
        v6: "5.9",
        title: "AWS Config configuration changes are monitored",
        metric_filter: r#"{ ($.eventSource = config.amazonaws.com) && (($.eventName=StopConfigurationRecorder)||($.eventName=DeleteDeliveryChannel)||($.eventName=PutDeliveryChannel)||($.eventName=PutConfigurationRecorder)) }"#,
        pattern: r#"{"detail": {"eventSource": ["config.amazonaws.com"], "eventName": ["StopConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel", "PutConfigurationRecorder"]}}"#,
        rules: &[
            "aws.config.recording-stopped",
            "sigma.07330162-dba1-4746-8121-a9647d49d297",
        ],
        coverage: "partial: alerts on recording stopped or deleted, not on Put* changes",
    },
    Control {
        id: "4.10",
        v6: "5.10",
        title: "Security group changes are monitored",
        metric_filter: r#"{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }"#,
        pattern: r#"{"detail": {"eventName": ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress", "CreateSecurityGroup", "DeleteSecurityGroup"]}}"#,
        rules: &[
            "aws.ec2.security-group-open-to-world",
            "sigma.6fb77778-040f-4015-9440-572aa9b6b580",
        ],
        coverage: "full with the sigma rule; aws.ec2.security-group-open-to-world alone only for openings to the internet",
    },
    Control {
        id: "4.11",
        v6: "5.11",
        title: "Network Access Control List (NACL) changes are monitored",
        metric_filter: r#"{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }"#,
        pattern: r#"{"detail": {"eventName": ["CreateNetworkAcl", "CreateNetworkAclEntry", "DeleteNetworkAcl", "DeleteNetworkAclEntry", "ReplaceNetworkAclEntry", "ReplaceNetworkAclAssociation"]}}"#,
        rules: &[
            "aws.ec2.network-acl-open-to-world",
            "sigma.e1f7febb-7b94-4234-b5c6-00fb8500f5dd",
        ],
        coverage: "partial: new entries and openings to the internet, not deletions or associations",
    },
    Control {
        id: "4.12",
        v6: "5.12",
        title: "Changes to network gateways are monitored",
        metric_filter: r#"{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || ($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || ($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }"#,
        pattern: r#"{"detail": {"eventName": ["CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway", "CreateInternetGateway", "DeleteInternetGateway", "DetachInternetGateway"]}}"#,
        rules: &[],
        coverage: "none: no shipped rule; the pattern is shipped",
    },
    Control {
        id: "4.13",
        v6: "5.13",
        title: "Route table changes are monitored",
        metric_filter: r#"{($.eventSource = ec2.amazonaws.com) && (($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable)) }"#,
        pattern: r#"{"detail": {"eventSource": ["ec2.amazonaws.com"], "eventName": ["CreateRoute", "CreateRouteTable", "ReplaceRoute", "ReplaceRouteTableAssociation", "DeleteRouteTable", "DeleteRoute", "DisassociateRouteTable"]}}"#,
        rules: &["sigma.c803b2ce-c4a2-4836-beae-b112010390b1"],
        coverage: "partial: new routes only",
    },
    Control {
        id: "4.14",
        v6: "5.14",
        title: "VPC changes are monitored",
        metric_filter: r#"{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = ModifyVpcAttribute) || ($.eventName = AcceptVpcPeeringConnection) || ($.eventName = CreateVpcPeeringConnection) || ($.eventName = DeleteVpcPeeringConnection) || ($.eventName = RejectVpcPeeringConnection) || ($.eventName = AttachClassicLinkVpc) || ($.eventName = DetachClassicLinkVpc) || ($.eventName = DisableVpcClassicLink) || ($.eventName = EnableVpcClassicLink) }"#,
        pattern: r#"{"detail": {"eventName": ["CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "AcceptVpcPeeringConnection", "CreateVpcPeeringConnection", "DeleteVpcPeeringConnection", "RejectVpcPeeringConnection", "AttachClassicLinkVpc", "DetachClassicLinkVpc", "DisableVpcClassicLink", "EnableVpcClassicLink"]}}"#,
        rules: &[],
        coverage: "none: no shipped rule; the pattern is shipped",
    },
    Control {
        id: "4.15",
        v6: "5.15",
        title: "AWS Organizations changes are monitored",
        metric_filter: r#"{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = "AcceptHandshake") || ($.eventName = "AttachPolicy") || ($.eventName = "CreateAccount") || ($.eventName = "CreateOrganizationalUnit") || ($.eventName = "CreatePolicy") || ($.eventName = "DeclineHandshake") || ($.eventName = "DeleteOrganization") || ($.eventName = "DeleteOrganizationalUnit") || ($.eventName = "DeletePolicy") || ($.eventName = "DetachPolicy") || ($.eventName = "DisablePolicyType") || ($.eventName = "EnablePolicyType") || ($.eventName = "InviteAccountToOrganization") || ($.eventName = "LeaveOrganization") || ($.eventName = "MoveAccount") || ($.eventName = "RemoveAccountFromOrganization") || ($.eventName = "UpdatePolicy") || ($.eventName = "UpdateOrganizationalUnit")) }"#,
        pattern: r#"{"detail": {"eventSource": ["organizations.amazonaws.com"], "eventName": ["AcceptHandshake", "AttachPolicy", "CreateAccount", "CreateOrganizationalUnit", "CreatePolicy", "DeclineHandshake", "DeleteOrganization", "DeleteOrganizationalUnit", "DeletePolicy", "DetachPolicy", "DisablePolicyType", "EnablePolicyType", "InviteAccountToOrganization", "LeaveOrganization", "MoveAccount", "RemoveAccountFromOrganization", "UpdatePolicy", "UpdateOrganizationalUnit"]}}"#,
        rules: &["aws.organizations.account-left"],
        coverage: "partial: an account leaving or removed, not other organization changes",
    },
];

/// Where a control stands for one account and region, or overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// A loaded rule implements it, events arrived, nothing fired.
    MonitoredQuiet,
    /// A loaded rule implements it and fired.
    MonitoredAlerts,
    /// No loaded rule implements it.
    NotMonitored,
    /// No events arrived from there in the period: the control cannot be claimed.
    NoData,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::MonitoredQuiet => "monitored-quiet",
            Status::MonitoredAlerts => "monitored-alerts",
            Status::NotMonitored => "not-monitored",
            Status::NoData => "no-data",
        }
    }
}

/// A control's evidence for one account and region.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Evidence {
    pub account: String,
    pub region: String,
    /// Events received from there in the period (all events, not only matching ones:
    /// the audit store keeps findings, not events).
    pub events: u64,
    /// Findings of the implementing rules.
    pub findings: u64,
    /// Actions those findings' events caused.
    pub actions: u64,
    pub status: Status,
}

/// One control in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    pub id: String,
    pub v5: String,
    pub v6: String,
    /// Number in v7.0.0: v7.0.0 keeps v6.0.0's section 5 numbering for all fifteen controls.
    pub v7: Option<String>,
    pub title: String,
    pub metric_filter: String,
    pub pattern: serde_json::Value,
    /// Implementing rules loaded and active in this configuration.
    pub implemented_by: Vec<String>,
    /// Implementing rules the benchmark mapping names that are not loaded here.
    pub rules_not_loaded: Vec<String>,
    pub coverage: String,
    /// "Events that matched": the findings of its rules. Where no rule is loaded, this is
    /// zero and `note` says the pattern's matches are not counted.
    pub findings: u64,
    pub actions: u64,
    pub status: Status,
    pub note: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// `report cis`.
#[derive(Debug, Clone, Serialize)]
pub struct CisReport {
    pub period: Period,
    pub account: Option<String>,
    pub generated_at: String,
    /// Events received per account and region in the period.
    pub scopes: Vec<Volume>,
    pub controls: Vec<ControlResult>,
}

/// Builds the CIS report.
pub fn build(
    period: &Period,
    account: Option<&str>,
    rules: &[RuleRow],
    findings: &[FindingFacts],
    actions: &[ActionFact],
    volume: &[Volume],
) -> CisReport {
    let active: HashSet<&str> = rules
        .iter()
        .filter(|r| r.reason.is_none())
        .map(|r| r.id.as_str())
        .collect();
    // Events per (account, region), over every source.
    let mut events: BTreeMap<(String, String), u64> = BTreeMap::new();
    for v in volume {
        *events
            .entry((v.account.clone(), v.region.clone()))
            .or_default() += v.events;
    }
    let scope_of = |f: &FindingFacts| {
        (
            f.account.clone().unwrap_or_else(|| "unknown".into()),
            f.region.clone().unwrap_or_else(|| "unknown".into()),
        )
    };
    let mut scopes: BTreeSet<(String, String)> = events.keys().cloned().collect();
    scopes.extend(findings.iter().map(scope_of));
    if scopes.is_empty() {
        if let Some(account) = account {
            scopes.insert((account.to_string(), "*".to_string()));
        }
    }
    // Actions a rule's plugin called for the event of a finding.
    let mut actions_by_event: HashMap<(&str, &str), u64> = HashMap::new();
    for a in actions {
        *actions_by_event
            .entry((a.plugin.as_str(), a.event_id.as_str()))
            .or_default() += 1;
    }
    let controls = CONTROLS
        .iter()
        .map(|control| {
            let implemented_by: Vec<String> = control
                .rules
                .iter()
                .filter(|r| active.contains(**r))
                .map(|r| r.to_string())
                .collect();
            let rules_not_loaded = control
                .rules
                .iter()
                .filter(|r| !active.contains(**r))
                .map(|r| r.to_string())
                .collect();
            let mine: Vec<&FindingFacts> = findings
                .iter()
                .filter(|f| control.rules.contains(&f.finding.rule_id.as_str()))
                .collect();
            let evidence: Vec<Evidence> = scopes
                .iter()
                .map(|scope| {
                    let here: Vec<&&FindingFacts> =
                        mine.iter().filter(|f| scope_of(f) == *scope).collect();
                    let scope_events = events.get(scope).copied().unwrap_or(0);
                    let findings = here.len() as u64;
                    let actions = distinct_events(here.iter().map(|f| &***f))
                        .iter()
                        .map(|key| actions_by_event.get(key).copied().unwrap_or(0))
                        .sum();
                    Evidence {
                        account: scope.0.clone(),
                        region: scope.1.clone(),
                        events: scope_events,
                        findings,
                        actions,
                        status: status(!implemented_by.is_empty(), scope_events, findings),
                    }
                })
                .collect();
            let total_events: u64 = evidence.iter().map(|e| e.events).sum();
            let findings_total = mine.len() as u64;
            let note = implemented_by.is_empty().then(|| {
                "no loaded rule implements this control: its events are not counted (the \
                 audit store keeps findings, not events); watch it with the shipped pattern"
                    .to_string()
            });
            ControlResult {
                id: control.id.to_string(),
                v5: control.id.to_string(),
                v6: control.v6.to_string(),
                v7: Some(control.v6.to_string()),
                title: control.title.to_string(),
                metric_filter: control.metric_filter.to_string(),
                pattern: serde_json::from_str(control.pattern).unwrap_or_default(),
                implemented_by: implemented_by.clone(),
                rules_not_loaded,
                coverage: control.coverage.to_string(),
                findings: findings_total,
                actions: evidence.iter().map(|e| e.actions).sum(),
                status: status(!implemented_by.is_empty(), total_events, findings_total),
                note,
                evidence,
            }
        })
        .collect();
    CisReport {
        period: period.clone(),
        account: account.map(str::to_string),
        generated_at: crate::audit::now_rfc3339(),
        scopes: {
            let mut merged: Vec<Volume> = events
                .into_iter()
                .map(|((account, region), events)| Volume {
                    account,
                    region,
                    source: "all".into(),
                    events,
                })
                .collect();
            merged.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
            merged
        },
        controls,
    }
}

/// The distinct (plugin, event id) pairs of some findings.
fn distinct_events<'a>(
    findings: impl Iterator<Item = &'a FindingFacts>,
) -> BTreeSet<(&'a str, &'a str)> {
    findings
        .map(|f| (f.finding.plugin.as_str(), f.finding.event_id.as_str()))
        .collect()
}

/// Alerts count even without volume rows (findings prove events arrived, e.g. from a
/// database written before event volume was kept).
fn status(implemented: bool, events: u64, findings: u64) -> Status {
    if !implemented {
        Status::NotMonitored
    } else if findings > 0 {
        Status::MonitoredAlerts
    } else if events == 0 {
        Status::NoData
    } else {
        Status::MonitoredQuiet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use event_pattern::Pattern;
    use serde_json::json;

    fn envelope(detail: serde_json::Value) -> serde_json::Value {
        json!({"source": "aws.test", "detail-type": "AWS API Call via CloudTrail", "detail": detail})
    }

    #[test]
    fn every_pattern_parses_and_matches_what_its_metric_filter_matches() {
        let samples: &[(&str, serde_json::Value, serde_json::Value)] = &[
            (
                "4.1",
                json!({"errorCode": "AccessDenied", "sourceIPAddress": "203.0.113.1", "eventName": "GetObject"}),
                json!({"errorCode": "AccessDenied", "sourceIPAddress": "203.0.113.1", "eventName": "HeadBucket"}),
            ),
            (
                "4.2",
                json!({"eventName": "ConsoleLogin", "additionalEventData": {"MFAUsed": "No"}, "userIdentity": {"type": "IAMUser"}, "responseElements": {"ConsoleLogin": "Success"}}),
                json!({"eventName": "ConsoleLogin", "additionalEventData": {"MFAUsed": "Yes"}, "userIdentity": {"type": "IAMUser"}, "responseElements": {"ConsoleLogin": "Success"}}),
            ),
            (
                "4.3",
                json!({"userIdentity": {"type": "Root"}, "eventType": "AwsApiCall"}),
                json!({"userIdentity": {"type": "Root", "invokedBy": "support.amazonaws.com"}, "eventType": "AwsApiCall"}),
            ),
            (
                "4.4",
                json!({"eventSource": "iam.amazonaws.com", "eventName": "PutUserPolicy"}),
                json!({"eventSource": "iam.amazonaws.com", "eventName": "ListPolicies"}),
            ),
            (
                "4.5",
                json!({"eventName": "StopLogging"}),
                json!({"eventName": "LookupEvents"}),
            ),
            (
                "4.6",
                json!({"eventName": "ConsoleLogin", "errorMessage": "Failed authentication"}),
                json!({"eventName": "ConsoleLogin"}),
            ),
            (
                "4.7",
                json!({"eventSource": "kms.amazonaws.com", "eventName": "ScheduleKeyDeletion"}),
                json!({"eventSource": "kms.amazonaws.com", "eventName": "Decrypt"}),
            ),
            (
                "4.8",
                json!({"eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy"}),
                json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}),
            ),
            (
                "4.9",
                json!({"eventSource": "config.amazonaws.com", "eventName": "StopConfigurationRecorder"}),
                json!({"eventSource": "config.amazonaws.com", "eventName": "DescribeConfigRules"}),
            ),
            (
                "4.10",
                json!({"eventName": "AuthorizeSecurityGroupIngress"}),
                json!({"eventName": "DescribeSecurityGroups"}),
            ),
            (
                "4.11",
                json!({"eventName": "CreateNetworkAclEntry"}),
                json!({"eventName": "DescribeNetworkAcls"}),
            ),
            (
                "4.12",
                json!({"eventName": "AttachInternetGateway"}),
                json!({"eventName": "DescribeInternetGateways"}),
            ),
            (
                "4.13",
                json!({"eventSource": "ec2.amazonaws.com", "eventName": "CreateRoute"}),
                json!({"eventSource": "ec2.amazonaws.com", "eventName": "DescribeRouteTables"}),
            ),
            (
                "4.14",
                json!({"eventName": "CreateVpcPeeringConnection"}),
                json!({"eventName": "DescribeVpcs"}),
            ),
            (
                "4.15",
                json!({"eventSource": "organizations.amazonaws.com", "eventName": "LeaveOrganization"}),
                json!({"eventSource": "organizations.amazonaws.com", "eventName": "ListAccounts"}),
            ),
        ];
        assert_eq!(samples.len(), CONTROLS.len());
        for (control, (id, matching, other)) in CONTROLS.iter().zip(samples) {
            assert_eq!(control.id, *id);
            let pattern = Pattern::parse(control.pattern).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert!(
                pattern.matches(&envelope(matching.clone())),
                "{id} should match"
            );
            assert!(
                !pattern.matches(&envelope(other.clone())),
                "{id} should not match"
            );
        }
    }

    #[test]
    fn status_needs_a_rule_then_alerts_then_events() {
        assert_eq!(status(false, 10, 0), Status::NotMonitored);
        assert_eq!(status(true, 0, 0), Status::NoData);
        assert_eq!(status(true, 10, 0), Status::MonitoredQuiet);
        assert_eq!(status(true, 10, 2), Status::MonitoredAlerts);
    }
}
