//! `trailwarden setup eventbridge`: points CloudTrail events at the daemon, through an
//! EventBridge API destination or an SQS queue the daemon consumes.
//!
//! API destination: creates (or updates, so that running it again is harmless) a connection
//! with API-key auth carrying the daemon's ingest token, an API destination
//! `POST PUBLIC_URL/v1/events`, and a rule `{"detail-type": [{"suffix": "via CloudTrail"}]}`
//! targeting it with the given IAM role (EventBridge needs one to invoke API destinations).
//!
//! SQS (`--to-sqs`): the same rule targeting the queue, and a queue policy statement letting
//! that rule (and only it, by `aws:SourceArn`) send. Changes only what differs.

use anyhow::{Context, Result};
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::{
    ApiDestinationHttpMethod, ConnectionAuthorizationType,
    CreateConnectionApiKeyAuthRequestParameters, CreateConnectionAuthRequestParameters, RuleState,
    Target, UpdateConnectionApiKeyAuthRequestParameters, UpdateConnectionAuthRequestParameters,
};
use serde::Serialize;

use super::{policy, sdk_error, Change};
use crate::token::Token;

/// The rule's pattern: every CloudTrail detail-type (API calls, console sign-ins, service
/// events), on the default bus.
pub const CLOUDTRAIL_PATTERN: &str = r#"{"detail-type":[{"suffix":"via CloudTrail"}]}"#;

/// What to create.
pub struct EventBridgeSetup<'a> {
    /// The daemon's public base URL (HTTPS in production).
    pub url: &'a str,
    /// The name of the connection, API destination and rule.
    pub name: &'a str,
    pub role_arn: &'a str,
    pub api_key_header: &'a str,
    pub token: &'a Token,
}

/// What was created, as printed.
#[derive(Debug, Serialize)]
pub struct Created {
    pub connection_arn: String,
    pub api_destination_arn: String,
    pub rule_arn: String,
    pub endpoint: String,
}

/// Creates or updates the connection, API destination, rule and target.
///
/// # Errors
/// An EventBridge call fails; the message names which.
pub async fn eventbridge(
    client: &aws_sdk_eventbridge::Client,
    setup: &EventBridgeSetup<'_>,
) -> Result<Created> {
    let endpoint = format!("{}/v1/events", setup.url.trim_end_matches('/'));
    let description = "trailwarden: CloudTrail events to the trailwarden daemon";

    let created = client
        .create_connection()
        .name(setup.name)
        .description(description)
        .authorization_type(ConnectionAuthorizationType::ApiKey)
        .auth_parameters(
            CreateConnectionAuthRequestParameters::builder()
                .api_key_auth_parameters(
                    CreateConnectionApiKeyAuthRequestParameters::builder()
                        .api_key_name(setup.api_key_header)
                        .api_key_value(setup.token.expose())
                        .build()?,
                )
                .build(),
        )
        .send()
        .await;
    let connection_arn = match created {
        Ok(out) => out.connection_arn().unwrap_or_default().to_string(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) =>
        {
            client
                .update_connection()
                .name(setup.name)
                .description(description)
                .authorization_type(ConnectionAuthorizationType::ApiKey)
                .auth_parameters(
                    UpdateConnectionAuthRequestParameters::builder()
                        .api_key_auth_parameters(
                            UpdateConnectionApiKeyAuthRequestParameters::builder()
                                .api_key_name(setup.api_key_header)
                                .api_key_value(setup.token.expose())
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
                .context("UpdateConnection failed")?
                .connection_arn()
                .unwrap_or_default()
                .to_string()
        }
        Err(e) => {
            return Err(anyhow::anyhow!("{}", DisplayErrorContext(e)))
                .context("CreateConnection failed")
        }
    };

    let created = client
        .create_api_destination()
        .name(setup.name)
        .description(description)
        .connection_arn(&connection_arn)
        .invocation_endpoint(&endpoint)
        .http_method(ApiDestinationHttpMethod::Post)
        .send()
        .await;
    let api_destination_arn = match created {
        Ok(out) => out.api_destination_arn().unwrap_or_default().to_string(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) =>
        {
            client
                .update_api_destination()
                .name(setup.name)
                .description(description)
                .connection_arn(&connection_arn)
                .invocation_endpoint(&endpoint)
                .http_method(ApiDestinationHttpMethod::Post)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
                .context("UpdateApiDestination failed")?
                .api_destination_arn()
                .unwrap_or_default()
                .to_string()
        }
        Err(e) => {
            return Err(anyhow::anyhow!("{}", DisplayErrorContext(e)))
                .context("CreateApiDestination failed")
        }
    };

    // The rule and its target change only where they differ from what is wanted.
    let mut changes = Vec::new();
    let rule_arn = converge_rule(client, setup.name, description, "", false, &mut changes).await?;
    converge_target(
        client,
        setup.name,
        &api_destination_arn,
        Some(setup.role_arn),
        false,
        &mut changes,
    )
    .await?;
    Ok(Created {
        connection_arn,
        api_destination_arn,
        rule_arn,
        endpoint,
    })
}

/// The target id trailwarden's rules use.
const TARGET_ID: &str = "trailwarden";

/// The rule, created or brought back to the CloudTrail pattern, enabled; returns its ARN
/// (with `dry_run` and no rule yet, the ARN it will have: `expected_arn`).
///
/// # Errors
/// DescribeRule or PutRule fails.
pub async fn converge_rule(
    client: &aws_sdk_eventbridge::Client,
    name: &str,
    description: &str,
    expected_arn: &str,
    dry_run: bool,
    changes: &mut Vec<Change>,
) -> Result<String> {
    let resource = format!("EventBridge rule {name}");
    let wanted: serde_json::Value = serde_json::from_str(CLOUDTRAIL_PATTERN)?;
    match client.describe_rule().name(name).send().await {
        Ok(rule) => {
            let pattern = rule
                .event_pattern()
                .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok());
            let mut differences = Vec::new();
            if pattern.as_ref() != Some(&wanted) {
                differences.push(format!(
                    "event pattern {} -> {CLOUDTRAIL_PATTERN}",
                    rule.event_pattern().unwrap_or("(none)")
                ));
            }
            if rule.state() != Some(&RuleState::Enabled) {
                differences.push("enable".to_string());
            }
            let arn = rule.arn().unwrap_or(expected_arn).to_string();
            if differences.is_empty() {
                return Ok(arn);
            }
            changes.extend(differences.into_iter().map(|d| Change::new(&resource, d)));
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            changes.push(Change::new(
                &resource,
                format!("create with pattern {CLOUDTRAIL_PATTERN}"),
            ));
        }
        Err(e) => return Err(sdk_error("DescribeRule", e)),
    }
    if dry_run {
        return Ok(expected_arn.to_string());
    }
    let rule = client
        .put_rule()
        .name(name)
        .description(description)
        .event_pattern(CLOUDTRAIL_PATTERN)
        .state(RuleState::Enabled)
        .send()
        .await
        .map_err(|e| sdk_error("PutRule", e))?;
    Ok(rule.rule_arn().unwrap_or(expected_arn).to_string())
}

/// The rule's `trailwarden` target, put when it is missing or points elsewhere.
///
/// # Errors
/// ListTargetsByRule or PutTargets fails, or PutTargets refuses the target.
pub async fn converge_target(
    client: &aws_sdk_eventbridge::Client,
    rule: &str,
    arn: &str,
    role_arn: Option<&str>,
    dry_run: bool,
    changes: &mut Vec<Change>,
) -> Result<()> {
    let current = match client.list_targets_by_rule().rule(rule).send().await {
        Ok(out) => out.targets().iter().find(|t| t.id() == TARGET_ID).cloned(),
        // With --dry-run the rule may not exist yet.
        Err(e)
            if dry_run
                && e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(e) => return Err(sdk_error("ListTargetsByRule", e)),
    };
    if current
        .as_ref()
        .is_some_and(|t| t.arn() == arn && t.role_arn() == role_arn)
    {
        return Ok(());
    }
    changes.push(Change::new(
        format!("EventBridge rule {rule}"),
        match &current {
            Some(t) => format!("target {TARGET_ID}: {} -> {arn}", t.arn()),
            None => format!("add target {TARGET_ID} -> {arn}"),
        },
    ));
    if dry_run {
        return Ok(());
    }
    let out = client
        .put_targets()
        .rule(rule)
        .targets(
            Target::builder()
                .id(TARGET_ID)
                .arn(arn)
                .set_role_arn(role_arn.map(str::to_string))
                .build()?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("PutTargets", e))?;
    if out.failed_entry_count() > 0 {
        let reasons: Vec<String> = out
            .failed_entries()
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f.error_code().unwrap_or("?"),
                    f.error_message().unwrap_or("")
                )
            })
            .collect();
        anyhow::bail!("PutTargets refused the target: {}", reasons.join("; "));
    }
    Ok(())
}

/// What the API-destination form would change (`--dry-run`): reads the connection, the
/// API destination, the rule and its target, changes nothing. The connection's API key
/// cannot be read back, so an existing connection is always shown as updated.
///
/// # Errors
/// A read fails other than with "not found".
pub async fn plan_api_destination(
    client: &aws_sdk_eventbridge::Client,
    setup: &ApiDestinationPlan<'_>,
    place: &super::trail::Place,
) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let endpoint = format!("{}/v1/events", setup.url.trim_end_matches('/'));
    let connection = format!("EventBridge connection {}", setup.name);
    match client.describe_connection().name(setup.name).send().await {
        Ok(_) => changes.push(Change::new(
            &connection,
            format!(
                "update API key auth (header {}, the ingest token)",
                setup.api_key_header
            ),
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            changes.push(Change::new(
                &connection,
                format!(
                    "create with API key auth (header {}, the ingest token)",
                    setup.api_key_header
                ),
            ));
        }
        Err(e) => return Err(sdk_error("DescribeConnection", e)),
    }
    let destination = format!("EventBridge API destination {}", setup.name);
    let destination_arn = match client
        .describe_api_destination()
        .name(setup.name)
        .send()
        .await
    {
        Ok(d) => {
            if d.invocation_endpoint() != Some(endpoint.as_str())
                || d.http_method() != Some(&ApiDestinationHttpMethod::Post)
            {
                changes.push(Change::new(
                    &destination,
                    format!(
                        "endpoint {} -> POST {endpoint}",
                        d.invocation_endpoint().unwrap_or("(none)")
                    ),
                ));
            }
            d.api_destination_arn().unwrap_or_default().to_string()
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            changes.push(Change::new(
                &destination,
                format!("create: POST {endpoint}"),
            ));
            format!(
                "arn:{}:events:{}:{}:api-destination/{}/(new)",
                place.partition(),
                place.region,
                place.account,
                setup.name
            )
        }
        Err(e) => return Err(sdk_error("DescribeApiDestination", e)),
    };
    let rule_arn = rule_arn(place, setup.name);
    converge_rule(client, setup.name, "", &rule_arn, true, &mut changes).await?;
    converge_target(
        client,
        setup.name,
        &destination_arn,
        Some(setup.role_arn),
        true,
        &mut changes,
    )
    .await?;
    Ok(changes)
}

/// What `--dry-run` of the API-destination form compares against (no token: a dry run
/// neither reads nor creates it).
pub struct ApiDestinationPlan<'a> {
    pub url: &'a str,
    pub name: &'a str,
    pub role_arn: &'a str,
    pub api_key_header: &'a str,
}

/// The ARN a rule on the default bus has.
pub fn rule_arn(place: &super::trail::Place, name: &str) -> String {
    format!(
        "arn:{}:events:{}:{}:rule/{name}",
        place.partition(),
        place.region,
        place.account
    )
}

/// `--to-sqs`: a queue given by ARN or name.
#[derive(Debug, Clone)]
pub struct Queue {
    pub url: String,
    pub arn: String,
}

/// Finds the queue (an ARN, or a name in our account and region).
///
/// # Errors
/// No such queue, or the calls fail.
pub async fn find_queue(sqs: &aws_sdk_sqs::Client, queue: &str) -> Result<Queue> {
    let mut request = sqs.get_queue_url();
    if let Some(rest) = queue.strip_prefix("arn:") {
        // arn:PARTITION:sqs:REGION:ACCOUNT:NAME
        let parts: Vec<&str> = rest.split(':').collect();
        anyhow::ensure!(
            parts.len() == 5 && parts[1] == "sqs",
            "{queue:?} is not an SQS queue ARN"
        );
        request = request
            .queue_name(parts[4])
            .queue_owner_aws_account_id(parts[3]);
    } else {
        request = request.queue_name(queue);
    }
    let url = request
        .send()
        .await
        .map_err(|e| sdk_error("sqs:GetQueueUrl", e))
        .with_context(|| format!("queue {queue}"))?
        .queue_url()
        .context("GetQueueUrl returned no URL")?
        .to_string();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk_error("sqs:GetQueueAttributes", e))?;
    let arn = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .context("the queue has no QueueArn attribute")?
        .clone();
    Ok(Queue { url, arn })
}

/// The queue policy statement that lets this rule, and only it, send to the queue.
pub fn queue_statement(rule_name: &str, rule_arn: &str, queue_arn: &str) -> serde_json::Value {
    serde_json::json!({
        "Sid": format!("TrailwardenEventBridge-{rule_name}"),
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    })
}

/// `setup eventbridge --to-sqs`: the rule, its SQS target, and the queue policy statement
/// that lets EventBridge send; changes only what differs.
///
/// # Errors
/// An AWS call fails; the message names it.
pub async fn to_sqs(
    events: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    queue: &Queue,
    place: &super::trail::Place,
    dry_run: bool,
) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let description = "trailwarden: CloudTrail events to the queue trailwarden consumes";
    let expected = rule_arn(place, name);
    let rule_arn =
        converge_rule(events, name, description, &expected, dry_run, &mut changes).await?;
    converge_target(events, name, &queue.arn, None, dry_run, &mut changes).await?;

    let current = sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .map_err(|e| sdk_error("sqs:GetQueueAttributes", e))?
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::Policy))
        .cloned();
    let wanted = policy::merge(
        current.as_deref(),
        &[queue_statement(name, &rule_arn, &queue.arn)],
    )
    .with_context(|| format!("the policy of queue {}", queue.arn))?;
    if !policy::same(current.as_deref(), &wanted) {
        changes.push(Change::new(
            format!("SQS queue {}", queue.arn),
            format!(
                "allow rule {name} to send (queue policy statement TrailwardenEventBridge-{name})"
            ),
        ));
        if !dry_run {
            sqs.set_queue_attributes()
                .queue_url(&queue.url)
                .attributes(
                    aws_sdk_sqs::types::QueueAttributeName::Policy,
                    wanted.to_string(),
                )
                .send()
                .await
                .map_err(|e| sdk_error("sqs:SetQueueAttributes", e))?;
        }
    }
    Ok(changes)
}
