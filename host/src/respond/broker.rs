//! The capability broker: decides each capability call (event of this batch? granted? in
//! scope? budget left? which mode?) and commits the decision to the outbox *before* the
//! plugin gets its receipt (ARCHITECTURE.md, rules 2 and 4).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use sha2::{Digest, Sha256};

use super::grants::{Mode, PluginGrants, Scope, Verdict};
use super::outbox::{now_us, ActionRecord, NewAction, Outbox, Status};
use super::request::{self, Request};
use crate::respond::settings::ResponseSettings;
use crate::runtime::{CapabilityCall, CapabilityHandler, LoadedPlugin, Receipt};
use crate::suppress::{now_s, Subject, Suppression, SuppressionSet};

const HOUR_US: i64 = 3_600_000_000;

/// One plugin version's broker; shared by its batches.
pub struct Broker {
    pub plugin: Arc<str>,
    pub version: String,
    pub sha256: String,
    pub grants: PluginGrants,
    pub outbox: Outbox,
    pub settings: Arc<ResponseSettings>,
    /// Rule id -> runbook, from the plugin's catalog: notifications carry the runbook line.
    pub runbooks: Arc<HashMap<String, String>>,
}

/// Where an event of the batch happened, and when the host received it.
#[derive(Debug, Clone)]
pub struct EventScope {
    pub account: String,
    pub region: String,
    pub received_us: i64,
}

/// The broker bound to one batch: capability calls may only name its events.
pub struct BrokerSession {
    broker: Arc<Broker>,
    events: HashMap<String, EventScope>,
    suppressions: Option<BatchSuppressions>,
}

/// The suppressions in force for a batch, with what they look at.
pub struct BatchSuppressions {
    pub set: Arc<SuppressionSet>,
    /// Each event's facts, by event id.
    pub subjects: HashMap<String, Subject>,
    /// The plugin, for its rule catalog (which rule pairs with which capability).
    pub plugin: Arc<LoadedPlugin>,
}

impl BrokerSession {
    pub fn new(broker: Arc<Broker>, events: HashMap<String, EventScope>) -> Self {
        BrokerSession {
            broker,
            events,
            suppressions: None,
        }
    }

    /// Holds back calls about events a suppression matches (recorded as `suppressed`).
    pub fn with_suppressions(mut self, suppressions: BatchSuppressions) -> Self {
        if !suppressions.set.is_empty() {
            self.suppressions = Some(suppressions);
        }
        self
    }
}

impl CapabilityHandler for BrokerSession {
    fn call(&mut self, event_id: &str, call: CapabilityCall) -> Result<Receipt> {
        let suppressed = self.suppressions.as_ref().and_then(|s| {
            let subject = s.subjects.get(event_id)?;
            s.set
                .for_call(s.plugin.rules.as_deref(), call.capability, subject, now_s())
        });
        self.broker
            .decide(self.events.get(event_id), event_id, &call, suppressed)
    }
}

/// The idempotency key: (plugin, event id, capability, arguments).
pub fn idempotency_key(plugin: &str, event_id: &str, call: &CapabilityCall) -> String {
    let canonical = serde_json::json!([plugin, event_id, call.capability, call.args]).to_string();
    hex::encode(Sha256::digest(canonical))
}

impl Broker {
    /// A notification carries its rule's runbook, when the plugin's catalog has one.
    fn with_runbook(&self, request: Request) -> Request {
        match request {
            Request::Webhook {
                target,
                finding,
                runbook: None,
            } => {
                let runbook = finding
                    .get("rule_id")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|rule| self.runbooks.get(rule))
                    .filter(|r| !r.trim().is_empty())
                    .cloned();
                Request::Webhook {
                    target,
                    finding,
                    runbook,
                }
            }
            other => other,
        }
    }

    fn decide(
        &self,
        scope: Option<&EventScope>,
        event_id: &str,
        call: &CapabilityCall,
        suppressed: Option<&Suppression>,
    ) -> Result<Receipt> {
        let key = idempotency_key(&self.plugin, event_id, call);
        // A redelivered event (or a replay) gets the receipt of the first decision.
        if let Some(existing) = self.outbox.by_key(&key)? {
            return Ok(receipt_of(&existing));
        }
        let unknown = EventScope {
            account: String::new(),
            region: String::new(),
            received_us: now_us(),
        };
        let event = scope.unwrap_or(&unknown);
        let settings = &self.settings;
        let parsed = request::from_call(
            call,
            |target| {
                settings
                    .eventbridge
                    .get(target)
                    .map(|t| t.event_bus.clone())
            },
            |target| settings.notify.contains_key(target),
        );
        let parsed = parsed.map(|request| self.with_runbook(request));
        let (request_json, resource, status, mode, reason) = match (&parsed, scope) {
            // Not granted at all: say so, whatever else is wrong with the call.
            _ if !self.grants.names(call.capability) => (
                serde_json::json!({"kind": "ungranted", "args": call.args}),
                String::new(),
                Status::Denied,
                None,
                Some(format!("capability {} is not granted", call.capability)),
            ),
            (_, None) => (
                serde_json::json!({"kind": "invalid", "args": call.args}),
                String::new(),
                Status::Denied,
                None,
                Some(format!(
                    "event {event_id} is not an event of the batch being handled"
                )),
            ),
            (Err(reason), Some(_)) => (
                serde_json::json!({"kind": "invalid", "args": call.args}),
                String::new(),
                Status::Denied,
                None,
                Some(reason.clone()),
            ),
            (Ok(request), Some(event)) => {
                let resource = request.resource(&event.account);
                let (mut status, mode, mut reason) =
                    self.judge(call.capability, event, &resource)?;
                if status != Status::Denied && matches!(request, Request::Aws { .. }) {
                    if let Err(why) = acting_account(&self.settings, &event.account) {
                        status = Status::Denied;
                        reason = Some(why);
                    }
                }
                if let (Some(suppression), false) = (suppressed, status == Status::Denied) {
                    status = Status::Suppressed;
                    reason = Some(format!(
                        "suppressed by {}: {}",
                        suppression.id, suppression.reason
                    ));
                }
                (
                    serde_json::to_value(request)?,
                    resource,
                    status,
                    mode,
                    reason,
                )
            }
        };
        let id = self.outbox.insert(&NewAction {
            idempotency_key: &key,
            plugin: &self.plugin,
            plugin_version: &self.version,
            plugin_sha256: &self.sha256,
            event_id,
            capability: call.capability,
            request: &request_json,
            account: &event.account,
            region: &event.region,
            resource: &resource,
            mode: mode.map_or("-", Mode::as_str),
            status,
            reason: reason.as_deref(),
            received_us: scope.map(|s| s.received_us),
            undo_of: None,
        })?;
        if status == Status::Suppressed {
            tracing::info!(
                plugin = &*self.plugin,
                capability = call.capability,
                event_id,
                reason = reason.as_deref().unwrap_or(""),
                "capability call suppressed"
            );
        }
        if status == Status::Denied {
            tracing::info!(
                plugin = &*self.plugin,
                capability = call.capability,
                event_id,
                reason = reason.as_deref().unwrap_or(""),
                "capability call denied"
            );
        }
        Ok(match status {
            Status::Accepted => Receipt::Accepted(id),
            Status::DryRun => Receipt::DryRun(id),
            Status::PendingApproval => Receipt::PendingApproval(id),
            _ => Receipt::Denied(reason.unwrap_or_default()),
        })
    }

    /// Grant, scope, budget and mode for a well-formed call.
    fn judge(
        &self,
        capability: &str,
        event: &EventScope,
        resource: &str,
    ) -> Result<(Status, Option<Mode>, Option<String>)> {
        let scope = Scope {
            account: &event.account,
            region: &event.region,
            resource,
        };
        match self.grants.decide(capability, &scope) {
            Verdict::Denied(reason) => Ok((Status::Denied, None, Some(reason))),
            Verdict::Granted { mode, max_per_hour } => {
                let used = self.outbox.budget_used(
                    &self.plugin,
                    capability,
                    now_us() - HOUR_US,
                    max_per_hour,
                )?;
                if used >= max_per_hour {
                    return Ok((
                        Status::Denied,
                        Some(mode),
                        Some(format!(
                            "budget exhausted: {used} of {max_per_hour} {capability} actions in the last hour"
                        )),
                    ));
                }
                let status = match mode {
                    Mode::Enforce => Status::Accepted,
                    Mode::DryRun => Status::DryRun,
                    Mode::Approve => Status::PendingApproval,
                };
                Ok((status, Some(mode), None))
            }
        }
    }
}

/// Whether trailwarden knows which credentials act in `account`: its own
/// (`[aws] platform_account`) or a role it assumes there (`[aws.assume_role]`). Anything
/// else (an empty account, one that is not an account id, one nobody configured) is refused,
/// so an event cannot make trailwarden act with its own credentials where it should not.
///
/// # Errors
/// The reason, for the denial.
pub fn acting_account(settings: &ResponseSettings, account: &str) -> Result<(), String> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the event's account {account:?} is not an AWS account id, so no credentials can act in it"
        ));
    }
    if settings.assume_role.contains_key(account)
        || settings.platform_account.as_deref() == Some(account)
    {
        return Ok(());
    }
    Err(format!(
        "account {account} is neither [aws] platform_account nor in [aws.assume_role]: \
         trailwarden would act there with its own credentials"
    ))
}

/// The receipt a recorded action stands for.
pub fn receipt_of(record: &ActionRecord) -> Receipt {
    match record.status {
        Status::Denied | Status::Suppressed => {
            Receipt::Denied(record.reason.clone().unwrap_or_default())
        }
        Status::Rejected => Receipt::Denied("rejected by a responder".into()),
        Status::DryRun => Receipt::DryRun(record.id.clone()),
        Status::PendingApproval => Receipt::PendingApproval(record.id.clone()),
        Status::Accepted
        | Status::Running
        | Status::Succeeded
        | Status::Failed
        | Status::Undone => Receipt::Accepted(record.id.clone()),
    }
}

/// Parses a stored request back (for the executors).
///
/// # Errors
/// The stored JSON is not a request (e.g. a denied, invalid call).
pub fn stored_request(record: &ActionRecord) -> Result<Request> {
    Ok(serde_json::from_value(record.request.clone())?)
}
