//! Amazon RDS: backups, snapshots, deletion protection, activity streams, access.

use trailwarden_plugin_sdk::json::boolish;
use trailwarden_plugin_sdk::Severity;

use crate::spec::{always, Facts, Kind, Names, Spec};

const RDS: &[&str] = &["rds.amazonaws.com"];

fn deletion_protection_off(f: &Facts) -> bool {
    f.param("deletionProtection").and_then(boolish) == Some(false)
}

/// Manual and public snapshots; AWS Backup's and automated ones are routine.
fn manual_snapshot(f: &Facts) -> bool {
    !matches!(
        crate::spec::text(f.response("snapshotType")),
        Some("automated" | "awsbackup")
    )
}

/// The copy names a source region other than the event's.
fn other_region(f: &Facts) -> bool {
    let here = f.event.region.as_deref().unwrap_or("");
    f.param_str("sourceRegion").is_some_and(|r| r != here)
}

/// The listing asks for public or shared snapshots (other accounts').
fn public_or_shared(f: &Facts) -> bool {
    ["includePublic", "includeShared"]
        .iter()
        .any(|k| f.param(k).and_then(boolish) == Some(true))
}

pub const RULES: &[Spec] = &[
    Spec {
        id: "aws.rds.activity-stream-stopped",
        severity: Severity::High,
        title: "RDS database activity stream stopped",
        technique: "T1562.008",
        sources: RDS,
        names: Names::Exact(&["StopActivityStream"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "The database's activity is no longer streamed to monitoring; attackers stop it before touching data.",
        runbook: "Ask the caller why; if unexplained, restart the stream (aws rds start-activity-stream) and review database access since.",
    },
    Spec {
        id: "aws.rds.automated-backup-deleted",
        severity: Severity::Critical,
        title: "RDS automated backups deleted",
        technique: "T1490",
        sources: RDS,
        names: Names::Exact(&["DeleteDBInstanceAutomatedBackup", "DeleteDBClusterAutomatedBackup"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "The retained automated backups of a database are gone, so it cannot be restored to a point in time: a ransomware step.",
        runbook: "Treat as an incident: identify the caller, protect the remaining snapshots (copy them to a locked account), and check the database itself.",
    },
    Spec {
        id: "aws.rds.cluster-failover",
        severity: Severity::Medium,
        title: "RDS cluster failover forced",
        technique: "T1489",
        sources: RDS,
        names: Names::Exact(&["FailoverDBCluster", "FailoverGlobalCluster"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "A forced failover interrupts the database's clients; outside a planned test it is a disruption.",
        runbook: "Check it was a planned test or an operator's fix; if not, review the caller's activity.",
    },
    Spec {
        id: "aws.rds.deletion-protection-disabled",
        severity: Severity::High,
        title: "RDS deletion protection disabled",
        technique: "T1485",
        sources: RDS,
        names: Names::Exact(&["ModifyDBInstance", "ModifyDBCluster"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: deletion_protection_off,
        threshold: None,
        why: "Deletion protection was turned off, the step before a database can be deleted.",
        runbook: "Confirm a planned decommission; if not, turn deletion protection back on and check for deletions and snapshot sharing by the caller.",
    },
    Spec {
        id: "aws.rds.role-added",
        severity: Severity::Medium,
        title: "IAM role added to an RDS database",
        technique: "T1098.003",
        sources: RDS,
        names: Names::Exact(&["AddRoleToDBInstance", "AddRoleToDBCluster"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "The database can now act with the role's permissions (S3 import/export, Lambda), a way to move data out.",
        runbook: "Check the role's permissions and that the feature is expected; remove the role (remove-role-from-db-instance) if not.",
    },
    Spec {
        id: "aws.rds.database-deleted",
        severity: Severity::High,
        title: "RDS database deleted",
        technique: "T1485",
        sources: RDS,
        names: Names::Exact(&["DeleteDBInstance", "DeleteDBCluster"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "A database instance or cluster was deleted; without a final snapshot its data is gone.",
        runbook: "Confirm a planned decommission; if not, restore from the final or latest snapshot and treat the caller's credentials as compromised.",
    },
    Spec {
        id: "aws.rds.rebooted",
        severity: Severity::Medium,
        title: "RDS database rebooted",
        technique: "T1529",
        sources: RDS,
        names: Names::Exact(&["RebootDBInstance", "RebootDBCluster", "RebootDBShardGroup"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "A reboot interrupts the database's clients; unexpected ones are disruption or tampering with parameters that need a reboot.",
        runbook: "Check it matches a maintenance or parameter change; if not, review the caller's other RDS calls.",
    },
    Spec {
        id: "aws.rds.log-downloaded",
        severity: Severity::Low,
        title: "RDS log file downloaded",
        technique: "T1552",
        sources: RDS,
        names: Names::Exact(&["DownloadDBLogFilePortion", "DownloadCompleteDBLogFile"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "Database logs can hold credentials, queries and application secrets.",
        runbook: "Check the caller is a DBA or a log pipeline; if not, review which logs were read and rotate secrets they may contain.",
    },
    Spec {
        id: "aws.rds.manual-snapshot-created",
        severity: Severity::Low,
        title: "RDS manual snapshot created",
        technique: "T1578.001",
        sources: RDS,
        names: Names::Exact(&["CreateDBSnapshot", "CreateDBClusterSnapshot"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: manual_snapshot,
        threshold: None,
        why: "A manual snapshot is the first step of copying a database to another account (share, then restore there).",
        runbook: "Correlate with snapshot sharing or copies by the same caller; delete the snapshot if it has no owner.",
    },
    Spec {
        id: "aws.rds.snapshot-copied-cross-region",
        severity: Severity::Medium,
        title: "RDS snapshot copied from another region",
        technique: "T1537",
        sources: RDS,
        names: Names::Exact(&["CopyDBSnapshot", "CopyDBClusterSnapshot"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: other_region,
        threshold: None,
        why: "A snapshot was copied across regions: legitimate for disaster recovery, also a way to stage data where nobody looks.",
        runbook: "Check the copy belongs to a disaster-recovery plan; if not, delete it and review sharing of the copy.",
    },
    Spec {
        id: "aws.rds.snapshot-deleted",
        severity: Severity::High,
        title: "RDS snapshot deleted",
        technique: "T1490",
        sources: RDS,
        names: Names::Exact(&["DeleteDBSnapshot", "DeleteDBClusterSnapshot"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "A database snapshot was deleted; deleting backups comes before destroying or ransoming data.",
        runbook: "Confirm it followed the retention policy; if not, protect the remaining snapshots and review the caller.",
    },
    Spec {
        id: "aws.rds.snapshot-enumeration",
        severity: Severity::Low,
        title: "Public or shared RDS snapshots listed",
        technique: "T1580",
        sources: RDS,
        names: Names::Exact(&["DescribeDBSnapshots", "DescribeDBClusterSnapshots"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: public_or_shared,
        threshold: None,
        why: "Listing public or shared snapshots looks for data other accounts expose, or that this one does.",
        runbook: "Check the caller is an auditing tool; if not, review its other discovery calls.",
    },
    Spec {
        id: "aws.rds.snapshot-exported",
        severity: Severity::High,
        title: "RDS snapshot exported to S3",
        technique: "T1537",
        sources: RDS,
        names: Names::Exact(&["StartExportTask"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "The whole database's content is written to an S3 bucket, where it can be read or copied out.",
        runbook: "Check the bucket belongs to this organisation and the export is expected; if not, cancel it (cancel-export-task) and lock the bucket.",
    },
    Spec {
        id: "aws.rds.security-group-ingress",
        severity: Severity::Medium,
        title: "Ingress authorized on an RDS security group",
        technique: "T1562.007",
        sources: RDS,
        names: Names::Exact(&["AuthorizeDBSecurityGroupIngress"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "New network access to the database; 0.0.0.0/0 exposes it to the internet.",
        runbook: "Check the CIDR or group; revoke it (revoke-db-security-group-ingress) if not expected.",
    },
];
