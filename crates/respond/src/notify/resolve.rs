//! Resolving a finding's PagerDuty incidents: the hook the console calls when a finding is
//! triaged "resolved", and `trailwarden notify resolve FINDING_ID`.

use anyhow::{bail, Result};

use super::groups;
use crate::notify_target::NotifyKind;
use crate::outbox::{now_us, NewAction, Outbox, Status};
use crate::request::{Request, StoredRequest, NOTIFY_RESOLVE};

/// Queues, in the outbox, one `event_action: resolve` per PagerDuty target for the
/// recorded finding `finding_id` (the same dedup key its trigger used); the executors send
/// them with retries. Calling it again for the same finding queues nothing new. Returns the
/// resolve actions' ids (none when no PagerDuty target is configured).
///
/// # Errors
/// No such finding, or the outbox cannot be read or written.
pub fn resolve_finding(
    outbox: &Outbox,
    settings: &crate::settings::ResponseSettings,
    finding_id: i64,
) -> Result<Vec<String>> {
    let Some((plugin, _rule, dedup_key)) = groups::finding_by_id(outbox, finding_id)? else {
        bail!("no finding {finding_id}");
    };
    let mut ids = Vec::new();
    for (name, target) in &settings.notify {
        if target.kind != NotifyKind::Pagerduty {
            continue;
        }
        let key = format!("notify-resolve:{name}:{finding_id}");
        if let Some(existing) = outbox.by_key(&key)? {
            ids.push(existing.id);
            continue;
        }
        let request = StoredRequest::Request(Request::NotifyResolve {
            target: name.clone(),
            dedup_key: dedup_key.clone(),
        });
        ids.push(outbox.insert(&NewAction {
            idempotency_key: &key,
            plugin: &plugin,
            plugin_version: "",
            plugin_sha256: "",
            event_id: "",
            capability: NOTIFY_RESOLVE,
            request: &request,
            account: "",
            region: "",
            resource: &format!("notify:{name}"),
            mode: "enforce",
            status: Status::Accepted,
            reason: Some(&format!("finding {finding_id} resolved")),
            received_us: Some(now_us()),
            undo_of: None,
        })?);
    }
    Ok(ids)
}
