//! `trailwarden setup trail --check`: each trail against what trailwarden needs and the CIS
//! AWS Foundations logging controls. Reads only.

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::trail::{self, Selectors};
use super::{policy, sdk_error};

/// One control's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// It could not be read (permissions, a bucket in another account): not a pass.
    Error,
}

impl Status {
    fn of(pass: bool) -> Status {
        if pass {
            Status::Pass
        } else {
            Status::Fail
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

/// One control of one trail.
#[derive(Debug, Clone, Serialize)]
pub struct Control {
    /// Stable name, e.g. `log_file_validation`.
    pub id: &'static str,
    /// The CIS AWS Foundations Benchmark (v1.5) recommendation, where there is one.
    pub cis: Option<&'static str>,
    pub status: Status,
    pub detail: String,
}

/// The controls of one trail.
#[derive(Debug, Clone, Serialize)]
pub struct TrailReport {
    pub trail: String,
    pub controls: Vec<Control>,
}

/// Everything checked.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// True when every control of every trail passed.
    pub passed: bool,
    pub trails: Vec<TrailReport>,
}

fn control(id: &'static str, cis: Option<&'static str>, status: Status, detail: String) -> Control {
    Control {
        id,
        cis,
        status,
        detail,
    }
}

/// Checks the named trail, or every trail visible in the region (shadow trails of
/// multi-region trails included) when `name` is `None`. No trail at all is a failure.
///
/// # Errors
/// Listing or reading trails fails (a bucket that cannot be read is a control in error,
/// not an error of the whole check).
pub async fn check(clients: &trail::Clients, name: Option<&str>) -> Result<Report> {
    let trails = match name {
        Some(name) => trail::get_trail(&clients.cloudtrail, name)
            .await?
            .into_iter()
            .collect::<Vec<_>>(),
        None => clients
            .cloudtrail
            .describe_trails()
            .include_shadow_trails(true)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTrails", e))?
            .trail_list()
            .to_vec(),
    };
    let mut reports = Vec::new();
    if trails.is_empty() {
        reports.push(TrailReport {
            trail: name.unwrap_or("(any)").to_string(),
            controls: vec![control(
                "trail_exists",
                Some("3.1"),
                Status::Fail,
                match name {
                    Some(name) => format!("no trail named {name}"),
                    None => "no trail in this region".to_string(),
                },
            )],
        });
    }
    for trail in &trails {
        reports.push(check_trail(clients, trail).await?);
    }
    let passed = reports
        .iter()
        .all(|r| r.controls.iter().all(|c| c.status == Status::Pass));
    Ok(Report {
        passed,
        trails: reports,
    })
}

async fn check_trail(
    clients: &trail::Clients,
    trail: &aws_sdk_cloudtrail::types::Trail,
) -> Result<TrailReport> {
    let name = trail.name().unwrap_or_default().to_string();
    // A shadow trail (another region's multi-region trail) is read by its ARN.
    let handle = trail.trail_arn().unwrap_or(&name).to_string();
    let mut controls = Vec::new();
    let flag = |value: Option<bool>| value.unwrap_or(false);

    controls.push(control(
        "multi_region",
        Some("3.1"),
        Status::of(flag(trail.is_multi_region_trail())),
        format!(
            "IsMultiRegionTrail = {}",
            flag(trail.is_multi_region_trail())
        ),
    ));
    controls.push(management_events(clients, &handle).await);
    controls.push(control(
        "log_file_validation",
        Some("3.2"),
        Status::of(flag(trail.log_file_validation_enabled())),
        format!(
            "LogFileValidationEnabled = {}",
            flag(trail.log_file_validation_enabled())
        ),
    ));
    controls.push(bucket_not_public(clients, trail.s3_bucket_name()).await);
    let log_group = trail
        .cloud_watch_logs_log_group_arn()
        .filter(|g| !g.is_empty());
    controls.push(control(
        "cloudwatch_logs",
        Some("3.4"),
        Status::of(log_group.is_some()),
        log_group.map_or_else(
            || "no CloudWatch Logs log group".to_string(),
            |g| format!("delivers to {g}"),
        ),
    ));
    let key = trail.kms_key_id().filter(|k| !k.is_empty());
    controls.push(control(
        "kms_encryption",
        Some("3.7"),
        Status::of(key.is_some()),
        key.map_or_else(
            || "log files not encrypted with a KMS key (SSE-KMS)".to_string(),
            |k| format!("KMS key {k}"),
        ),
    ));
    controls.push(
        match trail::is_logging(&clients.cloudtrail, &handle).await {
            Ok(on) => control(
                "logging",
                None,
                Status::of(on),
                if on { "logging" } else { "logging is stopped" }.to_string(),
            ),
            Err(e) => control("logging", None, Status::Error, format!("{e:#}")),
        },
    );
    Ok(TrailReport {
        trail: name,
        controls,
    })
}

/// Management events, reads and writes: a basic selector with management events and
/// `ReadWriteType` All, or an advanced selector on `eventCategory = Management` that does
/// not narrow `readOnly`. No selectors at all is AWS's default, which records them.
async fn management_events(clients: &trail::Clients, trail: &str) -> Control {
    let id = "management_events";
    let selectors = match trail::current_selectors(&clients.cloudtrail, trail).await {
        Ok(s) => s,
        Err(e) => return control(id, Some("3.1"), Status::Error, format!("{e:#}")),
    };
    let (pass, detail) = match &selectors {
        None => (true, "default selectors: all management events".to_string()),
        Some(Selectors::Basic(list)) => {
            let all = list
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["IncludeManagementEvents"] == true && s["ReadWriteType"] == "All");
            (all, format!("EventSelectors {list}"))
        }
        Some(Selectors::Advanced(list)) => {
            let all = list
                .as_array()
                .into_iter()
                .flatten()
                .any(records_all_management);
            (all, format!("AdvancedEventSelectors {list}"))
        }
    };
    let detail = if pass {
        detail
    } else {
        format!("management events (read and write) not all recorded: {detail}")
    };
    control(id, Some("3.1"), Status::of(pass), detail)
}

fn records_all_management(selector: &Value) -> bool {
    let fields = selector["FieldSelectors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let management = fields.iter().any(|f| {
        f["Field"] == "eventCategory"
            && f["Equals"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == "Management"))
    });
    let narrowed = fields.iter().any(|f| f["Field"] != "eventCategory");
    management && !narrowed
}

async fn bucket_not_public(clients: &trail::Clients, bucket: Option<&str>) -> Control {
    let id = "bucket_not_public";
    let cis = Some("3.3");
    let Some(bucket) = bucket else {
        return control(id, cis, Status::Fail, "the trail names no bucket".into());
    };
    let blocked = match trail::public_access_blocked(&clients.s3, bucket).await {
        Ok(b) => b,
        Err(e) => return control(id, cis, Status::Error, format!("bucket {bucket}: {e:#}")),
    };
    if blocked {
        return control(
            id,
            cis,
            Status::Pass,
            format!("bucket {bucket}: public access block on"),
        );
    }
    let policy = match trail::bucket_policy(&clients.s3, bucket).await {
        Ok(p) => p,
        Err(e) => return control(id, cis, Status::Error, format!("bucket {bucket}: {e:#}")),
    };
    let acl_public = match clients.s3.get_bucket_acl().bucket(bucket).send().await {
        Ok(acl) => acl.grants().iter().any(|g| {
            g.grantee().and_then(|g| g.uri()).is_some_and(|uri| {
                uri.ends_with("/global/AllUsers") || uri.ends_with("/global/AuthenticatedUsers")
            })
        }),
        Err(e) => {
            return control(
                id,
                cis,
                Status::Error,
                format!("bucket {bucket}: {:#}", sdk_error("GetBucketAcl", e)),
            )
        }
    };
    let policy_public = policy.as_deref().is_some_and(policy::is_public);
    let status = Status::of(!acl_public && !policy_public);
    let detail = match (policy_public, acl_public) {
        (true, _) => format!("bucket {bucket}: its policy allows anyone (Principal \"*\")"),
        (_, true) => format!("bucket {bucket}: its ACL grants AllUsers or AuthenticatedUsers"),
        _ => format!("bucket {bucket}: not public, but no public access block to keep it so"),
    };
    control(id, cis, status, detail)
}

/// The report as a table: one line per control.
pub fn table(report: &Report) -> String {
    let mut out = format!(
        "{:<24} {:<20} {:<5} {:<6} DETAIL\n",
        "TRAIL", "CONTROL", "CIS", "STATUS"
    );
    for trail in &report.trails {
        for c in &trail.controls {
            out.push_str(&format!(
                "{:<24} {:<20} {:<5} {:<6} {}\n",
                trail.trail,
                c.id,
                c.cis.unwrap_or("-"),
                c.status.as_str(),
                c.detail
            ));
        }
    }
    out.push_str(if report.passed {
        "all controls pass\n"
    } else {
        "some controls fail: `trailwarden setup trail --name N --bucket B ...` fixes what it manages\n"
    });
    out
}
