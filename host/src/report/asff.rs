//! Findings in the AWS Security Finding Format (ASFF, schema 2018-10-08), as
//! `BatchImportFindings` takes them, with every required field: `AwsAccountId`,
//! `CreatedAt`, `Description`, `GeneratorId`, `Id`, `ProductArn`, `Resources` (`Type`,
//! `Id`), `SchemaVersion`, `Severity` (`Label`), `Title`, `Types`, `UpdatedAt`.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::attack;
use super::ocsf::finding_uid;
use super::queries::FindingFacts;

pub const SCHEMA_VERSION: &str = "2018-10-08";
/// ASFF limits: `Title` 256 characters, `Description` 1024.
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;
/// `BatchImportFindings` takes at most 100 findings per call.
pub const BATCH_MAX: usize = 100;

/// The fields `BatchImportFindings` requires (the test checks every exported finding).
pub const REQUIRED: &[&str] = &[
    "AwsAccountId",
    "CreatedAt",
    "Description",
    "GeneratorId",
    "Id",
    "ProductArn",
    "Resources",
    "SchemaVersion",
    "Severity",
    "Title",
    "Types",
    "UpdatedAt",
];

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// ASFF `Resources[].Type` for an ARN (the types Security Hub defines where we know the
/// service and resource, `Other` elsewhere).
fn resource_type(arn: &str) -> &'static str {
    let mut parts = arn.splitn(6, ':');
    let service = parts.nth(2).unwrap_or("");
    let resource = arn.rsplit(':').next().unwrap_or("");
    match service {
        "iam" if resource.starts_with("user/") => "AwsIamUser",
        "iam" if resource.starts_with("role/") => "AwsIamRole",
        "iam" if resource.starts_with("policy/") => "AwsIamPolicy",
        "s3" => "AwsS3Bucket",
        "kms" => "AwsKmsKey",
        "cloudtrail" => "AwsCloudTrailTrail",
        "ec2" if resource.starts_with("security-group/") => "AwsEc2SecurityGroup",
        "ec2" if resource.starts_with("instance/") => "AwsEc2Instance",
        "ec2" if resource.starts_with("network-acl/") => "AwsEc2NetworkAcl",
        "rds" => "AwsRdsDbInstance",
        _ => "Other",
    }
}

/// ASFF `Types`: `TTPs/<tactic>` from the rule's techniques, else `Unusual Behaviors/User`.
fn types(techniques: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in techniques {
        if let Some((_, tactics)) = attack::technique(id) {
            for short in tactics {
                if let Some((_, name)) = attack::tactic(short) {
                    let t = format!("TTPs/{name}");
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
        }
    }
    if out.is_empty() {
        out.push("Unusual Behaviors/User".to_string());
    }
    out.truncate(50);
    out
}

/// One finding in ASFF, or `None` when it names no 12-digit AWS account (Security Hub
/// refuses a finding without one).
pub fn finding(facts: &FindingFacts, techniques: &HashMap<String, Vec<String>>) -> Option<Value> {
    let f = &facts.finding;
    let account = facts.account.as_deref().filter(|a| is_account_id(a))?;
    let region = facts.region.as_deref().unwrap_or("us-east-1");
    let label = match f.severity.to_ascii_lowercase().as_str() {
        "critical" => "CRITICAL",
        "high" => "HIGH",
        "medium" => "MEDIUM",
        "low" => "LOW",
        _ => "INFORMATIONAL",
    };
    let mut resources: Vec<Value> = f
        .resources
        .iter()
        .filter(|arn| arn.starts_with("arn:"))
        .take(32)
        .map(|arn| {
            json!({"Type": resource_type(arn), "Id": arn, "Partition": "aws", "Region": region})
        })
        .collect();
    if resources.is_empty() {
        resources.push(
            json!({"Type": "AwsAccount", "Id": format!("AWS::::Account:{account}"),
            "Partition": "aws", "Region": region}),
        );
    }
    let created = f
        .event_time
        .clone()
        .unwrap_or_else(|| f.recorded_at.clone());
    let mut out = json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_uid(facts),
        "ProductArn": format!("arn:aws:securityhub:{region}:{account}:product/{account}/default"),
        "ProductName": "trailwarden",
        "CompanyName": "trailwarden",
        "GeneratorId": format!("trailwarden/{}/{}", f.plugin, f.rule_id),
        "AwsAccountId": account,
        "Region": region,
        "Types": types(techniques.get(&f.rule_id).map_or(&[][..], Vec::as_slice)),
        "FirstObservedAt": created,
        "LastObservedAt": created,
        "CreatedAt": created,
        "UpdatedAt": f.recorded_at,
        "Severity": {"Label": label, "Original": f.severity},
        "Title": cut(&f.title, TITLE_MAX),
        "Description": cut(if f.description.is_empty() { &f.title } else { &f.description }, DESCRIPTION_MAX),
        "Resources": resources,
        "Workflow": {"Status": "NEW"},
        "RecordState": "ACTIVE",
        "ProductFields": {
            "trailwarden/plugin": f.plugin,
            "trailwarden/plugin_version": f.plugin_version,
            "trailwarden/plugin_sha256": f.plugin_sha256,
            "trailwarden/rule_id": f.rule_id,
            "trailwarden/event_id": f.event_id,
        },
    });
    if let Some(api) = &facts.event_name {
        let mut call = json!({"Api": api, "CallerType": "remoteip"});
        if let Some(service) = &facts.event_source {
            call["ServiceName"] = json!(service);
        }
        if let Some(ip) = facts
            .source_ip
            .as_deref()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
        {
            call["RemoteIpDetails"] = json!({"IpAddressV4": ip.to_string()});
        }
        out["Action"] = json!({"ActionType": "AWS_API_CALL", "AwsApiCallAction": call});
    }
    Some(out)
}
