//! `trailwarden setup trail`: converges a CloudTrail trail, its S3 bucket and its event
//! selectors on what trailwarden needs.
//!
//! Each resource is read, compared with the wanted state, and changed only where it
//! differs, so a second run changes nothing; with `dry_run` nothing is changed and the
//! differences are returned all the same. What a flag does not mention is left as it is on
//! an existing trail (no `--kms-key` does not remove a key, no `--multi-region` does not
//! make a multi-region trail single-region).

use anyhow::{Context, Result};
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use serde_json::{json, Value};

use super::{partition_of, policy, sdk_error, Change};

/// Statement ids of the bucket policy statements trailwarden owns.
const ACL_CHECK_SID: &str = "TrailwardenCloudTrailAclCheck";
const WRITE_SID: &str = "TrailwardenCloudTrailWrite";

/// At most this many bytes of `--selectors` JSON (AWS allows 500 field conditions).
pub const MAX_SELECTORS_BYTES: u64 = 256 * 1024;

/// Which management events the trail records (`--management`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Management {
    Read,
    Write,
    All,
    None,
}

/// The trail as wanted.
#[derive(Debug, Clone)]
pub struct TrailSpec {
    pub name: String,
    pub bucket: String,
    /// `Some(true)` turns it on; `None` leaves an existing trail's setting (off on create).
    pub multi_region: Option<bool>,
    pub organization: Option<bool>,
    pub kms_key: Option<String>,
    /// Log group ARN and the role CloudTrail assumes to write to it.
    pub cloudwatch_logs: Option<(String, String)>,
    pub selectors: Selectors,
}

/// Event selectors in the JSON shape AWS takes and returns, normalised so that equal
/// selectors compare equal.
#[derive(Debug, Clone, PartialEq)]
pub enum Selectors {
    /// `EventSelectors`.
    Basic(Value),
    /// `AdvancedEventSelectors`.
    Advanced(Value),
}

/// Where the setup acts.
#[derive(Debug, Clone)]
pub struct Place {
    pub account: String,
    pub region: String,
}

impl Place {
    pub fn partition(&self) -> &'static str {
        partition_of(&self.region)
    }

    /// The ARN the trail has (or will have): the bucket policy's `aws:SourceArn`.
    pub fn trail_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:cloudtrail:{}:{}:trail/{name}",
            self.partition(),
            self.region,
            self.account
        )
    }

    /// A log group given by name becomes its ARN (CloudTrail takes only ARNs).
    pub fn log_group_arn(&self, group: &str) -> String {
        if group.starts_with("arn:") {
            group.to_string()
        } else {
            format!(
                "arn:{}:logs:{}:{}:log-group:{group}:*",
                self.partition(),
                self.region,
                self.account
            )
        }
    }
}

/// The clients setup uses.
pub struct Clients {
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub s3: aws_sdk_s3::Client,
}

/// Basic selectors from `--management` and `--data` (`s3:BUCKET[/PREFIX]`, `lambda:*` or
/// `lambda:FUNCTION_ARN`).
///
/// # Errors
/// A `--data` value of another form, or a selector that records nothing.
pub fn basic_selectors(
    management: Management,
    data: &[String],
    partition: &str,
) -> Result<Selectors> {
    let mut s3_values = Vec::new();
    let mut lambda_values = Vec::new();
    for item in data {
        if let Some(rest) = item.strip_prefix("s3:") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            anyhow::ensure!(
                !bucket.is_empty() && !bucket.contains('*'),
                "--data {item:?}: expected s3:BUCKET or s3:BUCKET/PREFIX"
            );
            s3_values.push(json!(format!("arn:{partition}:s3:::{bucket}/{prefix}")));
        } else if let Some(rest) = item.strip_prefix("lambda:") {
            let value = match rest {
                "*" => format!("arn:{partition}:lambda"),
                arn if arn.starts_with("arn:") && arn.contains(":function:") => arn.to_string(),
                _ => anyhow::bail!("--data {item:?}: expected lambda:* or lambda:FUNCTION_ARN"),
            };
            lambda_values.push(json!(value));
        } else {
            anyhow::bail!(
                "--data {item:?}: expected s3:BUCKET[/PREFIX], lambda:* or lambda:FUNCTION_ARN"
            );
        }
    }
    anyhow::ensure!(
        management != Management::None || !data.is_empty(),
        "--management none without --data records nothing"
    );
    let mut resources = Vec::new();
    if !s3_values.is_empty() {
        resources.push(json!({"Type": "AWS::S3::Object", "Values": s3_values}));
    }
    if !lambda_values.is_empty() {
        resources.push(json!({"Type": "AWS::Lambda::Function", "Values": lambda_values}));
    }
    let read_write = match management {
        Management::Read => "ReadOnly",
        Management::Write => "WriteOnly",
        Management::All | Management::None => "All",
    };
    Ok(Selectors::Basic(json!([{
        "ReadWriteType": read_write,
        "IncludeManagementEvents": management != Management::None,
        "DataResources": resources,
    }])))
}

/// Advanced selectors from a `--selectors` file: a JSON list of advanced event selectors
/// as AWS takes them, or an object with that list under `AdvancedEventSelectors`.
///
/// # Errors
/// Not JSON, not that shape, too large, or empty.
pub fn advanced_selectors(text: &str) -> Result<Selectors> {
    anyhow::ensure!(
        text.len() as u64 <= MAX_SELECTORS_BYTES,
        "the selectors file is larger than {MAX_SELECTORS_BYTES} bytes"
    );
    let mut value: Value = serde_json::from_str(text).context("the selectors file is not JSON")?;
    if let Some(inner) = value.get_mut("AdvancedEventSelectors") {
        value = inner.take();
    }
    let list = value
        .as_array()
        .context("expected a JSON list of advanced event selectors")?;
    anyhow::ensure!(!list.is_empty(), "the selectors file has no selector");
    let sdk = list
        .iter()
        .map(advanced_from_json)
        .collect::<Result<Vec<_>>>()?;
    Ok(Selectors::Advanced(Value::Array(
        sdk.iter().map(advanced_to_json).collect(),
    )))
}

const FIELD_CONDITIONS: [&str; 6] = [
    "Equals",
    "StartsWith",
    "EndsWith",
    "NotEquals",
    "NotStartsWith",
    "NotEndsWith",
];

fn strings(value: &Value, what: &str) -> Result<Vec<String>> {
    value
        .as_array()
        .with_context(|| format!("{what} must be a list of strings"))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .with_context(|| format!("{what} must be a list of strings"))
        })
        .collect()
}

fn advanced_from_json(selector: &Value) -> Result<AdvancedEventSelector> {
    let object = selector
        .as_object()
        .context("each advanced event selector must be a JSON object")?;
    for key in object.keys() {
        anyhow::ensure!(
            key == "Name" || key == "FieldSelectors",
            "unknown key {key:?} in an advanced event selector (expected Name, FieldSelectors)"
        );
    }
    let fields = object
        .get("FieldSelectors")
        .and_then(Value::as_array)
        .context("an advanced event selector needs a FieldSelectors list")?;
    let mut builder = AdvancedEventSelector::builder().set_name(
        object
            .get("Name")
            .and_then(Value::as_str)
            .map(str::to_string),
    );
    for field in fields {
        let field_object = field
            .as_object()
            .context("each field selector must be a JSON object")?;
        let name = field_object
            .get("Field")
            .and_then(Value::as_str)
            .context("a field selector needs a Field")?;
        let mut fb = AdvancedFieldSelector::builder().field(name);
        for (key, value) in field_object {
            let list = || strings(value, &format!("{name}.{key}"));
            fb = match key.as_str() {
                "Field" => fb,
                "Equals" => fb.set_equals(Some(list()?)),
                "StartsWith" => fb.set_starts_with(Some(list()?)),
                "EndsWith" => fb.set_ends_with(Some(list()?)),
                "NotEquals" => fb.set_not_equals(Some(list()?)),
                "NotStartsWith" => fb.set_not_starts_with(Some(list()?)),
                "NotEndsWith" => fb.set_not_ends_with(Some(list()?)),
                other => anyhow::bail!(
                    "unknown key {other:?} in field selector {name} (expected Field, {})",
                    FIELD_CONDITIONS.join(", ")
                ),
            };
        }
        builder = builder.field_selectors(fb.build()?);
    }
    Ok(builder.build()?)
}

fn advanced_to_json(selector: &AdvancedEventSelector) -> Value {
    let fields: Vec<Value> = selector
        .field_selectors()
        .iter()
        .map(|f| {
            let mut object = serde_json::Map::new();
            object.insert("Field".into(), json!(f.field()));
            let conditions = [
                f.equals(),
                f.starts_with(),
                f.ends_with(),
                f.not_equals(),
                f.not_starts_with(),
                f.not_ends_with(),
            ];
            for (key, values) in FIELD_CONDITIONS.iter().zip(conditions) {
                if !values.is_empty() {
                    object.insert((*key).into(), json!(values));
                }
            }
            Value::Object(object)
        })
        .collect();
    match selector.name() {
        Some(name) => json!({"Name": name, "FieldSelectors": fields}),
        None => json!({"FieldSelectors": fields}),
    }
}

fn basic_to_json(selector: &EventSelector) -> Value {
    let resources: Vec<Value> = selector
        .data_resources()
        .iter()
        .map(|r| json!({"Type": r.r#type().unwrap_or_default(), "Values": r.values()}))
        .collect();
    json!({
        "ReadWriteType": selector.read_write_type().map_or("All", |t| t.as_str()),
        "IncludeManagementEvents": selector.include_management_events().unwrap_or(true),
        "DataResources": resources,
    })
}

fn basic_from_json(selector: &Value) -> EventSelector {
    let resources = selector["DataResources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            DataResource::builder()
                .set_type(r["Type"].as_str().map(str::to_string))
                .set_values(strings(&r["Values"], "Values").ok())
                .build()
        })
        .collect();
    EventSelector::builder()
        .read_write_type(ReadWriteType::from(
            selector["ReadWriteType"].as_str().unwrap_or("All"),
        ))
        .include_management_events(
            selector["IncludeManagementEvents"]
                .as_bool()
                .unwrap_or(true),
        )
        .set_data_resources(Some(resources))
        .build()
}

/// The selectors a trail has, normalised; `None` when it has none (AWS's default records
/// every management event; moto returns none).
///
/// # Errors
/// The GetEventSelectors call fails.
pub async fn current_selectors(
    cloudtrail: &aws_sdk_cloudtrail::Client,
    trail: &str,
) -> Result<Option<Selectors>> {
    let out = cloudtrail
        .get_event_selectors()
        .trail_name(trail)
        .send()
        .await
        .map_err(|e| sdk_error("GetEventSelectors", e))?;
    if !out.advanced_event_selectors().is_empty() {
        return Ok(Some(Selectors::Advanced(Value::Array(
            out.advanced_event_selectors()
                .iter()
                .map(advanced_to_json)
                .collect(),
        ))));
    }
    if !out.event_selectors().is_empty() {
        return Ok(Some(Selectors::Basic(Value::Array(
            out.event_selectors().iter().map(basic_to_json).collect(),
        ))));
    }
    Ok(None)
}

/// The trail, or `None` when there is no trail of that name.
///
/// # Errors
/// The GetTrail call fails otherwise.
pub async fn get_trail(
    cloudtrail: &aws_sdk_cloudtrail::Client,
    name: &str,
) -> Result<Option<aws_sdk_cloudtrail::types::Trail>> {
    match cloudtrail.get_trail().name(name).send().await {
        Ok(out) => Ok(out.trail().cloned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_trail_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error("GetTrail", e)),
    }
}

/// The bucket policy statements CloudTrail needs to deliver this trail's logs, limited to
/// this trail by `aws:SourceArn`. An organisation trail also writes under
/// `AWSLogs/o-ORGID/`.
pub fn bucket_statements(spec: &TrailSpec, place: &Place, organization: bool) -> Vec<Value> {
    let partition = place.partition();
    let bucket_arn = format!("arn:{partition}:s3:::{}", spec.bucket);
    let source = place.trail_arn(&spec.name);
    let mut objects = vec![json!(format!("{bucket_arn}/AWSLogs/{}/*", place.account))];
    if organization {
        objects.push(json!(format!("{bucket_arn}/AWSLogs/o-*")));
    }
    vec![
        json!({
            "Sid": ACL_CHECK_SID,
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceArn": source}},
        }),
        json!({
            "Sid": WRITE_SID,
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringEquals": {
                "s3:x-amz-acl": "bucket-owner-full-control",
                "aws:SourceArn": source,
            }},
        }),
    ]
}

/// Brings the bucket, the trail, its selectors and its logging to `spec`; returns what
/// changed (or, with `dry_run`, what would change, changing nothing).
///
/// # Errors
/// An AWS call fails; the message names it. Changes made before the failure stay made
/// (running the command again picks up from there).
pub async fn converge(
    clients: &Clients,
    spec: &TrailSpec,
    place: &Place,
    dry_run: bool,
) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let existing = get_trail(&clients.cloudtrail, &spec.name).await?;
    let organization = spec
        .organization
        .or_else(|| existing.as_ref().and_then(|t| t.is_organization_trail()))
        .unwrap_or(false);
    converge_bucket(clients, spec, place, organization, dry_run, &mut changes).await?;
    converge_trail(
        clients,
        spec,
        place,
        existing.as_ref(),
        dry_run,
        &mut changes,
    )
    .await?;
    let exists = existing.is_some();
    converge_selectors(clients, spec, exists, dry_run, &mut changes).await?;
    converge_logging(clients, spec, exists, dry_run, &mut changes).await?;
    Ok(changes)
}

async fn converge_bucket(
    clients: &Clients,
    spec: &TrailSpec,
    place: &Place,
    organization: bool,
    dry_run: bool,
    changes: &mut Vec<Change>,
) -> Result<()> {
    let s3 = &clients.s3;
    let resource = format!("bucket {}", spec.bucket);
    let exists = match s3.head_bucket().bucket(&spec.bucket).send().await {
        Ok(_) => true,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => false,
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => false,
        Err(e) => return Err(sdk_error("HeadBucket", e)),
    };
    if !exists {
        changes.push(Change::new(
            &resource,
            format!("create in {}", place.region),
        ));
        if !dry_run {
            let mut create = s3.create_bucket().bucket(&spec.bucket);
            // us-east-1 is the one region that refuses a location constraint.
            if place.region != "us-east-1" {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(place.region.as_str()))
                        .build(),
                );
            }
            create
                .send()
                .await
                .map_err(|e| sdk_error("CreateBucket", e))?;
        }
    }

    let blocked = if exists {
        public_access_blocked(s3, &spec.bucket).await?
    } else {
        false
    };
    if !blocked {
        changes.push(Change::new(
            &resource,
            "block all public access (public access block, all four settings on)",
        ));
        if !dry_run {
            let all = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build();
            s3.put_public_access_block()
                .bucket(&spec.bucket)
                .public_access_block_configuration(all)
                .send()
                .await
                .map_err(|e| sdk_error("PutPublicAccessBlock", e))?;
        }
    }

    let current = if exists {
        bucket_policy(s3, &spec.bucket).await?
    } else {
        None
    };
    let wanted = policy::merge(
        current.as_deref(),
        &bucket_statements(spec, place, organization),
    )
    .with_context(|| format!("the policy of bucket {}", spec.bucket))?;
    if !policy::same(current.as_deref(), &wanted) {
        let verb = if current.is_some() { "update" } else { "put" };
        changes.push(Change::new(
            &resource,
            format!(
                "{verb} the bucket policy CloudTrail needs to deliver trail {}",
                spec.name
            ),
        ));
        if !dry_run {
            s3.put_bucket_policy()
                .bucket(&spec.bucket)
                .policy(wanted.to_string())
                .send()
                .await
                .map_err(|e| sdk_error("PutBucketPolicy", e))?;
        }
    }
    Ok(())
}

/// Whether all four public access block settings of the bucket are on.
///
/// # Errors
/// The call fails other than with "no configuration".
pub async fn public_access_blocked(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<bool> {
    match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => Ok(out.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        })),
        Err(e)
            if e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
                || e.as_service_error()
                    .and_then(|s| s.meta().code())
                    .is_some_and(|c| c == "NoSuchPublicAccessBlockConfiguration") =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk_error("GetPublicAccessBlock", e)),
    }
}

/// The bucket's policy text, `None` when it has none.
///
/// # Errors
/// The call fails other than with "no policy".
pub async fn bucket_policy(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Option<String>> {
    match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => Ok(out.policy().map(str::to_string)),
        Err(e)
            if e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
                || e.as_service_error()
                    .and_then(|s| s.meta().code())
                    .is_some_and(|c| c == "NoSuchBucketPolicy") =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error("GetBucketPolicy", e)),
    }
}

fn describe_optional(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".to_string(), str::to_string)
}

async fn converge_trail(
    clients: &Clients,
    spec: &TrailSpec,
    place: &Place,
    existing: Option<&aws_sdk_cloudtrail::types::Trail>,
    dry_run: bool,
    changes: &mut Vec<Change>,
) -> Result<()> {
    let resource = format!("trail {}", spec.name);
    let cloudtrail = &clients.cloudtrail;
    let (log_group, log_role) = spec
        .cloudwatch_logs
        .as_ref()
        .map(|(g, r)| (Some(place.log_group_arn(g)), Some(r.clone())))
        .unwrap_or((None, None));
    let Some(trail) = existing else {
        let mut settings = vec![
            format!("bucket {}", spec.bucket),
            "log file validation on".to_string(),
            "global service events on".to_string(),
        ];
        if spec.multi_region == Some(true) {
            settings.push("multi-region".into());
        }
        if spec.organization == Some(true) {
            settings.push("organization trail".into());
        }
        if let Some(key) = &spec.kms_key {
            settings.push(format!("KMS key {key}"));
        }
        if let Some(group) = &log_group {
            settings.push(format!("CloudWatch Logs {group}"));
        }
        changes.push(Change::new(
            &resource,
            format!("create ({})", settings.join(", ")),
        ));
        if !dry_run {
            cloudtrail
                .create_trail()
                .name(&spec.name)
                .s3_bucket_name(&spec.bucket)
                .enable_log_file_validation(true)
                .include_global_service_events(true)
                .is_multi_region_trail(spec.multi_region.unwrap_or(false))
                .is_organization_trail(spec.organization.unwrap_or(false))
                .set_kms_key_id(spec.kms_key.clone())
                .set_cloud_watch_logs_log_group_arn(log_group)
                .set_cloud_watch_logs_role_arn(log_role)
                .send()
                .await
                .map_err(|e| sdk_error("CreateTrail", e))?;
        }
        return Ok(());
    };

    let mut update = cloudtrail.update_trail().name(&spec.name);
    let mut differences = Vec::new();
    let mut flag = |field: &str, current: Option<bool>, wanted: Option<bool>| -> Option<bool> {
        let wanted = wanted?;
        if current.unwrap_or(false) == wanted {
            return None;
        }
        differences.push(format!("{field}: {} -> {wanted}", current.unwrap_or(false)));
        Some(wanted)
    };
    update = update
        .set_enable_log_file_validation(flag(
            "LogFileValidationEnabled",
            trail.log_file_validation_enabled(),
            Some(true),
        ))
        .set_include_global_service_events(flag(
            "IncludeGlobalServiceEvents",
            trail.include_global_service_events(),
            Some(true),
        ))
        .set_is_multi_region_trail(flag(
            "IsMultiRegionTrail",
            trail.is_multi_region_trail(),
            spec.multi_region,
        ))
        .set_is_organization_trail(flag(
            "IsOrganizationTrail",
            trail.is_organization_trail(),
            spec.organization,
        ));
    let mut text = |field: &str, current: Option<&str>, wanted: Option<&String>| {
        let wanted = wanted?;
        if current == Some(wanted.as_str()) {
            return None;
        }
        differences.push(format!(
            "{field}: {} -> {wanted}",
            describe_optional(current)
        ));
        Some(wanted.clone())
    };
    update = update
        .set_s3_bucket_name(text(
            "S3BucketName",
            trail.s3_bucket_name(),
            Some(&spec.bucket),
        ))
        .set_kms_key_id(text("KmsKeyId", trail.kms_key_id(), spec.kms_key.as_ref()));
    let group_changed = text(
        "CloudWatchLogsLogGroupArn",
        trail.cloud_watch_logs_log_group_arn(),
        log_group.as_ref(),
    );
    let role_changed = text(
        "CloudWatchLogsRoleArn",
        trail.cloud_watch_logs_role_arn(),
        log_role.as_ref(),
    );
    // CloudTrail takes the group and its role together.
    if group_changed.is_some() || role_changed.is_some() {
        update = update
            .set_cloud_watch_logs_log_group_arn(log_group)
            .set_cloud_watch_logs_role_arn(log_role);
    }
    for difference in &differences {
        changes.push(Change::new(&resource, difference.clone()));
    }
    if !differences.is_empty() && !dry_run {
        update
            .send()
            .await
            .map_err(|e| sdk_error("UpdateTrail", e))?;
    }
    Ok(())
}

async fn converge_selectors(
    clients: &Clients,
    spec: &TrailSpec,
    trail_exists: bool,
    dry_run: bool,
    changes: &mut Vec<Change>,
) -> Result<()> {
    let current = if trail_exists || !dry_run {
        current_selectors(&clients.cloudtrail, &spec.name).await?
    } else {
        None
    };
    if current.as_ref() == Some(&spec.selectors) {
        return Ok(());
    }
    let (kind, wanted) = match &spec.selectors {
        Selectors::Basic(v) => ("EventSelectors", v),
        Selectors::Advanced(v) => ("AdvancedEventSelectors", v),
    };
    changes.push(Change::new(
        format!("trail {}", spec.name),
        format!("put {kind} {wanted}"),
    ));
    if dry_run {
        return Ok(());
    }
    let mut put = clients
        .cloudtrail
        .put_event_selectors()
        .trail_name(&spec.name);
    match &spec.selectors {
        Selectors::Basic(list) => {
            for selector in list.as_array().into_iter().flatten() {
                put = put.event_selectors(basic_from_json(selector));
            }
        }
        Selectors::Advanced(list) => {
            for selector in list.as_array().into_iter().flatten() {
                put = put.advanced_event_selectors(advanced_from_json(selector)?);
            }
        }
    }
    put.send()
        .await
        .map_err(|e| sdk_error("PutEventSelectors", e))?;
    Ok(())
}

/// Whether the trail is logging.
///
/// # Errors
/// The GetTrailStatus call fails.
pub async fn is_logging(cloudtrail: &aws_sdk_cloudtrail::Client, name: &str) -> Result<bool> {
    Ok(cloudtrail
        .get_trail_status()
        .name(name)
        .send()
        .await
        .map_err(|e| sdk_error("GetTrailStatus", e))?
        .is_logging()
        .unwrap_or(false))
}

async fn converge_logging(
    clients: &Clients,
    spec: &TrailSpec,
    trail_exists: bool,
    dry_run: bool,
    changes: &mut Vec<Change>,
) -> Result<()> {
    let logging = if trail_exists || !dry_run {
        is_logging(&clients.cloudtrail, &spec.name).await?
    } else {
        false
    };
    if logging {
        return Ok(());
    }
    changes.push(Change::new(format!("trail {}", spec.name), "start logging"));
    if !dry_run {
        clients
            .cloudtrail
            .start_logging()
            .name(&spec.name)
            .send()
            .await
            .map_err(|e| sdk_error("StartLogging", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_selectors_from_flags() {
        let data = ["s3:logs/AWSLogs".to_string(), "lambda:*".to_string()];
        let Selectors::Basic(v) = basic_selectors(Management::Write, &data, "aws").unwrap() else {
            panic!("basic expected");
        };
        assert_eq!(v[0]["ReadWriteType"], "WriteOnly");
        assert_eq!(v[0]["IncludeManagementEvents"], true);
        assert_eq!(
            v[0]["DataResources"],
            json!([
                {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::logs/AWSLogs"]},
                {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
            ])
        );
        assert!(basic_selectors(Management::None, &[], "aws").is_err());
        assert!(basic_selectors(Management::All, &["dynamodb:t".into()], "aws").is_err());
        assert!(basic_selectors(Management::All, &["s3:".into()], "aws").is_err());
    }

    #[test]
    fn advanced_selectors_round_trip_and_refuse_unknown_keys() {
        let text = r#"[{"Name":"mgmt","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}]"#;
        let Selectors::Advanced(v) = advanced_selectors(text).unwrap() else {
            panic!("advanced expected");
        };
        assert_eq!(v, serde_json::from_str::<Value>(text).unwrap());
        let wrapped = format!(r#"{{"AdvancedEventSelectors":{text}}}"#);
        assert_eq!(
            advanced_selectors(&wrapped).unwrap(),
            Selectors::Advanced(v)
        );
        assert!(
            advanced_selectors(r#"[{"FieldSelectors":[{"Field":"x","Like":["y"]}]}]"#).is_err()
        );
        assert!(advanced_selectors("[]").is_err());
        assert!(advanced_selectors("{").is_err());
    }
}
