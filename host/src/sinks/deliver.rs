//! Sending one delivery: to Security Hub (ASFF), S3 (OCSF JSON lines) or a webhook
//! (OCSF, signed). Each send is idempotent for the same delivery: Security Hub updates a
//! finding of the same `Id`, S3 replaces the object of the same key, a webhook receiver
//! deduplicates by the `delivery` field.

use std::collections::{BTreeMap, HashMap};

use aws_actions::ExecError;
use aws_sdk_securityhub::types as hub;
use serde_json::{json, Value};

use super::store::Delivery;
use crate::report::asff;
use crate::report::ocsf;
use crate::report::queries::FindingFacts;
use crate::sink_settings::{SinkConfig, SinkKind};

/// Rule id -> its ATT&CK technique ids (for OCSF `attacks` and ASFF `Types`).
pub type Techniques = HashMap<String, Vec<String>>;

/// A sink with its client.
pub enum Destination {
    SecurityHub {
        client: aws_sdk_securityhub::Client,
        /// `(region, account)` whose default product imports the findings.
        product: Option<(String, String)>,
    },
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
    Webhook {
        url: String,
        secret: String,
    },
}

/// What a delivery did, for the log and the store.
#[derive(Debug, Default)]
pub struct Sent {
    pub findings: usize,
    /// Where it went (S3 keys), for the log.
    pub places: Vec<String>,
    /// Findings the destination refused or that it cannot take, with why.
    pub refused: Vec<String>,
}

impl Destination {
    /// The destination of `sink`, with clients made from the daemon's SDK configuration.
    pub fn of(
        sink: &SinkConfig,
        sdk: &aws_config::SdkConfig,
        target: &crate::aws::AwsTarget,
        platform_account: Option<&str>,
    ) -> Destination {
        match &sink.kind {
            SinkKind::SecurityHub { region, account } => {
                let mut conf = aws_sdk_securityhub::config::Builder::from(sdk);
                if let Some(region) = region {
                    conf = conf.region(aws_config::Region::new(region.clone()));
                }
                let conf = conf.build();
                let region = conf.region().map(|r| r.to_string());
                let account = account.clone().or(platform_account.map(str::to_owned));
                Destination::SecurityHub {
                    client: aws_sdk_securityhub::Client::from_conf(conf),
                    product: region.zip(account),
                }
            }
            SinkKind::S3 { bucket, prefix } => Destination::S3 {
                client: target.s3(sdk),
                bucket: bucket.clone(),
                prefix: prefix.clone(),
            },
            SinkKind::Webhook { url, .. } => Destination::Webhook {
                url: url.clone(),
                secret: sink.webhook_secret(),
            },
        }
    }

    /// Sends the findings of `delivery`.
    ///
    /// # Errors
    /// The destination could not be reached or refused the whole delivery; retryable or not.
    pub async fn send(
        &self,
        delivery: &Delivery,
        findings: &[FindingFacts],
        techniques: &Techniques,
    ) -> Result<Sent, ExecError> {
        match self {
            Destination::SecurityHub { client, product } => {
                send_securityhub(client, product.as_ref(), findings, techniques).await
            }
            Destination::S3 {
                client,
                bucket,
                prefix,
            } => send_s3(client, bucket, prefix, delivery, findings, techniques).await,
            Destination::Webhook { url, secret } => {
                let body = json!({
                    "delivery": delivery.key(),
                    "sink": delivery.sink,
                    "first_id": delivery.first_id,
                    "last_id": delivery.last_id,
                    "findings": findings
                        .iter()
                        .map(|f| ocsf::detection_finding(f, techniques))
                        .collect::<Vec<_>>(),
                });
                aws_actions::post_webhook(url, secret, &body).await?;
                Ok(Sent {
                    findings: findings.len(),
                    ..Sent::default()
                })
            }
        }
    }
}

/// The S3 key of one day's findings of a delivery.
pub fn s3_key(prefix: &str, day: &str, delivery: &Delivery) -> String {
    let name = format!("dt={day}/{}.jsonl", delivery.key());
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

async fn send_s3(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    delivery: &Delivery,
    findings: &[FindingFacts],
    techniques: &Techniques,
) -> Result<Sent, ExecError> {
    // One object per day of the OCSF `time` (when the finding was recorded), so a
    // date-partitioned table finds each finding under the day it was raised.
    let mut by_day: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for facts in findings {
        let day = facts.finding.recorded_at.get(..10).unwrap_or("unknown");
        let lines = by_day.entry(day.to_string()).or_default();
        serde_json::to_writer(&mut *lines, &ocsf::detection_finding(facts, techniques))
            .map_err(|e| ExecError::invalid(format!("OCSF: {e}")))?;
        lines.push(b'\n');
    }
    let mut sent = Sent {
        findings: findings.len(),
        ..Sent::default()
    };
    for (day, body) in by_day {
        let key = s3_key(prefix, &day, delivery);
        client
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/x-ndjson")
            .body(body.into())
            .send()
            .await
            .map_err(|e| ExecError::from_sdk(&format!("s3:PutObject s3://{bucket}/{key}"), &e))?;
        sent.places.push(format!("s3://{bucket}/{key}"));
    }
    Ok(sent)
}

async fn send_securityhub(
    client: &aws_sdk_securityhub::Client,
    product: Option<&(String, String)>,
    findings: &[FindingFacts],
    techniques: &Techniques,
) -> Result<Sent, ExecError> {
    let mut sent = Sent::default();
    let mut batch = Vec::new();
    for facts in findings {
        let Some(mut finding) = asff::finding(facts, techniques) else {
            sent.refused.push(format!(
                "finding {} names no 12-digit AWS account (Security Hub requires AwsAccountId)",
                facts.id
            ));
            continue;
        };
        if let Some((region, account)) = product {
            finding["ProductArn"] = json!(format!(
                "arn:aws:securityhub:{region}:{account}:product/{account}/default"
            ));
        }
        batch.push(to_sdk(&finding));
    }
    if batch.is_empty() {
        return Ok(sent);
    }
    let count = batch.len();
    let out = client
        .batch_import_findings()
        .set_findings(Some(batch))
        .send()
        .await
        .map_err(|e| ExecError::from_sdk("securityhub:BatchImportFindings", &e))?;
    for failed in out.failed_findings() {
        sent.refused.push(format!(
            "{}: {} {}",
            failed.id().unwrap_or("?"),
            failed.error_code().unwrap_or(""),
            failed.error_message().unwrap_or("")
        ));
    }
    sent.findings = count - out.failed_findings().len();
    Ok(sent)
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The SDK's finding for an ASFF document made by [`asff::finding`], field by field.
pub fn to_sdk(finding: &Value) -> hub::AwsSecurityFinding {
    let mut builder = hub::AwsSecurityFinding::builder()
        .set_schema_version(text(finding, "SchemaVersion"))
        .set_id(text(finding, "Id"))
        .set_product_arn(text(finding, "ProductArn"))
        .set_product_name(text(finding, "ProductName"))
        .set_company_name(text(finding, "CompanyName"))
        .set_generator_id(text(finding, "GeneratorId"))
        .set_aws_account_id(text(finding, "AwsAccountId"))
        .set_region(text(finding, "Region"))
        .set_first_observed_at(text(finding, "FirstObservedAt"))
        .set_last_observed_at(text(finding, "LastObservedAt"))
        .set_created_at(text(finding, "CreatedAt"))
        .set_updated_at(text(finding, "UpdatedAt"))
        .set_title(text(finding, "Title"))
        .set_description(text(finding, "Description"))
        .record_state(hub::RecordState::Active)
        .workflow(
            hub::Workflow::builder()
                .status(hub::WorkflowStatus::New)
                .build(),
        );
    for kind in finding["Types"].as_array().into_iter().flatten() {
        if let Some(kind) = kind.as_str() {
            builder = builder.types(kind);
        }
    }
    let severity = &finding["Severity"];
    builder = builder.severity(
        hub::Severity::builder()
            .set_label(text(severity, "Label").map(|l| hub::SeverityLabel::from(l.as_str())))
            .set_original(text(severity, "Original"))
            .build(),
    );
    for resource in finding["Resources"].as_array().into_iter().flatten() {
        builder = builder.resources(
            hub::Resource::builder()
                .set_type(text(resource, "Type"))
                .set_id(text(resource, "Id"))
                .set_partition(
                    text(resource, "Partition").map(|p| hub::Partition::from(p.as_str())),
                )
                .set_region(text(resource, "Region"))
                .build(),
        );
    }
    if let Some(fields) = finding["ProductFields"].as_object() {
        for (key, value) in fields {
            if let Some(value) = value.as_str() {
                builder = builder.product_fields(key, value);
            }
        }
    }
    let call = &finding["Action"]["AwsApiCallAction"];
    if call.is_object() {
        let mut api = hub::AwsApiCallAction::builder()
            .set_api(text(call, "Api"))
            .set_service_name(text(call, "ServiceName"))
            .set_caller_type(text(call, "CallerType"));
        if let Some(ip) = call["RemoteIpDetails"]["IpAddressV4"].as_str() {
            api = api.remote_ip_details(
                hub::ActionRemoteIpDetails::builder()
                    .ip_address_v4(ip)
                    .build(),
            );
        }
        builder = builder.action(
            hub::Action::builder()
                .action_type("AWS_API_CALL")
                .aws_api_call_action(api.build())
                .build(),
        );
    }
    builder.build()
}
