//! `trailwarden setup responder-role`: a CloudFormation template for the role trailwarden
//! assumes in each member account to act there, allowing exactly the IAM actions of the
//! capabilities the config grants (and of the actions that undo them), on the resources the
//! grants name.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use aws_actions::permissions::{iam_actions, inverse_capability};
use serde_json::{json, Value};

use crate::config::Config;
use crate::respond::grants::{Mode, CAPABILITIES};

/// The role's name by default; `[aws.assume_role] "*"` points at it.
pub const DEFAULT_ROLE_NAME: &str = "trailwarden-responder";

/// How to roll the template out to every account of an organisation; printed as a comment
/// of the YAML template and in the command's help.
pub const STACKSET_INSTRUCTIONS: &str = "\
Deploy to every member account with a service-managed StackSet (from the management or a
delegated administrator account):
  aws cloudformation create-stack-set --stack-set-name trailwarden-responder \\
    --template-body file://responder-role.yaml --capabilities CAPABILITY_NAMED_IAM \\
    --permission-model SERVICE_MANAGED \\
    --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false \\
    --parameters ParameterKey=TrustedPrincipalArn,ParameterValue=arn:aws:iam::PLATFORM_ACCOUNT:role/trailwarden
  aws cloudformation create-stack-instances --stack-set-name trailwarden-responder \\
    --deployment-targets OrganizationalUnitIds=r-xxxx --regions us-east-1
(IAM is global: one region is enough.) Then in trailwarden.toml:
  [aws]
  platform_account = \"PLATFORM_ACCOUNT\"
  [aws.assume_role]
  \"*\" = \"arn:aws:iam::{account}:role/trailwarden-responder\"
Re-generate and update the StackSet whenever the grants change.";

/// The capabilities the role must allow: every capability granted (families expanded) in a
/// mode that can execute (enforce, approve; dry-run too with `include_dry_run`), plus the
/// capabilities that undo them, each with the union of its grants' resource globs.
pub fn needed_capabilities(
    config: &Config,
    include_dry_run: bool,
) -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut needed: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for plugin in &config.plugins {
        for grant in &plugin.grants.grants {
            let mode = grant.mode.unwrap_or(plugin.grants.mode);
            if mode == Mode::DryRun && !include_dry_run {
                continue;
            }
            let family = grant.capability.strip_suffix(".*");
            let granted = CAPABILITIES.iter().filter(|c| match family {
                Some(family) => c.split('.').next() == Some(family),
                None => **c == grant.capability,
            });
            for capability in granted {
                let undo = inverse_capability(capability);
                for c in std::iter::once(*capability).chain(undo) {
                    needed
                        .entry(c)
                        .or_default()
                        .extend(grant.resources.iter().cloned());
                }
            }
        }
    }
    needed
}

/// `iam.disable-access-key` -> `IamDisableAccessKey` (a statement id).
fn sid(capability: &str) -> String {
    capability
        .split(['.', '-'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The CloudFormation template (as JSON; [`to_yaml`] for YAML).
///
/// # Errors
/// No capability would be allowed (nothing granted in a mode that executes): a role with an
/// empty policy is refused by IAM, and is not what anyone means to deploy.
pub fn template(config: &Config, include_dry_run: bool) -> Result<Value> {
    let needed = needed_capabilities(config, include_dry_run);
    let mut statements = Vec::new();
    for (capability, resources) in &needed {
        let actions = iam_actions(capability).unwrap_or_default();
        if actions.is_empty() {
            continue;
        }
        let resources: Vec<&String> = if resources.contains("*") {
            Vec::new()
        } else {
            resources.iter().collect()
        };
        statements.push(json!({
            "Sid": sid(capability),
            "Effect": "Allow",
            "Action": actions,
            "Resource": if resources.is_empty() { json!("*") } else { json!(resources) },
        }));
    }
    anyhow::ensure!(
        !statements.is_empty(),
        "no AWS capability is granted in enforce or approve mode, so the responder role \
         would allow nothing (pass --include-dry-run to prepare it for dry-run grants)"
    );
    let trusted_default = config
        .response
        .platform_account
        .as_ref()
        .map(|account| format!("arn:aws:iam::{account}:root"));
    let mut trusted = json!({
        "Type": "String",
        "Description": "The principal trailwarden runs as (a role ARN in the platform account); it alone may assume this role.",
        "AllowedPattern": "arn:aws[a-z-]*:iam::[0-9]{12}:.+",
    });
    if let Some(default) = trusted_default {
        trusted["Default"] = json!(default);
    }
    Ok(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "trailwarden responder role: only the IAM actions of the capabilities granted in trailwarden.toml (generated by `trailwarden setup responder-role`).",
        "Parameters": {
            "TrustedPrincipalArn": trusted,
            "RoleName": {"Type": "String", "Default": DEFAULT_ROLE_NAME},
        },
        "Resources": {
            "ResponderRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Ref": "RoleName"},
                    "Description": "Assumed by trailwarden to carry out granted response actions.",
                    "MaxSessionDuration": 3600,
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": {"AWS": {"Ref": "TrustedPrincipalArn"}},
                            "Action": "sts:AssumeRole",
                        }],
                    },
                    "Policies": [{
                        "PolicyName": "trailwarden-responder",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                    }],
                },
            },
        },
        "Outputs": {
            "RoleArn": {"Value": {"Fn::GetAtt": ["ResponderRole", "Arn"]}},
        },
    }))
}

/// YAML for a JSON value: block style, every string double-quoted (JSON escapes are valid
/// YAML), so nothing is read back as another type.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(value, 0, &mut out);
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

/// A key as written: bare when it is a plain name YAML cannot read as anything else
/// (`Fn::GetAtt` included), else double-quoted.
fn yaml_key(key: &str) -> String {
    const WORDS: [&str; 11] = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~", "",
    ];
    let plain = key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !key.ends_with(':')
        && !WORDS.contains(&key.to_ascii_lowercase().as_str());
    if plain {
        key.to_string()
    } else {
        Value::String(key.to_string()).to_string()
    }
}

fn is_block(value: &Value) -> bool {
    matches!(value, Value::Array(a) if !a.is_empty())
        || matches!(value, Value::Object(o) if !o.is_empty())
}

fn write_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                let key = yaml_key(key);
                if is_block(item) {
                    out.push_str(&format!("{pad}{key}:\n"));
                    write_yaml(item, indent + 2, out);
                } else {
                    out.push_str(&format!("{pad}{key}: {}\n", scalar(item)));
                }
            }
        }
        Value::Array(list) if !list.is_empty() => {
            for item in list {
                if is_block(item) {
                    // The first line of the item goes after the dash.
                    let mut inner = String::new();
                    write_yaml(item, indent + 2, &mut inner);
                    out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_ids_are_camel_case() {
        assert_eq!(sid("iam.disable-access-key"), "IamDisableAccessKey");
        assert_eq!(sid("s3.put-public-access-block"), "S3PutPublicAccessBlock");
    }

    #[test]
    fn yaml_nests_lists_of_maps() {
        let value = json!({"a": [{"b": 1, "c": ["x"]}, "y"], "d": {}, "e": "it's: \"q\"",
            "Fn::GetAtt": ["R", "Arn"], "yes": 1, "x-y": 2});
        assert_eq!(
            to_yaml(&value),
            "Fn::GetAtt:\n  - \"R\"\n  - \"Arn\"\na:\n  - b: 1\n    c:\n      - \"x\"\n  - \"y\"\n\
             d: {}\ne: \"it's: \\\"q\\\"\"\n\"x-y\": 2\n\"yes\": 1\n"
        );
    }
}
