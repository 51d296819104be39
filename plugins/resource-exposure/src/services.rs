//! The services whose resource policies the plugin judges: for each, its rule, the calls
//! that set a policy, and where the record keeps the policy and names the resource.

use trailwarden_plugin_sdk::json::get_ci;
use trailwarden_plugin_sdk::policy::{self, PublicStatement};
use trailwarden_plugin_sdk::serde_json::Value;
use trailwarden_plugin_sdk::Severity;

/// One service's rule.
#[derive(Debug)]
pub struct Service {
    pub rule_id: &'static str,
    /// `eventSource`.
    pub source: &'static str,
    /// The event names that set a policy (for Lambda, name prefixes: its event names carry
    /// the API version, `AddPermission20150331v2`).
    pub names: &'static [&'static str],
    pub prefix: bool,
    pub severity: Severity,
    pub technique: &'static str,
    /// What the resource is, for titles: `ECR repository`.
    pub noun: &'static str,
    /// What anyone can then do, for descriptions.
    pub consequence: &'static str,
    pub runbook: &'static str,
}

pub const ECR: &str = "aws.ecr.repository-policy-public";
pub const OPENSEARCH: &str = "aws.opensearch.domain-policy-public";
pub const KMS: &str = "aws.kms.key-policy-public";
pub const SQS: &str = "aws.sqs.queue-policy-public";
pub const SNS: &str = "aws.sns.topic-policy-public";
pub const LAMBDA: &str = "aws.lambda.function-permission-public";
pub const SECRETS_MANAGER: &str = "aws.secretsmanager.secret-policy-public";

/// The services, one rule each.
pub const SERVICES: &[Service] = &[
    Service {
        rule_id: ECR,
        source: "ecr.amazonaws.com",
        names: &["SetRepositoryPolicy"],
        prefix: false,
        severity: Severity::Medium,
        technique: "T1530",
        noun: "ECR repository",
        consequence: "anyone can pull its images (and whatever credentials or code they \
                      hold), or push to it if the statement allows it",
        runbook: "Confirm with the repository's owner whether it is meant to be public (ECR \
                  Public exists for that); if not, remove the statement (aws ecr \
                  set-repository-policy or delete-repository-policy) and check the ECR \
                  pulls from other accounts since the change.",
    },
    Service {
        rule_id: OPENSEARCH,
        source: "es.amazonaws.com",
        names: &[
            "CreateDomain",
            "UpdateDomainConfig",
            "CreateElasticsearchDomain",
            "UpdateElasticsearchDomainConfig",
        ],
        prefix: false,
        severity: Severity::High,
        technique: "T1530",
        noun: "OpenSearch domain",
        consequence: "anyone who reaches its endpoint can search, read and change its \
                      indices (a domain in a VPC: anyone in that VPC)",
        runbook: "Replace the access policy with one naming the principals or source \
                  addresses that need the domain (or enable fine-grained access control), \
                  then review the domain's audit and slow logs for reads since the change.",
    },
    Service {
        rule_id: KMS,
        source: "kms.amazonaws.com",
        names: &["PutKeyPolicy", "CreateKey"],
        prefix: false,
        severity: Severity::High,
        technique: "T1530",
        noun: "KMS key",
        consequence: "anyone can use the key as the statement allows (decrypt data and \
                      data keys it protects, or change its policy)",
        runbook: "Put the previous key policy back (aws kms put-key-policy), then review \
                  the key's Decrypt and GenerateDataKey calls from other accounts in \
                  CloudTrail since the change.",
    },
    Service {
        rule_id: SQS,
        source: "sqs.amazonaws.com",
        names: &["SetQueueAttributes", "CreateQueue"],
        prefix: false,
        severity: Severity::Medium,
        technique: "T1530",
        noun: "SQS queue",
        consequence: "anyone can send, read or delete its messages as the statement \
                      allows",
        runbook: "Limit the queue policy to the accounts, source ARNs or organization that \
                  need it (aws sqs set-queue-attributes), and check what was received from \
                  or sent to the queue since the change.",
    },
    Service {
        rule_id: SNS,
        source: "sns.amazonaws.com",
        names: &["SetTopicAttributes", "CreateTopic"],
        prefix: false,
        severity: Severity::Medium,
        technique: "T1530",
        noun: "SNS topic",
        consequence: "anyone can publish to it or subscribe to its messages as the \
                      statement allows",
        runbook: "Limit the topic policy to the accounts or source ARNs that need it (aws \
                  sns set-topic-attributes), and list its subscriptions for endpoints \
                  outside your accounts.",
    },
    Service {
        rule_id: LAMBDA,
        source: "lambda.amazonaws.com",
        names: &["AddPermission"],
        prefix: true,
        severity: Severity::High,
        technique: "T1098",
        noun: "Lambda function",
        consequence: "anyone can call it with its execution role's permissions (a \
                      backdoor into the account)",
        runbook: "Remove the permission (aws lambda remove-permission with its statement \
                  id) unless the function is meant to be public, and review its \
                  invocations since the change.",
    },
    Service {
        rule_id: SECRETS_MANAGER,
        source: "secretsmanager.amazonaws.com",
        names: &["PutResourcePolicy"],
        prefix: false,
        severity: Severity::High,
        technique: "T1555.006",
        noun: "Secrets Manager secret",
        consequence: "anyone can read or change the secret as the statement allows",
        runbook: "Delete the resource policy (aws secretsmanager delete-resource-policy) \
                  or limit it, rotate the secret, and review its GetSecretValue calls from \
                  other accounts since the change.",
    },
];

impl Service {
    /// The service whose rule covers a call.
    pub fn of(source: &str, name: &str) -> Option<&'static Service> {
        SERVICES.iter().find(|s| {
            s.source == source
                && s.names.iter().any(|n| {
                    if s.prefix {
                        name.starts_with(n)
                    } else {
                        name == *n
                    }
                })
        })
    }
}

/// What made a resource public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// A resource policy with these public statements.
    Statements(Vec<PublicStatement>),
    /// A Lambda permission to principal `*` with no source condition, for this action.
    LambdaPermission { action: Option<String> },
}

/// The public grant of a successful call of `service`, from its `requestParameters`.
pub fn public_grant(service: &Service, params: &Value) -> Option<Grant> {
    if service.rule_id == LAMBDA {
        return lambda_permission(params);
    }
    let recorded = match service.rule_id {
        ECR => get_ci(params, "policyText"),
        OPENSEARCH => get_ci(params, "accessPolicies"),
        KMS => get_ci(params, "policy"),
        SECRETS_MANAGER => get_ci(params, "resourcePolicy"),
        SQS => get_ci(params, "attributes").and_then(|a| get_ci(a, "Policy")),
        SNS => topic_policy(params),
        _ => None,
    }?;
    let statements = policy::public_statements_in(recorded);
    (!statements.is_empty()).then_some(Grant::Statements(statements))
}

/// `SetTopicAttributes` names the attribute it sets; `CreateTopic` takes `attributes`.
fn topic_policy(params: &Value) -> Option<&Value> {
    let named = get_ci(params, "attributeName")
        .and_then(Value::as_str)
        .is_some_and(|n| n.trim().eq_ignore_ascii_case("Policy"));
    if named {
        return get_ci(params, "attributeValue");
    }
    get_ci(params, "attributes").and_then(|a| get_ci(a, "Policy"))
}

/// `AddPermission` to principal `*` without `sourceArn`, `sourceAccount` or
/// `principalOrgID`: without them anyone (any account, any service) may call the function.
fn lambda_permission(params: &Value) -> Option<Grant> {
    let text = |key: &str| {
        get_ci(params, key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    if text("principal")? != "*" {
        return None;
    }
    let pinned = ["sourceArn", "sourceAccount", "principalOrgID"]
        .iter()
        .any(|key| text(key).is_some_and(|v| !v.contains('*')));
    (!pinned).then(|| Grant::LambdaPermission {
        action: text("action").map(str::to_owned),
    })
}

/// The resource a call names, as an ARN when the record allows, else as written.
pub fn resource(
    service: &Service,
    raw: &Value,
    partition: &str,
    region: &str,
    account: &str,
) -> Option<String> {
    let empty = Value::Null;
    let params = raw.get("requestParameters").unwrap_or(&empty);
    let response = raw.get("responseElements").unwrap_or(&empty);
    let text = |v: &Value, key: &str| {
        get_ci(v, key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let arn_or = |name: Option<String>, build: &dyn Fn(&str) -> String| {
        name.map(|n| if n.starts_with("arn:") { n } else { build(&n) })
    };
    let prefix = |service: &str| format!("arn:{partition}:{service}:{region}:{account}");
    match service.rule_id {
        ECR => arn_or(text(params, "repositoryName"), &|n| {
            format!("{}:repository/{n}", prefix("ecr"))
        }),
        OPENSEARCH => arn_or(text(params, "domainName"), &|n| {
            format!("{}:domain/{n}", prefix("es"))
        }),
        KMS => {
            let created = get_ci(response, "keyMetadata").and_then(|m| text(m, "arn"));
            arn_or(created.or_else(|| text(params, "keyId")), &|n| {
                format!("{}:key/{n}", prefix("kms"))
            })
        }
        SQS => {
            let url = text(params, "queueUrl").or_else(|| text(response, "queueUrl"));
            match url.as_deref().and_then(queue_from_url) {
                Some((owner, name)) => Some(format!("arn:{partition}:sqs:{region}:{owner}:{name}")),
                None => arn_or(text(params, "queueName"), &|n| {
                    format!("{}:{n}", prefix("sqs"))
                }),
            }
        }
        SNS => text(params, "topicArn")
            .or_else(|| text(response, "topicArn"))
            .or_else(|| arn_or(text(params, "name"), &|n| format!("{}:{n}", prefix("sns")))),
        LAMBDA => arn_or(text(params, "functionName"), &|n| {
            format!("{}:function:{n}", prefix("lambda"))
        }),
        SECRETS_MANAGER => text(response, "aRN")
            .or_else(|| text(response, "arn"))
            .or_else(|| {
                arn_or(text(params, "secretId"), &|n| {
                    format!("{}:secret:{n}", prefix("secretsmanager"))
                })
            }),
        _ => None,
    }
}

/// `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` -> (account, name).
fn queue_from_url(url: &str) -> Option<(&str, &str)> {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest);
    let mut parts = path.split('/').skip(1);
    let (owner, name) = (parts.next()?, parts.next()?);
    (!owner.is_empty() && !name.is_empty() && parts.next().is_none()).then_some((owner, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwarden_plugin_sdk::serde_json::json;

    #[test]
    fn calls_find_their_service() {
        assert_eq!(
            Service::of("lambda.amazonaws.com", "AddPermission20150331v2").map(|s| s.rule_id),
            Some(LAMBDA)
        );
        assert_eq!(
            Service::of("es.amazonaws.com", "UpdateDomainConfig").map(|s| s.rule_id),
            Some(OPENSEARCH)
        );
        assert!(Service::of("s3.amazonaws.com", "SetQueueAttributes").is_none());
        assert!(Service::of("lambda.amazonaws.com", "RemovePermission20150331v2").is_none());
    }

    #[test]
    fn lambda_permissions_are_public_only_without_a_source() {
        let service = Service::of("lambda.amazonaws.com", "AddPermission").unwrap();
        let grant = |params: Value| public_grant(service, &params);
        assert_eq!(
            grant(json!({"principal": "*", "action": "lambda:InvokeFunction"})),
            Some(Grant::LambdaPermission {
                action: Some("lambda:InvokeFunction".into())
            })
        );
        assert!(grant(json!({"principal": "*", "sourceAccount": "111122223333"})).is_none());
        assert!(grant(json!({"principal": "*", "principalOrgID": "o-abc"})).is_none());
        assert!(grant(json!({"principal": "*", "sourceArn": "arn:aws:s3:::b"})).is_none());
        assert!(grant(json!({"principal": "*", "sourceArn": "arn:aws:s3:::*"})).is_some());
        assert!(grant(json!({"principal": "s3.amazonaws.com"})).is_none());
        assert!(grant(json!({"functionName": "f"})).is_none());
    }

    #[test]
    fn topic_policies_are_found_by_attribute_name() {
        let service = Service::of("sns.amazonaws.com", "SetTopicAttributes").unwrap();
        let public = json!({"Statement": {"Effect": "Allow", "Principal": "*"}}).to_string();
        assert!(public_grant(
            service,
            &json!({"attributeName": "Policy", "attributeValue": public})
        )
        .is_some());
        assert!(public_grant(
            service,
            &json!({"attributeName": "DisplayName", "attributeValue": public})
        )
        .is_none());
        assert!(public_grant(service, &json!({"attributes": {"Policy": public}})).is_some());
    }

    #[test]
    fn resources_are_named_by_arn() {
        let arn = |source: &str, name: &str, raw: Value| {
            resource(
                Service::of(source, name).unwrap(),
                &raw,
                "aws",
                "us-east-1",
                "111122223333",
            )
        };
        assert_eq!(
            arn(
                "sqs.amazonaws.com",
                "SetQueueAttributes",
                json!({"requestParameters": {"queueUrl": "https://sqs.us-east-1.amazonaws.com/444455556666/tmp"}})
            )
            .as_deref(),
            Some("arn:aws:sqs:us-east-1:444455556666:tmp")
        );
        assert_eq!(
            arn(
                "kms.amazonaws.com",
                "PutKeyPolicy",
                json!({"requestParameters": {"keyId": "k-1"}})
            )
            .as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/k-1")
        );
        assert_eq!(
            arn(
                "lambda.amazonaws.com",
                "AddPermission20150331v2",
                json!({"requestParameters": {"functionName": "arn:aws:lambda:us-east-1:1:function:f"}})
            )
            .as_deref(),
            Some("arn:aws:lambda:us-east-1:1:function:f")
        );
        assert_eq!(
            arn("ecr.amazonaws.com", "SetRepositoryPolicy", json!({})),
            None
        );
        assert_eq!(queue_from_url("https://sqs.x/1/q/extra"), None);
    }
}
