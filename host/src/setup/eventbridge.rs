//! `trailwarden setup eventbridge`: points CloudTrail management events at the daemon
//! through an EventBridge API destination.
//!
//! Creates (or updates, so that running it again is harmless) a connection with API-key
//! auth carrying the daemon's ingest token, an API destination `POST PUBLIC_URL/v1/events`,
//! and a rule `{"detail-type": [{"suffix": "via CloudTrail"}]}` targeting it with the given
//! IAM role (EventBridge needs one to invoke API destinations).

use anyhow::{Context, Result};
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::{
    ApiDestinationHttpMethod, ConnectionAuthorizationType,
    CreateConnectionApiKeyAuthRequestParameters, CreateConnectionAuthRequestParameters, RuleState,
    Target, UpdateConnectionApiKeyAuthRequestParameters, UpdateConnectionAuthRequestParameters,
};
use serde::Serialize;

use crate::daemon::token::Token;

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

    let rule = client
        .put_rule()
        .name(setup.name)
        .description(description)
        .event_pattern(CLOUDTRAIL_PATTERN)
        .state(RuleState::Enabled)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
        .context("PutRule failed")?;
    let rule_arn = rule.rule_arn().unwrap_or_default().to_string();

    let targets = client
        .put_targets()
        .rule(setup.name)
        .targets(
            Target::builder()
                .id("trailwarden")
                .arn(&api_destination_arn)
                .role_arn(setup.role_arn)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(e)))
        .context("PutTargets failed")?;
    if targets.failed_entry_count() > 0 {
        let reasons: Vec<String> = targets
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
    Ok(Created {
        connection_arn,
        api_destination_arn,
        rule_arn,
        endpoint,
    })
}
