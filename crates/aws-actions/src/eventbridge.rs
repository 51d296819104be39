//! EventBridge actions: publish a finding with PutEvents.

use aws_sdk_eventbridge::operation::RequestId;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use crate::error::ExecError;
use crate::executor::Outcome;

/// PutEvents with one entry. PutEvents answers 200 even when an entry was refused, so a
/// failed entry in the response is turned into an error here.
pub(crate) async fn publish_finding(
    client: &Client,
    event_bus: &str,
    detail_type: &str,
    source: &str,
    detail: &serde_json::Value,
) -> Result<Outcome, ExecError> {
    let context = format!("events:PutEvents to bus {event_bus} (source {source})");
    let entry = PutEventsRequestEntry::builder()
        .event_bus_name(event_bus)
        .source(source)
        .detail_type(detail_type)
        .detail(detail.to_string())
        .build();
    let out = client
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(|e| ExecError::from_sdk(&context, &e))?;
    let request_id = out.request_id().map(str::to_owned);
    let first = out.entries().first();
    let failed = out.failed_entry_count() > 0 || first.is_some_and(|e| e.error_code().is_some());
    if failed {
        let code = first.and_then(|e| e.error_code()).unwrap_or("unknown");
        let message = first.and_then(|e| e.error_message()).unwrap_or("");
        return Err(ExecError {
            // Entry-level codes: InternalFailure and ThrottlingException are transient;
            // the rest (malformed detail, unknown bus, ...) are final.
            retryable: matches!(code, "InternalFailure" | "ThrottlingException"),
            message: format!("{context}: entry failed: {code}: {message}"),
            request_id,
            code: Some(code.to_owned()),
        });
    }
    let event_id = first.and_then(|e| e.event_id()).unwrap_or("(no id)");
    Ok(Outcome {
        request_id,
        inverse: None,
        detail: format!("event {event_id} published to bus {event_bus}"),
        assumed_role: None,
    })
}
