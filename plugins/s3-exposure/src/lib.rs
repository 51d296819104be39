//! `s3-exposure`: an S3 bucket made public by its policy or ACL (and blocked again), or its
//! default encryption, versioning, MFA delete or server access logging turned off.
//!
//! Successful calls only (no `errorCode`/`errorMessage`) to `s3.amazonaws.com`, as API calls
//! (not their VPC endpoint network activity copies):
//!
//! | rule id | event | severity | response |
//! |---|---|---|---|
//! | `aws.s3.bucket-policy-public` | `PutBucketPolicy` whose policy has a public statement (the SDK's [`policy`]) | high | `s3.put-public-access-block` |
//! | `aws.s3.bucket-acl-public` | `PutBucketAcl` granting `AllUsers` or `AuthenticatedUsers` ([`acl`]) | high | `s3.put-public-access-block` |
//! | `aws.s3.encryption-removed` | `DeleteBucketEncryption` | medium | `notify.send` |
//! | `aws.s3.versioning-suspended` | `PutBucketVersioning` with `Status` `Suspended` (or `Disabled`) | medium | `notify.send` |
//! | `aws.s3.mfa-delete-disabled` | `PutBucketVersioning` with `MfaDelete` `Disabled` | medium | `notify.send` |
//! | `aws.s3.logging-disabled` | `PutBucketLogging` whose `BucketLoggingStatus` has no `LoggingEnabled` | medium | `notify.send` |
//!
//! One `PutBucketVersioning` can raise both of its rules. The public access block puts all
//! four settings on: `RestrictPublicBuckets` makes a public policy ineffective and
//! `IgnorePublicAcls` a public ACL, without changing either (the admin can still see, and
//! fix, what was granted). Buckets meant to be public (websites, public datasets) are listed
//! in the config's `public_buckets`: their public policies and ACLs raise nothing. The notify
//! target is the config's `notify_target` (default `security-team`).
//!
//! Panther's `AWS.CloudTrail.ResourceMadePublic` judges the same policies, and those of ECR,
//! OpenSearch, KMS, SQS, SNS, Lambda and Secrets Manager: it is mapped in `resource-exposure`,
//! which judges them with the same SDK module ([`policy`]).

pub mod acl;

use trailwarden_plugin_sdk::capability::{log_receipt, NOTIFY_SEND, S3_PUT_PUBLIC_ACCESS_BLOCK};
use trailwarden_plugin_sdk::json::{get_ci, resource_arns};
use trailwarden_plugin_sdk::policy::{self, PublicStatement};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    capitalize, Batch, Config, Descriptor, Event, Finding, Rule, Severity,
};

use acl::PublicGrant;

pub const POLICY_PUBLIC: &str = "aws.s3.bucket-policy-public";
pub const ACL_PUBLIC: &str = "aws.s3.bucket-acl-public";
pub const ENCRYPTION_REMOVED: &str = "aws.s3.encryption-removed";
pub const VERSIONING_SUSPENDED: &str = "aws.s3.versioning-suspended";
pub const MFA_DELETE_DISABLED: &str = "aws.s3.mfa-delete-disabled";
pub const LOGGING_DISABLED: &str = "aws.s3.logging-disabled";

/// The config key listing buckets meant to be public (exact names).
pub const PUBLIC_BUCKETS_KEY: &str = "public_buckets";

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[S3_PUT_PUBLIC_ACCESS_BLOCK, NOTIFY_SEND];

const S3: &str = "s3.amazonaws.com";

/// The event names this plugin looks at.
pub const EVENT_NAMES: &[&str] = &[
    "PutBucketPolicy",
    "PutBucketAcl",
    "DeleteBucketEncryption",
    "PutBucketVersioning",
    "PutBucketLogging",
];

/// The rule catalog.
pub fn rules(config: &Config) -> Vec<Rule> {
    let target = config.notify_target();
    let exempt = match public_buckets(config).len() {
        0 => "No bucket is exempt (config `public_buckets`).".to_owned(),
        n => format!("{n} bucket(s) listed in the config's `public_buckets` are exempt."),
    };
    vec![
        Rule::new(
            POLICY_PUBLIC,
            Severity::High,
            "S3 bucket made public by its bucket policy",
            &["T1530"],
            &format!(
                "A bucket policy was put (`PutBucketPolicy`) with a statement that allows a \
                 wildcard principal (`*`, `{{\"AWS\": \"*\"}}`, or `NotPrincipal`) and no \
                 condition that pins the caller to fixed source VPCs, VPC endpoints, IP \
                 ranges, organizations, accounts or ARNs: anyone can use what it grants. \
                 All four S3 Block Public Access settings are put on the bucket with \
                 `s3.put-public-access-block` (RestrictPublicBuckets makes the policy \
                 ineffective without deleting it). {exempt}"
            ),
            "Confirm with the bucket's owner whether it is meant to be public; if not, \
             remove the public statement, then check S3 server access or data event logs for \
             reads from outside the account since the change.",
            &[S3_PUT_PUBLIC_ACCESS_BLOCK],
        ),
        Rule::new(
            ACL_PUBLIC,
            Severity::High,
            "S3 bucket made public by its ACL",
            &["T1530"],
            &format!(
                "A bucket ACL was put (`PutBucketAcl`) that grants a permission to `AllUsers` \
                 (anyone) or `AuthenticatedUsers` (anyone with an AWS account), in the ACL \
                 body, an `x-amz-grant-*` header or a canned ACL (`public-read`, \
                 `public-read-write`, `authenticated-read`). All four S3 Block Public Access \
                 settings are put on the bucket with `s3.put-public-access-block` \
                 (IgnorePublicAcls makes the grant ineffective). {exempt}"
            ),
            "Confirm whether the bucket is meant to be public; if not, put a private ACL \
             (better: enforce bucket owner ownership to disable ACLs), then check who listed \
             or read it since.",
            &[S3_PUT_PUBLIC_ACCESS_BLOCK],
        ),
        Rule::new(
            ENCRYPTION_REMOVED,
            Severity::Medium,
            "S3 bucket default encryption removed",
            &["T1562"],
            &format!(
                "A bucket's default encryption configuration was deleted \
                 (`DeleteBucketEncryption`): new objects fall back to S3-managed keys \
                 (SSE-S3), out of reach of the KMS key policy that controlled who could \
                 decrypt them; it is also a step before ransomware that re-encrypts objects \
                 with keys the owner does not hold. Sent to {target}."
            ),
            "Restore the bucket's encryption configuration (KMS key and bucket key) from \
             your infrastructure code and ask the principal why it was removed.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            VERSIONING_SUSPENDED,
            Severity::Medium,
            "S3 bucket versioning suspended",
            &["T1490"],
            &format!(
                "A bucket's versioning was suspended (`PutBucketVersioning` with `Status` \
                 `Suspended`): objects overwritten or deleted from now on keep no earlier \
                 version to recover, which attackers do before destroying or encrypting \
                 data. Sent to {target}."
            ),
            "Enable versioning again, then look for object deletions or overwrites by the \
             same principal since the change.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            MFA_DELETE_DISABLED,
            Severity::Medium,
            "S3 bucket MFA delete disabled",
            &["T1490"],
            &format!(
                "A bucket's MFA delete was turned off (`PutBucketVersioning` with `MfaDelete` \
                 `Disabled`): object versions can be deleted, and versioning suspended, \
                 without a second factor. Only the root user can do this, so it is rare. \
                 Sent to {target}."
            ),
            "Confirm that the root user's owner made the change; if not, secure the root \
             credentials first, then enable MFA delete again.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            LOGGING_DISABLED,
            Severity::Medium,
            "S3 bucket server access logging disabled",
            &["T1562.008"],
            &format!(
                "A bucket's server access logging was turned off (`PutBucketLogging` with an \
                 empty `BucketLoggingStatus`): requests to the bucket are no longer logged, \
                 hiding what happens to its objects next. Sent to {target}."
            ),
            "Enable logging again with the previous target bucket and prefix, and review the \
             principal's other S3 calls around the change.",
            &[NOTIFY_SEND],
        ),
    ]
}

/// Name, version and the EventBridge pattern: the S3 calls in [`EVENT_NAMES`].
pub fn descriptor() -> Descriptor {
    let pattern = json!({"detail": {"eventSource": [S3], "eventName": EVENT_NAMES}});
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![pattern.to_string()],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "acl-private-or-log-delivery.json",
            "acl-public-body.json",
            "acl-public-headers.json",
            "encryption-deleted.json",
            "encryption-put-or-failed.json",
            "logging-disabled.json",
            "logging-enabled-or-unreadable.json",
            "policy-public.json",
            "policy-restricted.json",
            "policy-unreadable-or-failed.json",
            "versioning-enabled.json",
            "versioning-suspended-mfa-off.json",
        ],
        // It acts: trailwarden's own PutBucketPublicAccessBlock must not come back to it.
        self_caused_events: false,
    }
}

/// The buckets the config says are meant to be public (`public_buckets`).
pub fn public_buckets(config: &Config) -> Vec<String> {
    match config.get(PUBLIC_BUCKETS_KEY) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(one)) if !one.trim().is_empty() => vec![one.trim().to_owned()],
        _ => Vec::new(),
    }
}

/// What a call did to a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A bucket policy with these public statements.
    PolicyPublic(Vec<PublicStatement>),
    /// An ACL with these public grants.
    AclPublic(Vec<PublicGrant>),
    EncryptionRemoved,
    /// Versioning put in this status (`Suspended`, or `Disabled` as some tools write it).
    VersioningSuspended(String),
    MfaDeleteDisabled,
    LoggingDisabled,
}

impl Change {
    /// The rule id of its finding.
    pub fn rule_id(&self) -> &'static str {
        match self {
            Change::PolicyPublic(_) => POLICY_PUBLIC,
            Change::AclPublic(_) => ACL_PUBLIC,
            Change::EncryptionRemoved => ENCRYPTION_REMOVED,
            Change::VersioningSuspended(_) => VERSIONING_SUSPENDED,
            Change::MfaDeleteDisabled => MFA_DELETE_DISABLED,
            Change::LoggingDisabled => LOGGING_DISABLED,
        }
    }

    /// Whether it makes the bucket public (answered with a public access block).
    pub fn is_public(&self) -> bool {
        matches!(self, Change::PolicyPublic(_) | Change::AclPublic(_))
    }
}

/// The bucket a record names: `requestParameters.bucketName`, else an S3 bucket ARN in
/// `resources`.
pub fn bucket(raw: &Value) -> Option<String> {
    raw.get("requestParameters")
        .and_then(|p| get_ci(p, "bucketName"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            resource_arns(raw).into_iter().find_map(|arn| {
                let (_, name) = arn.split_once(":s3:::")?;
                (!name.is_empty() && !name.contains('/')).then(|| name.to_owned())
            })
        })
}

/// The weakening or exposure `event` made, with the bucket it names: nothing unless it is a
/// successful S3 API call of [`EVENT_NAMES`] whose request shows one.
pub fn changes(event: &Event) -> (Option<String>, Vec<Change>) {
    let none = (None, Vec::new());
    if event.source.as_deref() != Some(S3) || event.failed() {
        return none;
    }
    // VPC endpoint network activity events (`AwsVpceEvent`) repeat a call logged on its own.
    if !matches!(event.event_type.as_deref(), None | Some("AwsApiCall")) {
        return none;
    }
    let Some(name) = event.name.as_deref().filter(|n| EVENT_NAMES.contains(n)) else {
        return none;
    };
    let Some(raw) = event.raw_json() else {
        return none;
    };
    let params = raw.get("requestParameters").unwrap_or(&Value::Null);
    let mut found = Vec::new();
    match name {
        "PutBucketPolicy" => {
            let statements = get_ci(params, "bucketPolicy")
                .map(policy::public_statements_in)
                .unwrap_or_default();
            if !statements.is_empty() {
                found.push(Change::PolicyPublic(statements));
            }
        }
        "PutBucketAcl" => {
            let grants = acl::public_grants(params);
            if !grants.is_empty() {
                found.push(Change::AclPublic(grants));
            }
        }
        "DeleteBucketEncryption" => found.push(Change::EncryptionRemoved),
        "PutBucketVersioning" => {
            let config = get_ci(params, "VersioningConfiguration").unwrap_or(&Value::Null);
            let text = |key: &str| {
                get_ci(config, key)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            };
            if let Some(status) = text("Status").filter(|s| {
                s.eq_ignore_ascii_case("Suspended") || s.eq_ignore_ascii_case("Disabled")
            }) {
                found.push(Change::VersioningSuspended(status.to_owned()));
            }
            if text("MfaDelete").is_some_and(|s| s.eq_ignore_ascii_case("Disabled")) {
                found.push(Change::MfaDeleteDisabled);
            }
        }
        "PutBucketLogging" => {
            // Without the status the request cannot be judged.
            if let Some(status @ Value::Object(_)) = get_ci(params, "BucketLoggingStatus") {
                let enabled = get_ci(status, "LoggingEnabled")
                    .is_some_and(|l| !l.is_null() && l != &json!({}) && l != &json!(""));
                if !enabled {
                    found.push(Change::LoggingDisabled);
                }
            }
        }
        _ => {}
    }
    if found.is_empty() {
        return none;
    }
    (bucket(&raw), found)
}

/// The findings for one event, given the plugin's config (for `public_buckets`).
pub fn detect(event: &Event, config: &Config) -> Vec<Finding> {
    let (bucket, found) = changes(event);
    if found.is_empty() {
        return Vec::new();
    }
    let exempt = bucket
        .as_ref()
        .is_some_and(|b| public_buckets(config).contains(b));
    found
        .iter()
        .filter(|c| !(exempt && c.is_public()))
        .map(|c| finding(event, bucket.as_deref(), c))
        .collect()
}

fn finding(event: &Event, bucket: Option<&str>, change: &Change) -> Finding {
    let account = event.account_or_unknown();
    let label = bucket.unwrap_or("(unnamed)");
    let rule_id = change.rule_id();
    let (severity, title, what, why) = match change {
        Change::PolicyPublic(statements) => (
            Severity::High,
            format!("S3 bucket {label} made public by its bucket policy"),
            format!(
                "put a bucket policy on S3 bucket {label} that allows anyone ({})",
                statements
                    .iter()
                    .map(PublicStatement::describe)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            "No condition limits these statements to fixed VPCs, VPC endpoints, IP ranges, \
             organizations or accounts: anyone on the internet can use what they grant \
             unless S3 Block Public Access restricts the bucket.",
        ),
        Change::AclPublic(grants) => (
            Severity::High,
            format!("S3 bucket {label} made public by its ACL"),
            format!(
                "put an ACL on S3 bucket {label} that grants {}",
                grants
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "AllUsers is anyone on the internet, AuthenticatedUsers anyone with an AWS \
             account.",
        ),
        Change::EncryptionRemoved => (
            Severity::Medium,
            format!("Default encryption removed from S3 bucket {label}"),
            format!("deleted the default encryption configuration of S3 bucket {label}"),
            "New objects fall back to S3-managed keys (SSE-S3), out of reach of the KMS key \
             policy that controlled who could decrypt them.",
        ),
        Change::VersioningSuspended(status) => (
            Severity::Medium,
            format!("Versioning suspended on S3 bucket {label}"),
            format!("set the versioning of S3 bucket {label} to {status}"),
            "Objects overwritten or deleted from now on keep no earlier version to recover.",
        ),
        Change::MfaDeleteDisabled => (
            Severity::Medium,
            format!("MFA delete disabled on S3 bucket {label}"),
            format!("turned off MFA delete on S3 bucket {label}"),
            "Object versions can now be deleted, and versioning suspended, without a second \
             factor.",
        ),
        Change::LoggingDisabled => (
            Severity::Medium,
            format!("Server access logging disabled on S3 bucket {label}"),
            format!("turned off server access logging of S3 bucket {label}"),
            "Requests to the bucket are no longer logged.",
        ),
    };
    let description = format!(
        "{} {what} {}. {why}",
        capitalize(&event.actor()),
        event.location()
    );
    let mut context = event.base_context();
    // Unlike the other fields, an unknown account is `unknown` here, not null.
    context.insert("account".into(), json!(account));
    context.insert("bucket".into(), json!(bucket));
    match change {
        Change::PolicyPublic(statements) => {
            let list: Vec<Value> = statements.iter().map(PublicStatement::to_json).collect();
            context.insert("public_statements".into(), Value::Array(list));
        }
        Change::AclPublic(grants) => {
            let list: Vec<Value> = grants
                .iter()
                .map(|g| json!({"group": g.group, "permission": g.permission}))
                .collect();
            context.insert("public_grants".into(), Value::Array(list));
        }
        Change::VersioningSuspended(status) => {
            context.insert("status".into(), json!(status));
        }
        _ => {}
    }
    Finding {
        rule_id: rule_id.to_owned(),
        severity,
        title,
        description,
        resources: bucket
            .map(|b| format!("arn:{}:s3:::{b}", event.partition()))
            .into_iter()
            .collect(),
        dedup_key: format!("{rule_id}:{account}:{label}"),
        event_id: event.id.clone(),
        context: Value::Object(context).to_string(),
    }
}

/// The response to one finding of `event`: block public access on a bucket made public,
/// notify of the other changes.
pub fn respond(event: &Event, finding: &Finding, batch: &Batch) {
    let (id, caps, config) = (event.id.as_str(), batch.caps, batch.config);
    match finding.rule_id.as_str() {
        POLICY_PUBLIC | ACL_PUBLIC => {
            // Without a bucket name there is nothing to block: the finding is reported.
            if let Some(bucket) = changes(event).0 {
                let receipt = caps.put_public_access_block(id, &bucket);
                log_receipt(S3_PUT_PUBLIC_ACCESS_BLOCK, id, receipt);
            }
        }
        ENCRYPTION_REMOVED | VERSIONING_SUSPENDED | MFA_DELETE_DISABLED | LOGGING_DISABLED => {
            let receipt = caps.notify(id, config.notify_target(), finding);
            log_receipt(NOTIFY_SEND, id, receipt);
        }
        _ => {}
    }
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, [`respond`] to each finding.
    S3Exposure {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: rules,
        detect_with: |event, batch| detect(event, batch.config),
        respond: respond,
    }
);
