//! The capability broker: decides each capability call (event of this batch? granted? in
//! scope? budget left? which mode?) and commits the decision to the outbox *before* the
//! plugin gets its receipt (ARCHITECTURE.md, rules 2 and 4).

use std::cell::LazyCell;
use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use sha2::{Digest, Sha256};

use super::grants::{Mode, PluginGrants, Scope, Verdict};
use super::outbox::{now_us, ActionRecord, DecidedAction, Outbox, Status};
use super::request::{self, Refusal, Request, StoredRequest};
use crate::settings::ResponseSettings;
use crate::suppress::{now_s, Subject, Suppression, SuppressionSet};
use trailwarden_runtime::{CapabilityCall, CapabilityHandler, Receipt, RuleInfo};

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
    events: Scopes,
    suppressions: Option<BatchSuppressions>,
    pending: Pending,
}

/// The decisions of the batch in hand, recorded together when it ends
/// ([`CapabilityHandler::finish`]): one transaction per batch rather than one per call.
/// A repeated call and the budget see them as if they were already recorded.
#[derive(Default)]
struct Pending {
    actions: Vec<DecidedAction>,
    by_key: HashMap<String, usize>,
    /// Per capability, the pending decisions that spend its budget (as the outbox counts
    /// them: every one not denied).
    spending: HashMap<&'static str, u32>,
    /// Per capability, its budget spent in the last hour as recorded when the batch first
    /// called it: read once per batch, not once per call. Only this plugin's batches record
    /// its decisions, one batch at a time, so nothing adds to it while the batch runs; an
    /// action that leaves the hour meanwhile still counts, which can only deny, never allow.
    recorded_spending: HashMap<&'static str, u32>,
}

impl Pending {
    fn by_key(&self, key: &str) -> Option<&DecidedAction> {
        self.by_key.get(key).map(|&i| &self.actions[i])
    }

    fn spending(&self, capability: &str) -> u32 {
        self.spending.get(capability).copied().unwrap_or(0)
    }

    fn push(&mut self, action: DecidedAction) {
        if action.status != Status::Denied {
            *self.spending.entry(action.capability).or_default() += 1;
        }
        self.by_key
            .insert(action.idempotency_key.clone(), self.actions.len());
        self.actions.push(action);
    }
}

/// The batch's events by id, made at the first capability call: most batches make none,
/// and making the map for each was copies of three strings per event.
type Scopes =
    LazyCell<HashMap<String, EventScope>, Box<dyn FnOnce() -> HashMap<String, EventScope> + Send>>;

/// The suppressions in force for a batch, with what they look at.
pub struct BatchSuppressions {
    pub set: Arc<SuppressionSet>,
    /// Each event's facts, by event id.
    pub subjects: HashMap<String, Subject>,
    /// The plugin, for its rule catalog (which rule pairs with which capability).
    pub plugin: Arc<dyn RuleCatalog>,
}

/// A plugin's rule catalog, as suppressions read it (whatever the plugin was loaded from).
pub trait RuleCatalog: Send + Sync {
    /// The rules it holds (`None` before contract 0.3.0).
    fn rules(&self) -> Option<&[RuleInfo]>;
}

impl<C: Send + Sync> RuleCatalog for trailwarden_runtime::LoadedPlugin<C> {
    fn rules(&self) -> Option<&[RuleInfo]> {
        self.rules.as_deref()
    }
}

impl BrokerSession {
    /// A session for a batch whose events (by id, with their scopes) `events` makes when
    /// the first call needs them.
    pub fn new(
        broker: Arc<Broker>,
        events: impl FnOnce() -> HashMap<String, EventScope> + Send + 'static,
    ) -> Self {
        BrokerSession {
            broker,
            events: LazyCell::new(Box::new(events)),
            suppressions: None,
            pending: Pending::default(),
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
                .for_call(s.plugin.rules(), call.capability(), subject, now_s())
        });
        self.broker.decide(
            &mut self.pending,
            LazyCell::force(&self.events).get(event_id),
            event_id,
            &call,
            suppressed,
        )
    }

    fn finish(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let broker = &self.broker;
        broker.outbox.insert_decided(
            &broker.plugin,
            &broker.version,
            &broker.sha256,
            &pending.actions,
        )
    }
}

/// The idempotency key: (plugin, event id, capability, arguments by their WIT names).
pub fn idempotency_key(plugin: &str, event_id: &str, call: &CapabilityCall) -> String {
    // The JSON array earlier releases built as a tree, written straight from the call: a
    // notification's arguments hold its whole finding, which the tree copied twice more.
    let canonical = serde_json::to_vec(&(plugin, event_id, call.capability(), call.args_ref()))
        // Strings and JSON values always serialise.
        .unwrap_or_default();
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
        pending: &mut Pending,
        scope: Option<&EventScope>,
        event_id: &str,
        call: &CapabilityCall,
        suppressed: Option<&Suppression>,
    ) -> Result<Receipt> {
        let key = idempotency_key(&self.plugin, event_id, call);
        // A repeated call, a redelivered event (or a replay) gets the receipt of the first
        // decision.
        if let Some(decided) = pending.by_key(&key) {
            return Ok(receipt(
                decided.status,
                &decided.id,
                decided.reason.as_deref(),
            ));
        }
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
        let capability = call.capability();
        let refused = |kind| StoredRequest::Refused {
            kind,
            args: call.args(),
        };
        let (stored, resource, status, mode, reason) = match (parsed, scope) {
            // Not granted at all: say so, whatever else is wrong with the call.
            _ if !self.grants.names(capability) => (
                refused(Refusal::Ungranted),
                String::new(),
                Status::Denied,
                None,
                Some(format!("capability {capability} is not granted")),
            ),
            (_, None) => (
                refused(Refusal::Invalid),
                String::new(),
                Status::Denied,
                None,
                Some(format!(
                    "event {event_id} is not an event of the batch being handled"
                )),
            ),
            (Err(reason), Some(_)) => (
                refused(Refusal::Invalid),
                String::new(),
                Status::Denied,
                None,
                Some(reason),
            ),
            (Ok(request), Some(event)) => {
                let resource = request.resource(&event.account);
                let (mut status, mode, mut reason) =
                    self.judge(capability, event, &resource, pending)?;
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
                    StoredRequest::Request(request),
                    resource,
                    status,
                    mode,
                    reason,
                )
            }
        };
        let id = DecidedAction::new_id(&key);
        pending.push(DecidedAction {
            id: id.clone(),
            idempotency_key: key,
            event_id: event_id.to_owned(),
            capability,
            request: stored,
            account: event.account.clone(),
            region: event.region.clone(),
            resource,
            mode: mode.map_or("-", Mode::as_str),
            status,
            reason: reason.clone(),
            received_us: scope.map(|s| s.received_us),
            decided_us: now_us(),
        });
        if status == Status::Suppressed {
            tracing::info!(
                plugin = &*self.plugin,
                capability,
                event_id,
                reason = reason.as_deref().unwrap_or(""),
                "capability call suppressed"
            );
        }
        if status == Status::Denied {
            tracing::info!(
                plugin = &*self.plugin,
                capability,
                event_id,
                reason = reason.as_deref().unwrap_or(""),
                "capability call denied"
            );
        }
        Ok(receipt(status, &id, reason.as_deref()))
    }

    /// Grant, scope, budget and mode for a well-formed call; `pending` decisions of this
    /// batch already spend the budget.
    fn judge(
        &self,
        capability: &'static str,
        event: &EventScope,
        resource: &str,
        pending: &mut Pending,
    ) -> Result<(Status, Option<Mode>, Option<String>)> {
        let scope = Scope {
            account: &event.account,
            region: &event.region,
            resource,
        };
        match self.grants.decide(capability, &scope) {
            Verdict::Denied(reason) => Ok((Status::Denied, None, Some(reason))),
            Verdict::Granted { mode, max_per_hour } => {
                let recorded = match pending.recorded_spending.get(capability) {
                    Some(&spent) => spent,
                    None => {
                        let since = now_us() - HOUR_US;
                        let spent = self.outbox.budget_used(
                            &self.plugin,
                            capability,
                            since,
                            max_per_hour,
                        )?;
                        pending.recorded_spending.insert(capability, spent);
                        spent
                    }
                };
                let used = recorded.saturating_add(pending.spending(capability));
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

/// The receipt a decision made now answers: its action id, or why it was denied.
fn receipt(status: Status, id: &str, reason: Option<&str>) -> Receipt {
    match status {
        Status::Accepted => Receipt::Accepted(id.to_owned()),
        Status::DryRun => Receipt::DryRun(id.to_owned()),
        Status::PendingApproval => Receipt::PendingApproval(id.to_owned()),
        _ => Receipt::Denied(reason.unwrap_or_default().to_owned()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::Grant;

    const ACCOUNT: &str = "111122223333";

    fn broker(max_per_hour: u32) -> Arc<Broker> {
        let mut grants = PluginGrants::dry_run_everything();
        grants.dry_run_everything = false;
        grants.grants.push(Grant {
            capability: "iam.disable-access-key".into(),
            mode: Some(Mode::DryRun),
            accounts: vec![ACCOUNT.into()],
            regions: vec!["*".into()],
            resources: vec!["*".into()],
            max_per_hour,
        });
        Arc::new(Broker {
            plugin: Arc::from("keys"),
            version: "1".into(),
            sha256: "sha".into(),
            grants,
            outbox: Outbox::in_memory().unwrap(),
            settings: Arc::new(ResponseSettings {
                platform_account: Some(ACCOUNT.into()),
                ..ResponseSettings::default()
            }),
            runbooks: Arc::new(HashMap::new()),
        })
    }

    fn batch(broker: &Arc<Broker>, events: &[&str]) -> BrokerSession {
        let scope = EventScope {
            account: ACCOUNT.into(),
            region: "us-east-1".into(),
            received_us: 1,
        };
        let events: HashMap<String, EventScope> = events
            .iter()
            .map(|e| ((*e).to_owned(), scope.clone()))
            .collect();
        BrokerSession::new(broker.clone(), move || events)
    }

    fn disable(user: &str) -> CapabilityCall {
        CapabilityCall::Aws(aws_actions::Action::DisableAccessKey {
            user_name: user.into(),
            access_key_id: "AKIAEXAMPLE".into(),
        })
    }

    #[test]
    fn idempotency_keys_are_those_earlier_releases_computed() {
        // Earlier releases hashed the WIT arguments as the host glue built them: a replay
        // after an upgrade must find the decisions they recorded.
        let earlier = serde_json::json!([
            "keys",
            "e1",
            "iam.disable-access-key",
            {"user-name": "bob", "access-key-id": "AKIAEXAMPLE"}
        ])
        .to_string();
        assert_eq!(
            idempotency_key("keys", "e1", &disable("bob")),
            hex::encode(Sha256::digest(earlier))
        );
    }

    #[test]
    fn a_notifications_key_is_the_one_earlier_releases_computed() {
        // Keys out of order, nesting, escapes and non-ASCII text in the finding: written
        // from the call, the bytes hashed must be those of the tree earlier releases built.
        let finding = serde_json::json!({
            "title": "Root \"used\"\n",
            "rule_id": "aws.root.used",
            "context": {"z": [1, 2.5, null], "a": {"ü": "Zürich \u{1F512}"}},
            "resources": [],
        });
        for call in [
            CapabilityCall::NotifySend {
                target: "security-team".into(),
                finding: finding.clone(),
            },
            CapabilityCall::PublishFinding {
                target: "bus".into(),
                finding: finding.clone(),
            },
        ] {
            let earlier =
                serde_json::json!(["root-usage", "e1", call.capability(), call.args()]).to_string();
            assert_eq!(
                idempotency_key("root-usage", "e1", &call),
                hex::encode(Sha256::digest(earlier)),
                "{}",
                call.capability()
            );
        }
    }

    #[test]
    fn a_batchs_decisions_are_recorded_together_when_it_finishes() {
        let broker = broker(10);
        let mut session = batch(&broker, &["e1", "e2"]);
        let first = session.call("e1", disable("bob")).unwrap();
        assert!(matches!(first, Receipt::DryRun(_)), "{first:?}");
        // The same call again in the batch: the same decision, not a second one.
        assert_eq!(session.call("e1", disable("bob")).unwrap(), first);
        session.call("e2", disable("carol")).unwrap();
        assert!(broker.outbox.list(None, None).unwrap().is_empty());
        session.finish().unwrap();
        let recorded = broker.outbox.list(None, None).unwrap();
        assert_eq!(recorded.len(), 2, "{recorded:?}");
        let Receipt::DryRun(id) = first else {
            unreachable!()
        };
        assert!(recorded.iter().any(|a| a.id == id && a.event_id == "e1"));
        // A later batch (a redelivery) gets the recorded decision's receipt.
        let mut later = batch(&broker, &["e1"]);
        assert_eq!(
            later.call("e1", disable("bob")).unwrap(),
            Receipt::DryRun(id)
        );
        later.finish().unwrap();
        assert_eq!(broker.outbox.list(None, None).unwrap().len(), 2);
    }

    #[test]
    fn the_budget_counts_the_decisions_the_batch_has_not_recorded_yet() {
        let broker = broker(2);
        let mut session = batch(&broker, &["e1", "e2", "e3"]);
        assert!(matches!(
            session.call("e1", disable("a")).unwrap(),
            Receipt::DryRun(_)
        ));
        assert!(matches!(
            session.call("e2", disable("b")).unwrap(),
            Receipt::DryRun(_)
        ));
        let third = session.call("e3", disable("c")).unwrap();
        assert!(
            matches!(&third, Receipt::Denied(why) if why.contains("budget exhausted: 2 of 2")),
            "{third:?}"
        );
        session.finish().unwrap();
        let statuses: Vec<Status> = broker
            .outbox
            .list(None, None)
            .unwrap()
            .into_iter()
            .map(|a| a.status)
            .collect();
        assert_eq!(statuses.iter().filter(|s| **s == Status::DryRun).count(), 2);
        assert_eq!(statuses.iter().filter(|s| **s == Status::Denied).count(), 1);
    }

    #[test]
    fn the_budget_spent_by_earlier_batches_counts_in_every_later_call() {
        let broker = broker(3);
        let mut first = batch(&broker, &["e1", "e2"]);
        for (event, user) in [("e1", "a"), ("e2", "b")] {
            assert!(matches!(
                first.call(event, disable(user)).unwrap(),
                Receipt::DryRun(_)
            ));
        }
        first.finish().unwrap();
        // The next batch reads the two recorded once, then adds its own decisions to them.
        let mut second = batch(&broker, &["e3", "e4", "e5"]);
        assert!(matches!(
            second.call("e3", disable("c")).unwrap(),
            Receipt::DryRun(_)
        ));
        for (event, user) in [("e4", "d"), ("e5", "e")] {
            let receipt = second.call(event, disable(user)).unwrap();
            assert!(
                matches!(&receipt, Receipt::Denied(why) if why.contains("budget exhausted: 3 of 3")),
                "{receipt:?}"
            );
        }
        second.finish().unwrap();
        let mut third = batch(&broker, &["e6"]);
        let receipt = third.call("e6", disable("f")).unwrap();
        assert!(
            matches!(&receipt, Receipt::Denied(why) if why.contains("budget exhausted: 3 of 3")),
            "{receipt:?}"
        );
    }
}
