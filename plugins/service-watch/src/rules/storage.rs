//! S3 data and configuration: deletions, replication, copies that re-encrypt or leave the
//! account, ransom notes.

use trailwarden_plugin_sdk::serde_json::Value;
use trailwarden_plugin_sdk::Severity;

use crate::spec::{always, text, Facts, Kind, Names, Spec};

const S3: &[&str] = &["s3.amazonaws.com"];

/// Words of the file names ransomware leaves (`HOW_TO_DECRYPT_FILES.txt`, `RANSOM_NOTE.txt`,
/// `FILES_ENCRYPTED.html`, `RESTORE_FILES.txt`...), compared lower-case on the key's last part.
const RANSOM_WORDS: &[&str] = &[
    "ransom",
    "decrypt",
    "encrypted",
    "restore_files",
    "restore-files",
    "recover_files",
    "recover-files",
    "how_to_recover",
    "readme_to_restore",
];

fn ransom_note(f: &Facts) -> bool {
    let Some(key) = f.param_str("key") else {
        return false;
    };
    let file = key.rsplit('/').next().unwrap_or(key).to_ascii_lowercase();
    RANSOM_WORDS.iter().any(|w| file.contains(w))
}

fn customer_key(f: &Facts) -> bool {
    f.param_str("x-amz-server-side-encryption-customer-algorithm")
        .is_some()
}

/// The account that owns the bucket written to: the `AWS::S3::Bucket` resource named in
/// the request, else the event's account.
fn bucket_owners(f: &Facts) -> Vec<String> {
    f.record_field("resources")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter(|r| text(r.get("type")) == Some("AWS::S3::Bucket"))
                .filter_map(|r| text(r.get("accountId")).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn home_account<'a>(f: &'a Facts<'a>) -> Option<&'a str> {
    f.event.account_or_principal_account()
}

/// A copy into a bucket another account owns.
fn copied_out(f: &Facts) -> bool {
    let Some(home) = home_account(f) else {
        return false;
    };
    bucket_owners(f).iter().any(|owner| owner != home)
}

/// The account of a KMS key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`).
fn key_account(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn") && parts.nth(1) == Some("kms"))
        .then(|| parts.nth(1))
        .flatten()
        .filter(|a| !a.is_empty())
}

/// Objects re-encrypted with a KMS key of another account than the caller's.
fn foreign_kms_key(f: &Facts) -> bool {
    let Some(key) = f.param_str("x-amz-server-side-encryption-aws-kms-key-id") else {
        return false;
    };
    let owner = f
        .event
        .principal
        .account_id
        .as_deref()
        .or(home_account(f))
        .or_else(|| {
            f.event
                .principal
                .arn
                .as_deref()
                .and_then(|a| a.split(':').nth(4))
        });
    match (key_account(key), owner) {
        (Some(k), Some(o)) => k != o,
        _ => false,
    }
}

pub const RULES: &[Spec] = &[
    Spec {
        id: "aws.s3.bucket-deleted",
        severity: Severity::Info,
        title: "S3 bucket deleted",
        technique: "T1485",
        sources: S3,
        names: Names::Exact(&["DeleteBucket"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "A bucket is gone, and its name can be claimed by anyone, including whoever still writes to it.",
        runbook: "Confirm a planned clean-up; if not, check what wrote to the bucket and recreate it to hold the name.",
    },
    Spec {
        id: "aws.s3.bucket-configuration-changed",
        severity: Severity::Info,
        title: "S3 bucket access or lifecycle configuration changed",
        technique: "T1222",
        sources: S3,
        names: Names::Exact(&[
            "DeleteBucketCors",
            "DeleteBucketLifecycle",
            "DeleteBucketPolicy",
            "DeleteBucketReplication",
            "PutBucketAcl",
            "PutBucketCors",
            "PutBucketLifecycle",
            "PutBucketPolicy",
            "PutBucketReplication",
        ]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "Who can reach a bucket's objects, and how long they are kept, changed (s3-exposure reports the public ones).",
        runbook: "Check the change against the bucket's intended policy; restore the previous configuration if not reviewed.",
    },
    Spec {
        id: "aws.s3.replication-deleted",
        severity: Severity::Medium,
        title: "S3 bucket replication deleted",
        technique: "T1490",
        sources: S3,
        names: Names::Exact(&["DeleteBucketReplication"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "Objects are no longer copied to the backup bucket, a step before deleting or encrypting them.",
        runbook: "Restore the replication configuration and check the bucket for deletions or re-encryption since.",
    },
    Spec {
        id: "aws.s3.objects-deleted-in-batch",
        severity: Severity::Info,
        title: "S3 objects deleted in a batch",
        technique: "T1485",
        sources: S3,
        names: Names::Exact(&["DeleteObjects"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: always,
        threshold: None,
        why: "Up to a thousand objects deleted in one call (data event); without versioning they are gone.",
        runbook: "Check the caller is a lifecycle or clean-up job; if not, restore from versions or replicas and review the caller.",
    },
    Spec {
        id: "aws.s3.ransom-note-uploaded",
        severity: Severity::Medium,
        title: "Ransom note uploaded to S3",
        technique: "T1486",
        sources: S3,
        names: Names::Exact(&["PutObject"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: ransom_note,
        threshold: None,
        why: "The object's name is one ransomware leaves beside the data it encrypted or deleted.",
        runbook: "Treat as an incident: revoke the caller's credentials, check the bucket's objects and versions, and restore from backups.",
    },
    Spec {
        id: "aws.s3.copy-with-customer-key",
        severity: Severity::Medium,
        title: "S3 object copied with a customer-provided key",
        technique: "T1486",
        sources: S3,
        names: Names::Exact(&["CopyObject"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: customer_key,
        threshold: None,
        why: "SSE-C: the copy is encrypted with a key AWS does not keep; copied over itself, only the caller can read the object again (S3 ransomware).",
        runbook: "Check the caller and whether the copy overwrote its source; block SSE-C by bucket policy where it is not used.",
    },
    Spec {
        id: "aws.s3.copy-with-foreign-kms-key",
        severity: Severity::High,
        title: "S3 object re-encrypted with another account's KMS key",
        technique: "T1486",
        sources: S3,
        names: Names::Exact(&["CopyObject"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: foreign_kms_key,
        threshold: None,
        why: "The copy is encrypted with a KMS key of another account, which can revoke this account's access to it (S3 ransomware).",
        runbook: "Treat as an incident: revoke the caller's credentials and restore the objects from earlier versions or replicas.",
    },
    Spec {
        id: "aws.s3.copy-to-other-account",
        severity: Severity::Medium,
        title: "S3 object copied to another account's bucket",
        technique: "T1537",
        sources: S3,
        names: Names::Exact(&["CopyObject"]),
        kind: Kind::ApiCall,
        attempts: false,
        when: copied_out,
        threshold: None,
        why: "Data left the account for a bucket it does not own.",
        runbook: "Check the destination bucket's owner is a partner; if not, revoke the caller's credentials and assess what was copied.",
    },
];

#[cfg(test)]
mod tests {
    use super::key_account;

    #[test]
    fn key_account_reads_the_arn() {
        assert_eq!(
            key_account("arn:aws:kms:us-east-1:999999999999:key/k"),
            Some("999999999999")
        );
        assert_eq!(key_account("alias/mine"), None);
        assert_eq!(key_account("arn:aws:s3:::b"), None);
    }
}
