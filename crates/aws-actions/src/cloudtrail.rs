//! CloudTrail actions: start logging on a trail.

use aws_sdk_cloudtrail::operation::RequestId;
use aws_sdk_cloudtrail::Client;

use crate::error::ExecError;
use crate::executor::Outcome;

/// StartLogging on a trail (name or ARN). Starting a trail that logs already succeeds.
/// There is no inverse: stopping a trail is what an attacker does.
pub(crate) async fn start_logging(client: &Client, trail: &str) -> Result<Outcome, ExecError> {
    let context = format!("cloudtrail:StartLogging on trail {trail}");
    let out = client
        .start_logging()
        .name(trail)
        .send()
        .await
        .map_err(|e| ExecError::from_sdk(&context, &e))?;
    Ok(Outcome {
        request_id: out.request_id().map(str::to_owned),
        inverse: None,
        detail: format!("trail {trail} is logging"),
        assumed_role: None,
    })
}
