//! `resource-exposure`: a resource policy made public, for the services S3's own plugin
//! (`s3-exposure`) leaves out.
//!
//! Successful API calls only (no `errorCode`/`errorMessage`, not VPC endpoint copies):
//!
//! | rule id | calls | public when | severity |
//! |---|---|---|---|
//! | `aws.ecr.repository-policy-public` | `SetRepositoryPolicy` (`policyText`) | a public statement | medium |
//! | `aws.opensearch.domain-policy-public` | `CreateDomain`, `UpdateDomainConfig` and their `...ElasticsearchDomain...` forms (`accessPolicies`) | a public statement | high |
//! | `aws.kms.key-policy-public` | `PutKeyPolicy`, `CreateKey` (`policy`) | a public statement | high |
//! | `aws.sqs.queue-policy-public` | `SetQueueAttributes`, `CreateQueue` (`attributes.Policy`) | a public statement | medium |
//! | `aws.sns.topic-policy-public` | `SetTopicAttributes` of `Policy` (`attributeValue`), `CreateTopic` (`attributes.Policy`) | a public statement | medium |
//! | `aws.lambda.function-permission-public` | `AddPermission*` | principal `*` without `sourceArn`, `sourceAccount` or `principalOrgID` | high |
//! | `aws.secretsmanager.secret-policy-public` | `PutResourcePolicy` (`resourcePolicy`) | a public statement | high |
//!
//! A statement is public as the SDK's [`policy`](trailwarden_plugin_sdk::policy) module
//! judges it (the same judgment as `s3-exposure`'s bucket policies): it allows a wildcard
//! principal and no condition pins the caller to fixed accounts, organizations, source ARNs,
//! VPCs, VPC endpoints or IP ranges. Response: every finding is sent with `notify.send` to
//! the config's `notify_target` (default `security-team`); no capability changes these
//! policies back.

pub mod services;

use trailwarden_plugin_sdk::capability::NOTIFY_SEND;
use trailwarden_plugin_sdk::json::get_ci;
use trailwarden_plugin_sdk::policy::PublicStatement;
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, Config, Descriptor, Event, Finding, Rule};

pub use services::{Grant, Service, SERVICES};

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND];

/// Name, version and one EventBridge pattern per service: only the calls that set a policy.
pub fn descriptor() -> Descriptor {
    let patterns = SERVICES
        .iter()
        .map(|s| {
            let names: Vec<Value> = s
                .names
                .iter()
                .map(|n| {
                    if s.prefix {
                        json!({ "prefix": n })
                    } else {
                        json!(n)
                    }
                })
                .collect();
            json!({"detail": {"eventSource": [s.source], "eventName": names}}).to_string()
        })
        .collect();
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns,
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "ecr-public.json",
            "ecr-restricted.json",
            "kms-public.json",
            "kms-restricted.json",
            "lambda-public.json",
            "lambda-restricted.json",
            "opensearch-public.json",
            "opensearch-restricted.json",
            "secretsmanager-public.json",
            "secretsmanager-restricted.json",
            "sns-public.json",
            "sns-restricted.json",
            "sqs-public.json",
            "sqs-restricted-or-failed.json",
        ],
        // It acts (notifies): trailwarden's own calls must not come back to it.
        self_caused_events: false,
    }
}

/// The rule catalog, naming the notify target of `config`.
pub fn rules(config: &Config) -> Vec<Rule> {
    let target = config.notify_target();
    SERVICES
        .iter()
        .map(|s| {
            let (title, how) = if s.rule_id == services::LAMBDA {
                (
                    "Lambda function made callable by anyone".to_owned(),
                    "A permission was added to a Lambda function (`AddPermission`) for \
                     principal `*` with no `SourceArn`, `SourceAccount` or `PrincipalOrgID` \
                     condition"
                        .to_owned(),
                )
            } else {
                (
                    format!("{} made public by its resource policy", s.noun),
                    format!(
                        "A {} policy was set ({}) with a statement that allows a wildcard \
                         principal (`*`, `{{\"AWS\": \"*\"}}`, or `NotPrincipal`) and no \
                         condition that pins the caller to fixed accounts, organizations, \
                         source ARNs, VPCs, VPC endpoints or IP ranges",
                        s.noun,
                        s.names.join(", ")
                    ),
                )
            };
            Rule::new(
                s.rule_id,
                s.severity,
                &title,
                &[s.technique],
                &format!("{how}: {}. Sent to {target}.", s.consequence),
                s.runbook,
                &[NOTIFY_SEND],
            )
        })
        .collect()
}

/// The findings for one event (none or one).
pub fn detect(event: &Event) -> Vec<Finding> {
    if event.failed() || !matches!(event.event_type.as_deref(), None | Some("AwsApiCall")) {
        return Vec::new();
    }
    let (Some(source), Some(name)) = (event.source.as_deref(), event.name.as_deref()) else {
        return Vec::new();
    };
    let Some(service) = Service::of(source, name) else {
        return Vec::new();
    };
    let Some(raw) = event.raw_json() else {
        return Vec::new();
    };
    let Some(grant) = raw
        .get("requestParameters")
        .filter(|p| p.is_object())
        .and_then(|p| services::public_grant(service, p))
    else {
        return Vec::new();
    };
    vec![finding(event, service, &raw, &grant)]
}

fn finding(event: &Event, service: &Service, raw: &Value, grant: &Grant) -> Finding {
    let account = event.account_or_unknown();
    let region = event.region_or_unknown();
    let resource = services::resource(service, raw, event.partition(), region, account);
    let label = resource
        .as_deref()
        .map(short_name)
        .unwrap_or("(unnamed)")
        .to_owned();
    let what = match grant {
        Grant::Statements(statements) => format!(
            "set a policy on {} {label} that allows anyone ({})",
            service.noun,
            statements
                .iter()
                .map(PublicStatement::describe)
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Grant::LambdaPermission { action } => format!(
            "allowed principal * to call {} on {} {label} with no source account, ARN or \
             organization condition",
            action.as_deref().unwrap_or("(no action given)"),
            service.noun
        ),
    };
    let in_vpc = service.rule_id == services::OPENSEARCH && in_vpc(raw);
    let description = format!(
        "{} {what} in account {account}, region {region}, {}. Now {}{}.",
        capitalize(&event.actor()),
        event.origin(),
        service.consequence,
        if in_vpc {
            " (the request puts the domain in a VPC: reachable from that VPC only)"
        } else {
            ""
        }
    );
    let mut context = event.base_context();
    // Unlike the other fields, an unknown account is `unknown` here, not null.
    context.insert("account".into(), json!(account));
    context.insert("resource".into(), json!(resource));
    match grant {
        Grant::Statements(statements) => {
            let list: Vec<Value> = statements.iter().map(PublicStatement::to_json).collect();
            context.insert("public_statements".into(), Value::Array(list));
        }
        Grant::LambdaPermission { action } => {
            context.insert("action".into(), json!(action));
        }
    }
    if service.rule_id == services::OPENSEARCH {
        context.insert("in_vpc".into(), json!(in_vpc));
    }
    let rule_id = service.rule_id;
    Finding {
        rule_id: rule_id.to_owned(),
        severity: service.severity,
        title: format!(
            "{} {label} made public in account {account}",
            capitalize(service.noun)
        ),
        description,
        resources: resource.into_iter().collect(),
        dedup_key: format!("{rule_id}:{account}:{label}"),
        event_id: event.id.clone(),
        context: Value::Object(context).to_string(),
    }
}

/// The last part of an ARN (`repository/community` -> `community`), for titles.
fn short_name(arn: &str) -> &str {
    if !arn.starts_with("arn:") {
        return arn;
    }
    let rest = arn.splitn(6, ':').nth(5).unwrap_or(arn);
    let rest = rest
        .strip_prefix("function:")
        .or_else(|| rest.strip_prefix("secret:"))
        .unwrap_or(rest);
    rest.rsplit_once('/').map_or(rest, |(_, name)| name)
}

/// Whether an OpenSearch request puts the domain in a VPC (subnets given).
fn in_vpc(raw: &Value) -> bool {
    raw.get("requestParameters")
        .and_then(|p| get_ci(p, "vPCOptions"))
        .and_then(|o| get_ci(o, "subnetIds"))
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty())
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, notify of each finding.
    ResourceExposure {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: rules,
        detect: detect,
        respond: trailwarden_plugin_sdk::notify,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use trailwarden_plugin_sdk::Severity;

    #[test]
    fn titles_use_the_resources_short_name() {
        assert_eq!(
            short_name("arn:aws:ecr:us-east-1:1:repository/community"),
            "community"
        );
        assert_eq!(short_name("arn:aws:lambda:us-east-1:1:function:f"), "f");
        assert_eq!(
            short_name("arn:aws:secretsmanager:r:1:secret:s-ab12"),
            "s-ab12"
        );
        assert_eq!(short_name("arn:aws:sqs:us-east-1:1:q"), "q");
        assert_eq!(short_name("plain"), "plain");
    }

    #[test]
    fn every_service_has_a_pattern_and_a_catalog_entry() {
        assert_eq!(descriptor().patterns.len(), SERVICES.len());
        let rules = rules(&Config::empty());
        assert_eq!(rules.len(), 7);
        assert!(rules.iter().all(|r| r.severity >= Severity::Medium));
    }
}
