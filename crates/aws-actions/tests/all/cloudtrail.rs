//! CloudTrail: a stopped trail logs again.

use aws_actions::Action;

use crate::support::Env;

#[tokio::test]
async fn start_logging_after_an_attacker_stopped_it() {
    let env = Env::start().await;
    env.aws
        .s3
        .create_bucket()
        .bucket("trail-logs")
        .send()
        .await
        .unwrap();
    let trail = env
        .aws
        .cloudtrail
        .create_trail()
        .name("org-trail")
        .s3_bucket_name("trail-logs")
        .send()
        .await
        .unwrap();
    let trail_arn = trail.trail_arn().unwrap().to_owned();
    let is_logging = || async {
        env.aws
            .cloudtrail
            .get_trail_status()
            .name("org-trail")
            .send()
            .await
            .unwrap()
            .is_logging()
    };

    env.aws
        .cloudtrail
        .stop_logging()
        .name("org-trail")
        .send()
        .await
        .unwrap();
    assert_eq!(is_logging().await, Some(false));
    let outcome = env
        .run(&Action::StartLogging {
            trail: "org-trail".into(),
        })
        .await;
    assert_eq!(is_logging().await, Some(true));
    assert_eq!(outcome.inverse, None);

    // By ARN too.
    env.aws
        .cloudtrail
        .stop_logging()
        .name("org-trail")
        .send()
        .await
        .unwrap();
    env.run(&Action::StartLogging { trail: trail_arn }).await;
    assert_eq!(is_logging().await, Some(true));
}
