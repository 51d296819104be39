//! S3 actions: the public access block of a bucket, and putting back what was there.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use aws_sdk_s3::Client;

use crate::action::{Action, PublicAccessBlock};
use crate::error::ExecError;
use crate::executor::Outcome;

/// The error code of GetPublicAccessBlock for a bucket that has none.
const NO_BLOCK: &str = "NoSuchPublicAccessBlockConfiguration";

fn to_sdk(block: PublicAccessBlock) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(block.block_public_acls)
        .ignore_public_acls(block.ignore_public_acls)
        .block_public_policy(block.block_public_policy)
        .restrict_public_buckets(block.restrict_public_buckets)
        .build()
}

fn from_sdk(config: &PublicAccessBlockConfiguration) -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: config.block_public_acls().unwrap_or(false),
        ignore_public_acls: config.ignore_public_acls().unwrap_or(false),
        block_public_policy: config.block_public_policy().unwrap_or(false),
        restrict_public_buckets: config.restrict_public_buckets().unwrap_or(false),
    }
}

/// The bucket's public access block now; `None` when it has none.
///
/// # Errors
/// Any failure other than "there is none" (no such bucket, access denied, network).
pub(crate) async fn current_block(
    client: &Client,
    bucket: &str,
) -> Result<Option<PublicAccessBlock>, ExecError> {
    match client.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => Ok(out.public_access_block_configuration().map(from_sdk)),
        Err(err) if err.code() == Some(NO_BLOCK) => Ok(None),
        Err(err) => Err(ExecError::from_sdk(
            &format!("s3:GetPublicAccessBlock of bucket {bucket}"),
            &err,
        )),
    }
}

async fn put_block(
    client: &Client,
    bucket: &str,
    block: PublicAccessBlock,
) -> Result<Option<String>, ExecError> {
    let context = format!("s3:PutPublicAccessBlock on bucket {bucket}");
    let out = client
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(to_sdk(block))
        .send()
        .await
        .map_err(|e| ExecError::from_sdk(&context, &e))?;
    Ok(out.request_id().map(str::to_owned))
}

/// Reads the current block (for the inverse), then turns all four settings on.
///
/// If the first call succeeded but its answer was lost, a retry reads the block it put and
/// records that as "previous": the inverse then keeps the bucket blocked, the safe side.
pub(crate) async fn block_public_access(
    client: &Client,
    bucket: &str,
) -> Result<Outcome, ExecError> {
    let previous = current_block(client, bucket).await?;
    let request_id = put_block(client, bucket, PublicAccessBlock::ALL).await?;
    let before = match previous {
        None => "none".to_owned(),
        Some(block) if block == PublicAccessBlock::ALL => "already all on".to_owned(),
        Some(block) => format!("{block:?}"),
    };
    Ok(Outcome {
        request_id,
        inverse: Some(Action::RestorePublicAccessBlock {
            bucket: bucket.to_owned(),
            previous,
        }),
        detail: format!(
            "public access of bucket {bucket} blocked, all four settings on (before: {before})"
        ),
        assumed_role: None,
    })
}

/// Puts back `previous`, or deletes the block when there was none.
pub(crate) async fn restore_block(
    client: &Client,
    bucket: &str,
    previous: Option<PublicAccessBlock>,
) -> Result<Outcome, ExecError> {
    let (request_id, detail) = match previous {
        Some(block) => (
            put_block(client, bucket, block).await?,
            format!("public access block of bucket {bucket} restored to {block:?}"),
        ),
        None => {
            let context = format!("s3:DeletePublicAccessBlock on bucket {bucket}");
            let out = client
                .delete_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| ExecError::from_sdk(&context, &e))?;
            (
                out.request_id().map(str::to_owned),
                format!("public access block of bucket {bucket} deleted (there was none before)"),
            )
        }
    };
    Ok(Outcome {
        request_id,
        inverse: None,
        detail,
        assumed_role: None,
    })
}
