//! `storage-exposure`: snapshots, machine images and databases opened to the internet or to
//! other accounts, EBS encryption by default turned off, and RDS master passwords reset.
//!
//! Successful API calls only (no `errorCode`/`errorMessage`, `eventType` `AwsApiCall` or
//! absent):
//!
//! | rule id | event | severity |
//! |---|---|---|
//! | `aws.ec2.snapshot-public` | `ModifySnapshotAttribute` adding `createVolumePermission` for group `all` | high |
//! | `aws.ec2.snapshot-shared` | the same, adding an account that is neither the caller's nor trusted | medium |
//! | `aws.ec2.ami-public` | `ModifyImageAttribute` adding `launchPermission` for group `all` | high |
//! | `aws.ec2.ami-shared` | the same, adding an account that is neither the caller's nor trusted | medium |
//! | `aws.rds.snapshot-public` | `ModifyDBSnapshotAttribute` / `ModifyDBClusterSnapshotAttribute` adding `all` to `restore` | high |
//! | `aws.rds.snapshot-shared` | the same, adding an account that is neither the caller's nor trusted | medium |
//! | `aws.ec2.ebs-default-encryption-disabled` | `DisableEbsEncryptionByDefault` | medium |
//! | `aws.rds.instance-public` | `ModifyDBInstance` / `ModifyDBCluster` with `publiclyAccessible` true; `CreateDBInstance` / `CreateDBCluster` / `CreateDBInstanceReadReplica` that made it publicly accessible | high |
//! | `aws.rds.public-restore` | `RestoreDBInstance*` / `RestoreDBCluster*` that made it publicly accessible | high |
//! | `aws.rds.master-password-reset` | `ModifyDBInstance` / `ModifyDBCluster` with `masterUserPassword` | medium |
//!
//! "Trusted" accounts are those in the config's `trusted_accounts` (say, the organization's
//! own accounts that receive golden AMIs); the caller's own account always is. Only a
//! 12-digit account id is an account: EC2 and RDS refuse anything else. A grant to `all`
//! raises only the public rule (its accounts go in the context). Sharing with an
//! organization or organizational unit (`organizationArn`) is not reported.
//!
//! A creation or restore is public when the request asks for it or the response says it is
//! (without `PubliclyAccessible`, RDS decides from the subnet group, and the response tells).
//!
//! Response: no capability can undo these, so every finding is sent with `notify.send` to the
//! config's `notify_target` (default `security-team`).

use trailwarden_plugin_sdk::capability::NOTIFY_SEND;
use trailwarden_plugin_sdk::json::{at_ci, boolish, get_ci, text};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    capitalize, non_empty, Config, Descriptor, Event, Finding, Rule, Severity,
};

pub const SNAPSHOT_PUBLIC: &str = "aws.ec2.snapshot-public";
pub const SNAPSHOT_SHARED: &str = "aws.ec2.snapshot-shared";
pub const AMI_PUBLIC: &str = "aws.ec2.ami-public";
pub const AMI_SHARED: &str = "aws.ec2.ami-shared";
pub const RDS_SNAPSHOT_PUBLIC: &str = "aws.rds.snapshot-public";
pub const RDS_SNAPSHOT_SHARED: &str = "aws.rds.snapshot-shared";
pub const EBS_ENCRYPTION_DISABLED: &str = "aws.ec2.ebs-default-encryption-disabled";
pub const RDS_INSTANCE_PUBLIC: &str = "aws.rds.instance-public";
pub const RDS_PUBLIC_RESTORE: &str = "aws.rds.public-restore";
pub const RDS_MASTER_PASSWORD_RESET: &str = "aws.rds.master-password-reset";

/// The config key listing accounts that may receive shared snapshots and images.
pub const TRUSTED_ACCOUNTS_KEY: &str = "trusted_accounts";

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND];

const EC2: &str = "ec2.amazonaws.com";
const RDS: &str = "rds.amazonaws.com";

/// The EC2 event names this plugin looks at.
pub const EC2_EVENTS: &[&str] = &[
    "ModifySnapshotAttribute",
    "ModifyImageAttribute",
    "DisableEbsEncryptionByDefault",
];

const RDS_SNAPSHOT_EVENTS: &[&str] = &[
    "ModifyDBSnapshotAttribute",
    "ModifyDBClusterSnapshotAttribute",
];
const RDS_MODIFY_EVENTS: &[&str] = &["ModifyDBInstance", "ModifyDBCluster"];
const RDS_CREATE_EVENTS: &[&str] = &[
    "CreateDBInstance",
    "CreateDBCluster",
    "CreateDBInstanceReadReplica",
];
const RDS_RESTORE_EVENTS: &[&str] = &[
    "RestoreDBInstanceFromDBSnapshot",
    "RestoreDBInstanceToPointInTime",
    "RestoreDBInstanceFromS3",
    "RestoreDBClusterFromSnapshot",
    "RestoreDBClusterToPointInTime",
    "RestoreDBClusterFromS3",
];

/// The RDS event names this plugin looks at.
pub fn rds_events() -> Vec<&'static str> {
    [
        RDS_SNAPSHOT_EVENTS,
        RDS_MODIFY_EVENTS,
        RDS_CREATE_EVENTS,
        RDS_RESTORE_EVENTS,
    ]
    .concat()
}

/// The rule catalog.
pub fn rules(config: &Config) -> Vec<Rule> {
    let target = config.notify_target();
    let sent = format!("Sent to {target}.");
    let trusted = match trusted_accounts(config).len() {
        0 => "No account besides the caller's is trusted (config `trusted_accounts`).".to_owned(),
        n => format!("The {n} account(s) in the config's `trusted_accounts` are not reported."),
    };
    let rule = |id, severity, title, techniques: &[&str], description: String, runbook| {
        Rule::new(
            id,
            severity,
            title,
            techniques,
            &description,
            runbook,
            &[NOTIFY_SEND],
        )
    };
    vec![
        rule(
            SNAPSHOT_PUBLIC,
            Severity::High,
            "EBS snapshot made public",
            &["T1537"],
            format!(
                "An EBS snapshot's create-volume permission was given to group `all` \
                 (`ModifySnapshotAttribute`): any AWS account can create a volume from it and \
                 read the disk. {sent}"
            ),
            "Remove the `all` permission at once (and enable EBS snapshot block public \
             access), then find out what the disk held and who copied it.",
        ),
        rule(
            SNAPSHOT_SHARED,
            Severity::Medium,
            "EBS snapshot shared with another account",
            &["T1537"],
            format!(
                "An EBS snapshot's create-volume permission was given to an account other \
                 than the caller's (`ModifySnapshotAttribute`): that account can copy the \
                 disk. {trusted} {sent}"
            ),
            "Check that the receiving account is one you own or a known partner; if not, \
             remove the permission and treat the snapshot's data as copied.",
        ),
        rule(
            AMI_PUBLIC,
            Severity::High,
            "AMI made public",
            &["T1537"],
            format!(
                "An AMI's launch permission was given to group `all` (`ModifyImageAttribute`): \
                 anyone can launch it and read its volumes, with whatever secrets or \
                 application data they hold. {sent}"
            ),
            "Remove the `all` launch permission (and enable image block public access), \
             then check the image's volumes for credentials to rotate.",
        ),
        rule(
            AMI_SHARED,
            Severity::Medium,
            "AMI shared with another account",
            &["T1537"],
            format!(
                "An AMI's launch permission was given to an account other than the caller's \
                 (`ModifyImageAttribute`): that account can launch it and copy its volumes. \
                 {trusted} {sent}"
            ),
            "Check that the receiving account is yours or a known partner; if not, remove \
             the launch permission and review what the image contains.",
        ),
        rule(
            RDS_SNAPSHOT_PUBLIC,
            Severity::High,
            "RDS snapshot made public",
            &["T1537"],
            format!(
                "An RDS DB or cluster snapshot's `restore` attribute was given `all` \
                 (`ModifyDBSnapshotAttribute`, `ModifyDBClusterSnapshotAttribute`): any AWS \
                 account can restore the database from it. {sent}"
            ),
            "Remove `all` from the snapshot's restore attribute at once, then treat the \
             database's contents as exposed.",
        ),
        rule(
            RDS_SNAPSHOT_SHARED,
            Severity::Medium,
            "RDS snapshot shared with another account",
            &["T1537"],
            format!(
                "An RDS DB or cluster snapshot's `restore` attribute was given an account \
                 other than the caller's: that account can restore the database. {trusted} \
                 {sent}"
            ),
            "Check that the receiving account is yours or a known partner; if not, remove it \
             from the restore attribute and treat the data as copied.",
        ),
        rule(
            EBS_ENCRYPTION_DISABLED,
            Severity::Medium,
            "EBS encryption by default disabled",
            &["T1562"],
            format!(
                "EBS encryption by default was turned off for a region of an account \
                 (`DisableEbsEncryptionByDefault`): new volumes and snapshot copies there are \
                 no longer encrypted unless each request asks for it. Existing volumes keep \
                 their encryption. {sent}"
            ),
            "Turn encryption by default back on (`EnableEbsEncryptionByDefault`) and look \
             for unencrypted volumes created since.",
        ),
        rule(
            RDS_INSTANCE_PUBLIC,
            Severity::High,
            "RDS database made publicly accessible",
            &["T1578"],
            format!(
                "An RDS instance or cluster was modified to be publicly accessible \
                 (`ModifyDBInstance`, `ModifyDBCluster`), or created so \
                 (`CreateDBInstance`, `CreateDBCluster`, `CreateDBInstanceReadReplica`): it \
                 gets an address reachable from the internet, limited only by its security \
                 groups and password. {sent}"
            ),
            "Set PubliclyAccessible back to false unless the database is meant to be \
             reachable from the internet, and check its security groups for 0.0.0.0/0.",
        ),
        rule(
            RDS_PUBLIC_RESTORE,
            Severity::High,
            "RDS database restored as publicly accessible",
            &["T1578.002"],
            format!(
                "A database was restored from a snapshot, a point in time or S3 \
                 (`RestoreDBInstance*`, `RestoreDBCluster*`) as publicly accessible: a copy of \
                 the data reachable from the internet, a known exfiltration path. {sent}"
            ),
            "Find who restored it and why; unless expected, make it private or delete it, \
             and check its connections since it was created.",
        ),
        rule(
            RDS_MASTER_PASSWORD_RESET,
            Severity::Medium,
            "RDS master password reset",
            &["T1098"],
            format!(
                "An RDS instance's or cluster's master user password was changed \
                 (`ModifyDBInstance`, `ModifyDBCluster` with `masterUserPassword`): whoever \
                 set it can log in to the database as its administrator. {sent}"
            ),
            "Confirm with the database's owner that the reset was planned; if not, reset the \
             password again (better: let Secrets Manager manage it) and review the \
             database's logins.",
        ),
    ]
}

/// Name, version and the EventBridge patterns: the EC2 and RDS calls above.
pub fn descriptor() -> Descriptor {
    let ec2 = json!({"detail": {"eventSource": [EC2], "eventName": EC2_EVENTS}});
    let rds = json!({"detail": {"eventSource": [RDS], "eventName": rds_events()}});
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![ec2.to_string(), rds.to_string()],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "ami-not-shared.json",
            "ami-public.json",
            "ami-shared.json",
            "ebs-encryption-disabled.json",
            "ebs-encryption-other-calls.json",
            "rds-instance-not-public.json",
            "rds-instance-public.json",
            "rds-password-not-reset.json",
            "rds-password-reset.json",
            "rds-restore-not-public.json",
            "rds-restore-public.json",
            "rds-snapshot-not-shared.json",
            "rds-snapshot-public.json",
            "rds-snapshot-shared.json",
            "snapshot-not-shared.json",
            "snapshot-public.json",
            "snapshot-shared.json",
        ],
        // It acts (notify): trailwarden's own calls need not come back to it.
        self_caused_events: false,
    }
}

/// The accounts the config trusts to receive shares (`trusted_accounts`).
pub fn trusted_accounts(config: &Config) -> Vec<String> {
    match config.get(TRUSTED_ACCOUNTS_KEY) {
        Some(Value::Array(list)) => list.iter().filter_map(text).collect(),
        Some(one) => text(one).into_iter().collect(),
        None => Vec::new(),
    }
    .into_iter()
    .map(|a| a.trim().to_owned())
    .filter(|a| !a.is_empty())
    .collect()
}

/// Whether `s` is an AWS account id: 12 ASCII digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The kind of thing a grant opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    EbsSnapshot,
    Image,
    DbSnapshot,
    DbClusterSnapshot,
}

impl Shared {
    fn noun(self) -> &'static str {
        match self {
            Shared::EbsSnapshot => "EBS snapshot",
            Shared::Image => "AMI",
            Shared::DbSnapshot => "RDS snapshot",
            Shared::DbClusterSnapshot => "RDS cluster snapshot",
        }
    }

    fn rules(self) -> (&'static str, &'static str) {
        match self {
            Shared::EbsSnapshot => (SNAPSHOT_PUBLIC, SNAPSHOT_SHARED),
            Shared::Image => (AMI_PUBLIC, AMI_SHARED),
            Shared::DbSnapshot | Shared::DbClusterSnapshot => {
                (RDS_SNAPSHOT_PUBLIC, RDS_SNAPSHOT_SHARED)
            }
        }
    }
}

/// Who a snapshot or image was opened to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub kind: Shared,
    /// The snapshot or image id, as the request names it.
    pub id: Option<String>,
    /// Group `all` (anyone) was added.
    pub public: bool,
    /// The accounts added that are neither the caller's nor trusted.
    pub foreign: Vec<String>,
}

/// How an RDS database became publicly accessible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    Modified,
    Created,
    Restored,
}

/// What one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    Grant(Grant),
    EbsEncryptionDisabled,
    DatabasePublic {
        how: Opened,
        cluster: bool,
        id: Option<String>,
        arn: Option<String>,
    },
    MasterPasswordReset {
        cluster: bool,
        id: Option<String>,
        arn: Option<String>,
    },
}

/// The exposures `event` made (none unless it is a successful API call this plugin reads).
pub fn exposures(event: &Event, config: &Config) -> Vec<Exposure> {
    if event.failed() || !matches!(event.event_type.as_deref(), None | Some("AwsApiCall")) {
        return Vec::new();
    }
    let Some(name) = event.name.as_deref() else {
        return Vec::new();
    };
    let source = event.source.as_deref();
    let ec2 = source == Some(EC2);
    let rds = source == Some(RDS);
    if !(ec2 && EC2_EVENTS.contains(&name) || rds && rds_events().contains(&name)) {
        return Vec::new();
    }
    if name == "DisableEbsEncryptionByDefault" {
        // Nothing of the request is needed: the hot fields suffice.
        return vec![Exposure::EbsEncryptionDisabled];
    }
    let Some(raw) = event.raw_json() else {
        return Vec::new();
    };
    let params = raw.get("requestParameters").unwrap_or(&Value::Null);
    let response = raw.get("responseElements").unwrap_or(&Value::Null);
    let mut out = Vec::new();
    match name {
        "ModifySnapshotAttribute" | "ModifyImageAttribute" => {
            let (kind, attribute, id_key) = if name == "ModifySnapshotAttribute" {
                (Shared::EbsSnapshot, "createVolumePermission", "snapshotId")
            } else {
                (Shared::Image, "launchPermission", "imageId")
            };
            let items = at_ci(params, &[attribute, "add", "items"]);
            let items: Vec<&Value> = match items {
                Some(Value::Array(list)) => list.iter().collect(),
                Some(one @ Value::Object(_)) => vec![one],
                _ => Vec::new(),
            };
            let public = items.iter().any(|i| {
                get_ci(i, "group")
                    .and_then(Value::as_str)
                    .is_some_and(|g| g.trim().eq_ignore_ascii_case("all"))
            });
            let accounts = items
                .iter()
                .filter_map(|i| get_ci(i, "userId").and_then(text))
                .collect();
            out.extend(grant(
                event,
                config,
                kind,
                str_param(params, id_key),
                public,
                accounts,
            ));
        }
        n if RDS_SNAPSHOT_EVENTS.contains(&n) => {
            let attribute = str_param(params, "attributeName");
            if attribute.is_some_and(|a| a.eq_ignore_ascii_case("restore")) {
                let (kind, id_key) = if n == "ModifyDBClusterSnapshotAttribute" {
                    (Shared::DbClusterSnapshot, "dBClusterSnapshotIdentifier")
                } else {
                    (Shared::DbSnapshot, "dBSnapshotIdentifier")
                };
                let values: Vec<String> = match get_ci(params, "valuesToAdd") {
                    Some(Value::Array(list)) => list.iter().filter_map(text).collect(),
                    Some(one) => text(one).into_iter().collect(),
                    None => Vec::new(),
                };
                let public = values.iter().any(|v| v.trim().eq_ignore_ascii_case("all"));
                out.extend(grant(
                    event,
                    config,
                    kind,
                    str_param(params, id_key),
                    public,
                    values,
                ));
            }
        }
        n => {
            let cluster = n.contains("DBCluster");
            let (id_key, arn_key) = if cluster {
                ("dBClusterIdentifier", "dBClusterArn")
            } else {
                ("dBInstanceIdentifier", "dBInstanceArn")
            };
            let id = str_param(params, id_key)
                .or_else(|| str_param(response, id_key))
                .map(str::to_owned);
            let arn = str_param(response, arn_key).map(str::to_owned);
            let asked = get_ci(params, "publiclyAccessible").and_then(boolish);
            let granted = get_ci(response, "publiclyAccessible").and_then(boolish);
            let how = if RDS_MODIFY_EVENTS.contains(&n) {
                // A modification is judged by its request: the response repeats the
                // instance's current setting whatever the request changed.
                (asked == Some(true)).then_some(Opened::Modified)
            } else if asked == Some(true) || granted == Some(true) {
                Some(if RDS_RESTORE_EVENTS.contains(&n) {
                    Opened::Restored
                } else {
                    Opened::Created
                })
            } else {
                None
            };
            if let Some(how) = how {
                out.push(Exposure::DatabasePublic {
                    how,
                    cluster,
                    id: id.clone(),
                    arn: arn.clone(),
                });
            }
            if RDS_MODIFY_EVENTS.contains(&n)
                && get_ci(params, "masterUserPassword").is_some_and(|p| !p.is_null())
            {
                out.push(Exposure::MasterPasswordReset { cluster, id, arn });
            }
        }
    }
    out
}

fn str_param<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    get_ci(v, key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The grant of `accounts` (and `all` when `public`), keeping only foreign accounts.
fn grant(
    event: &Event,
    config: &Config,
    kind: Shared,
    id: Option<&str>,
    public: bool,
    accounts: Vec<String>,
) -> Option<Exposure> {
    let trusted = trusted_accounts(config);
    let own = [
        event.account_or_principal_account(),
        non_empty(event.principal.account_id.as_deref()),
    ];
    let mut foreign: Vec<String> = accounts
        .into_iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| is_account_id(a))
        .filter(|a| !own.contains(&Some(a.as_str())) && !trusted.contains(a))
        .collect();
    foreign.sort();
    foreign.dedup();
    (public || !foreign.is_empty()).then(|| {
        Exposure::Grant(Grant {
            kind,
            id: id.map(str::to_owned),
            public,
            foreign,
        })
    })
}

/// The findings for one event, given the plugin's config (for `trusted_accounts`).
pub fn detect(event: &Event, config: &Config) -> Vec<Finding> {
    exposures(event, config)
        .iter()
        .map(|e| finding(event, e))
        .collect()
}

/// The ARN of a snapshot, image or database named `id` (kept as it is when it is an ARN).
fn arn(event: &Event, service: &str, with_account: bool, kind_sep: &str, id: &str) -> String {
    if id.starts_with("arn:") {
        return id.to_owned();
    }
    let owner = if with_account {
        event.account_or_unknown()
    } else {
        ""
    };
    format!(
        "arn:{}:{service}:{}:{owner}:{kind_sep}{id}",
        event.partition(),
        event.region_or_unknown()
    )
}

fn accounts_text(accounts: &[String]) -> String {
    match accounts {
        [one] => format!("account {one}"),
        many => format!("accounts {}", many.join(", ")),
    }
}

fn finding(event: &Event, exposure: &Exposure) -> Finding {
    let mut context = event.base_context();
    let (rule_id, severity, title, what, why, resources, key) = match exposure {
        Exposure::Grant(g) => {
            let label = g.id.as_deref().unwrap_or("(unnamed)");
            let noun = g.kind.noun();
            let (public_rule, shared_rule) = g.kind.rules();
            let resource = g.id.as_deref().map(|id| match g.kind {
                Shared::EbsSnapshot => arn(event, "ec2", false, "snapshot/", id),
                Shared::Image => arn(event, "ec2", false, "image/", id),
                Shared::DbSnapshot => arn(event, "rds", true, "snapshot:", id),
                Shared::DbClusterSnapshot => arn(event, "rds", true, "cluster-snapshot:", id),
            });
            context.insert("resource_id".into(), json!(g.id));
            context.insert("public".into(), json!(g.public));
            context.insert("accounts".into(), json!(g.foreign));
            let (rule, severity, title, what, why) = if g.public {
                (
                    public_rule,
                    Severity::High,
                    format!("{noun} {label} made public"),
                    format!("made {noun} {label} public (group all)"),
                    "Any AWS account can now copy or restore its data.",
                )
            } else {
                let to = accounts_text(&g.foreign);
                (
                    shared_rule,
                    Severity::Medium,
                    format!("{noun} {label} shared with {to}"),
                    format!("shared {noun} {label} with {to}"),
                    "That account is neither the caller's nor in trusted_accounts; it can now \
                     copy or restore the data.",
                )
            };
            (
                rule,
                severity,
                title,
                what,
                why.to_owned(),
                resource.into_iter().collect::<Vec<_>>(),
                label.to_owned(),
            )
        }
        Exposure::EbsEncryptionDisabled => (
            EBS_ENCRYPTION_DISABLED,
            Severity::Medium,
            format!(
                "EBS encryption by default disabled in {} of account {}",
                event.region_or_unknown(),
                event.account_or_unknown()
            ),
            "turned off EBS encryption by default".to_owned(),
            "New volumes there are no longer encrypted unless the request asks for it.".to_owned(),
            Vec::new(),
            "default".to_owned(),
        ),
        Exposure::DatabasePublic {
            how,
            cluster,
            id,
            arn: known,
        } => {
            let label = id.as_deref().unwrap_or("(unnamed)");
            let noun = if *cluster {
                "RDS cluster"
            } else {
                "RDS instance"
            };
            let (rule, title, what) = match how {
                Opened::Modified => (
                    RDS_INSTANCE_PUBLIC,
                    format!("{noun} {label} made publicly accessible"),
                    format!("made {noun} {label} publicly accessible"),
                ),
                Opened::Created => (
                    RDS_INSTANCE_PUBLIC,
                    format!("{noun} {label} created publicly accessible"),
                    format!("created {noun} {label} publicly accessible"),
                ),
                Opened::Restored => (
                    RDS_PUBLIC_RESTORE,
                    format!("{noun} {label} restored as publicly accessible"),
                    format!("restored {noun} {label} as publicly accessible"),
                ),
            };
            context.insert("db_identifier".into(), json!(id));
            context.insert("cluster".into(), json!(cluster));
            (
                rule,
                Severity::High,
                title,
                what,
                "It gets an endpoint reachable from the internet, guarded only by its \
                 security groups and credentials."
                    .to_owned(),
                db_arn(event, *cluster, id.as_deref(), known.as_deref()),
                label.to_owned(),
            )
        }
        Exposure::MasterPasswordReset {
            cluster,
            id,
            arn: known,
        } => {
            let label = id.as_deref().unwrap_or("(unnamed)");
            let noun = if *cluster {
                "RDS cluster"
            } else {
                "RDS instance"
            };
            context.insert("db_identifier".into(), json!(id));
            context.insert("cluster".into(), json!(cluster));
            (
                RDS_MASTER_PASSWORD_RESET,
                Severity::Medium,
                format!("RDS master password reset on {noun} {label}"),
                format!("reset the master user password of {noun} {label}"),
                "Whoever set it can log in to the database as its administrator.".to_owned(),
                db_arn(event, *cluster, id.as_deref(), known.as_deref()),
                label.to_owned(),
            )
        }
    };
    let description = format!(
        "{} {what} {}. {why}",
        capitalize(&event.actor()),
        event.location()
    );
    // Unlike the other fields, an unknown account is `unknown` here, not null.
    context.insert("account".into(), json!(event.account_or_unknown()));
    Finding {
        rule_id: rule_id.to_owned(),
        severity,
        title,
        description,
        resources,
        dedup_key: format!(
            "{rule_id}:{}:{}:{key}",
            event.account_or_unknown(),
            event.region_or_unknown()
        ),
        event_id: event.id.clone(),
        context: Value::Object(context).to_string(),
    }
}

fn db_arn(event: &Event, cluster: bool, id: Option<&str>, known: Option<&str>) -> Vec<String> {
    let kind = if cluster { "cluster:" } else { "db:" };
    known
        .map(str::to_owned)
        .or_else(|| id.map(|id| arn(event, "rds", true, kind, id)))
        .into_iter()
        .collect()
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, notify of each finding.
    StorageExposure {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: rules,
        detect_with: |event, batch| detect(event, batch.config),
        respond: trailwarden_plugin_sdk::notify,
    }
);
