//! S3: block public access, and undo back to exactly what was there.

use aws_actions::{Action, PublicAccessBlock};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;

use crate::support::{target, Env};

async fn block_of(env: &Env, bucket: &str) -> Option<PublicAccessBlock> {
    match env
        .aws
        .s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => {
            let c = out.public_access_block_configuration().unwrap();
            Some(PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            })
        }
        Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => None,
        Err(e) => panic!("GetPublicAccessBlock {bucket}: {e:?}"),
    }
}

#[tokio::test]
async fn block_a_bucket_that_had_none_then_undo_deletes_it() {
    let env = Env::start().await;
    env.aws
        .s3
        .create_bucket()
        .bucket("open-data")
        .send()
        .await
        .unwrap();
    assert_eq!(block_of(&env, "open-data").await, None);

    let outcome = env
        .run(&Action::PutPublicAccessBlock {
            bucket: "open-data".into(),
        })
        .await;
    assert_eq!(
        block_of(&env, "open-data").await,
        Some(PublicAccessBlock::ALL)
    );
    assert_eq!(
        outcome.inverse,
        Some(Action::RestorePublicAccessBlock {
            bucket: "open-data".into(),
            previous: None
        })
    );

    env.undo(&outcome).await;
    assert_eq!(block_of(&env, "open-data").await, None);
}

#[tokio::test]
async fn undo_restores_a_partial_block() {
    let env = Env::start().await;
    env.aws
        .s3
        .create_bucket()
        .bucket("half-open")
        .send()
        .await
        .unwrap();
    let partial = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: false,
        block_public_policy: true,
        restrict_public_buckets: false,
    };
    env.aws
        .s3
        .put_public_access_block()
        .bucket("half-open")
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(false)
                .block_public_policy(true)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let outcome = env
        .run(&Action::PutPublicAccessBlock {
            bucket: "half-open".into(),
        })
        .await;
    assert_eq!(
        block_of(&env, "half-open").await,
        Some(PublicAccessBlock::ALL)
    );
    env.undo(&outcome).await;
    assert_eq!(block_of(&env, "half-open").await, Some(partial));
}

#[tokio::test]
async fn missing_bucket_is_a_final_error() {
    let env = Env::start().await;
    let err = env
        .exec
        .execute(
            &Action::PutPublicAccessBlock {
                bucket: "no-such-bucket".into(),
            },
            &target(),
            "a1",
        )
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(err.message.contains("no-such-bucket"), "{err}");
}
