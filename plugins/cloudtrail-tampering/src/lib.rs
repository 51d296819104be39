//! `cloudtrail-tampering`: CloudTrail logging stopped, deleted, or narrowed.
//!
//! Successful calls only (no `errorCode`/`errorMessage`) to `cloudtrail.amazonaws.com`:
//!
//! | rule id | events | severity |
//! |---|---|---|
//! | `aws.cloudtrail.stopped` | `StopLogging`, `StopEventDataStoreIngestion` | high |
//! | `aws.cloudtrail.deleted` | `DeleteTrail`, `DeleteEventDataStore` | high |
//! | `aws.cloudtrail.updated` | `UpdateTrail` | high if it weakens the trail (single-region, global events off, validation off, encryption or CloudWatch delivery removed, destination bucket changed), else medium |
//! | `aws.cloudtrail.selectors-narrowed` | `PutEventSelectors` (`PutAdvancedEventSelectors`) whose new selectors, taken together, no longer log every management event | high if write events are no longer logged, else medium |
//!
//! Responses (the notify target is the config's `notify_target`, default `security-team`):
//! - `StopLogging`: `cloudtrail.start-logging` on the trail, as the request named it (name or
//!   ARN; the host acts in the event's account and region, where that name resolved), then
//!   `notify.send` of the finding;
//! - `DeleteTrail`: `notify.send` only (the trail is gone);
//! - `UpdateTrail`, `PutEventSelectors` (`PutAdvancedEventSelectors`): `notify.send` only
//!   (the previous settings are not in the event, so there is nothing to restore them from).
//!
//! Stopped and deleted event data stores (CloudTrail Lake) are only reported.
//!
//! Selectors are judged from the request alone (the previous configuration is not in the
//! event): management events are fully logged when, for both read and write events, some
//! selector includes them with no excluded event source.

use std::collections::BTreeSet;

use trailwarden_plugin_sdk::capability::{log_receipt, CLOUDTRAIL_START_LOGGING, NOTIFY_SEND};
use trailwarden_plugin_sdk::json::{at, boolish, get_ci};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    capitalize, non_empty, Batch, Config, Descriptor, Event, Finding, Rule, Severity,
};

pub const STOPPED: &str = "aws.cloudtrail.stopped";
pub const DELETED: &str = "aws.cloudtrail.deleted";
pub const UPDATED: &str = "aws.cloudtrail.updated";
pub const SELECTORS_NARROWED: &str = "aws.cloudtrail.selectors-narrowed";

type Map = trailwarden_plugin_sdk::serde_json::Map<String, Value>;

const CLOUDTRAIL: &str = "cloudtrail.amazonaws.com";

/// The event names this plugin looks at.
pub const EVENT_NAMES: &[&str] = &[
    "StopLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "PutAdvancedEventSelectors",
    "StopEventDataStoreIngestion",
    "DeleteEventDataStore",
];

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[CLOUDTRAIL_START_LOGGING, NOTIFY_SEND];

/// Name, version and the EventBridge pattern: the CloudTrail calls listed in
/// [`EVENT_NAMES`].
pub fn descriptor() -> Descriptor {
    let pattern = json!({
        "detail": {
            "eventSource": [CLOUDTRAIL],
            "eventName": EVENT_NAMES,
        }
    });
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![pattern.to_string()],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "advanced-selectors-narrowed.json",
            "delete-trail-envelope.json",
            "delete-trail-via-cloudformation.json",
            "event-data-store.json",
            "failed-calls.json",
            "not-tampering.json",
            "selectors-management-off.json",
            "selectors-partly-narrowed.json",
            "selectors-widened.json",
            "stop-logging-restart-denied.json",
            "stop-logging.json",
            "update-trail-other.json",
            "update-trail-weakened.json",
        ],
        // It acts: trailwarden's own StartLogging must not come back to it.
        self_caused_events: false,
    }
}

/// The rule catalog: the four rules above, naming the notify target of `config`.
pub fn rules(config: &Config) -> Vec<Rule> {
    let target = config.notify_target();
    vec![
        Rule::new(
            STOPPED,
            Severity::High,
            "CloudTrail logging stopped",
            &["T1562.008"],
            &format!(
                "A trail's logging (`StopLogging`) or an event data store's ingestion \
                 (`StopEventDataStoreIngestion`) was stopped: nothing is recorded until it \
                 is started again. A stopped trail is started again with \
                 `cloudtrail.start-logging` and the finding is sent to {target}; a data \
                 store is only reported."
            ),
            "Check that the trail logs again, then review what the principal did while it \
             was stopped and why it could call StopLogging.",
            &[CLOUDTRAIL_START_LOGGING, NOTIFY_SEND],
        ),
        Rule::new(
            DELETED,
            Severity::High,
            "CloudTrail trail or event data store deleted",
            &["T1562.008"],
            &format!(
                "A trail (`DeleteTrail`) or an event data store (`DeleteEventDataStore`) was \
                 deleted: its logging is gone and cannot be restarted. A deleted trail is \
                 sent to {target}; a data store is only reported."
            ),
            "Recreate the trail from your infrastructure code, then review the principal's \
             activity in the remaining trails since the deletion.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            UPDATED,
            Severity::High,
            "CloudTrail trail updated",
            &["T1562.008"],
            &format!(
                "A trail's settings were changed (`UpdateTrail`). High when the change \
                 weakens it (single-region, global service events off, log file validation \
                 off, no longer an organization trail, encryption or CloudWatch Logs delivery \
                 removed, another destination bucket), medium otherwise. Sent to {target}."
            ),
            "Compare the trail's settings with your baseline and restore them if the \
             principal had no reason to change them.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            SELECTORS_NARROWED,
            Severity::High,
            "CloudTrail event selectors narrowed",
            &["T1562.008"],
            &format!(
                "A trail's event selectors (`PutEventSelectors`, basic or advanced) no longer \
                 log every management event: high when no write management event is logged \
                 any more, medium when read events or some event sources are left out. Sent \
                 to {target}."
            ),
            "Restore selectors that log all management events, then review the principal's \
             calls that the narrowed trail did not record (in another trail or Event \
             history).",
            &[NOTIFY_SEND],
        ),
    ]
}

/// The findings for one event (none or one).
pub fn detect(event: &Event) -> Vec<Finding> {
    if event.source.as_deref() != Some(CLOUDTRAIL) || event.failed() || !api_call(event) {
        return Vec::new();
    }
    let Some(name) = event.name.as_deref() else {
        return Vec::new();
    };
    let raw = event.raw_json();
    let raw = raw.as_ref();
    let finding = match name {
        "StopLogging" => Some(stopped(event, trail(event, raw))),
        "StopEventDataStoreIngestion" => Some(stopped(event, data_store(event, raw))),
        "DeleteTrail" => Some(deleted(event, trail(event, raw))),
        "DeleteEventDataStore" => Some(deleted(event, data_store(event, raw))),
        "UpdateTrail" => Some(updated(event, raw)),
        "PutEventSelectors" | "PutAdvancedEventSelectors" => {
            raw.and_then(|r| selectors_narrowed(event, r))
        }
        _ => None,
    };
    finding.into_iter().collect()
}

/// Whether the event records the API call itself. VPC endpoint network activity events
/// (`AwsVpceEvent`) repeat a call that is also logged as an `AwsApiCall`, without telling
/// whether it succeeded.
fn api_call(event: &Event) -> bool {
    matches!(event.event_type.as_deref(), None | Some("AwsApiCall"))
}

/// The trail or event data store a call acted on.
#[derive(Debug, Clone)]
struct Target {
    /// `trail` or `event data store`.
    kind: &'static str,
    /// Its name or id as the request gave it (or the ARN's last part).
    name: Option<String>,
    arn: Option<String>,
}

impl Target {
    fn label(&self) -> String {
        match (&self.arn, &self.name) {
            (Some(arn), _) => format!("{} {arn}", self.kind),
            (None, Some(name)) => format!("{} {name}", self.kind),
            (None, None) => format!("an unnamed {}", self.kind),
        }
    }

    fn short(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.arn.clone())
            .unwrap_or_else(|| "(unnamed)".to_owned())
    }

    fn resources(&self) -> Vec<String> {
        self.arn
            .clone()
            .or_else(|| self.name.clone())
            .into_iter()
            .collect()
    }

    fn key(&self, event: &Event) -> String {
        match (&self.arn, &self.name) {
            (Some(arn), _) => arn.clone(),
            (None, name) => format!(
                "{}:{}:{}",
                event.account_or_unknown(),
                event.region_or_unknown(),
                name.as_deref().unwrap_or("unnamed")
            ),
        }
    }
}

fn param<'a>(raw: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    raw.and_then(|r| r.get("requestParameters"))
        .and_then(|p| get_ci(p, key))
}

fn param_str<'a>(raw: Option<&'a Value>, key: &str) -> Option<&'a str> {
    param(raw, key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn target(
    event: &Event,
    kind: &'static str,
    arn_kind: &str,
    given: Option<&str>,
    known_arn: Option<&str>,
) -> Target {
    let given = given.map(str::trim).filter(|s| !s.is_empty());
    let from_arn = |arn: &str| arn.rsplit('/').next().map(str::to_owned);
    let arn = known_arn
        .filter(|a| a.starts_with("arn:"))
        .map(str::to_owned)
        .or_else(|| given.filter(|g| g.starts_with("arn:")).map(str::to_owned))
        .or_else(|| {
            let name = given?;
            let region = non_empty(event.region.as_deref())?;
            let account = event.account_or_principal_account()?;
            Some(format!(
                "arn:{}:cloudtrail:{region}:{account}:{arn_kind}/{name}",
                event.partition()
            ))
        });
    let name = match given {
        Some(g) if g.starts_with("arn:") => from_arn(g),
        Some(g) => Some(g.to_owned()),
        None => arn.as_deref().and_then(from_arn),
    };
    Target { kind, name, arn }
}

fn trail(event: &Event, raw: Option<&Value>) -> Target {
    let given = param_str(raw, "name").or_else(|| param_str(raw, "trailName"));
    let known_arn = raw
        .and_then(|r| r.get("responseElements"))
        .and_then(|r| get_ci(r, "trailARN"))
        .and_then(Value::as_str);
    target(event, "trail", "trail", given, known_arn)
}

fn data_store(event: &Event, raw: Option<&Value>) -> Target {
    let given = param_str(raw, "eventDataStore");
    target(event, "event data store", "eventdatastore", given, None)
}

/// The common context fields, and the target (trail or event data store).
fn base_context(event: &Event, target: &Target) -> Map {
    let mut m = event.base_context();
    m.insert("target_kind".into(), json!(target.kind));
    m.insert(
        "target".into(),
        json!(target.arn.as_ref().or(target.name.as_ref())),
    );
    m
}

struct Parts {
    rule_id: &'static str,
    severity: Severity,
    title: String,
    description: String,
    context: Map,
}

fn build(event: &Event, target: &Target, parts: Parts) -> Finding {
    Finding {
        rule_id: parts.rule_id.to_owned(),
        severity: parts.severity,
        title: parts.title,
        description: parts.description,
        resources: target.resources(),
        dedup_key: format!("{}:{}", parts.rule_id, target.key(event)),
        event_id: event.id.clone(),
        context: Value::Object(parts.context).to_string(),
    }
}

fn stopped(event: &Event, target: Target) -> Finding {
    let (verb, restart) = if target.kind == "trail" {
        ("stopped logging", "restart logging")
    } else {
        ("stopped ingestion", "restart ingestion")
    };
    let title = format!("CloudTrail {} {} {verb}", target.kind, target.short());
    let description = format!(
        "{} {verb} of CloudTrail {} {}. Nothing done in the account is recorded by it \
         until it is started again; attackers stop logging to hide what follows. Check who \
         did it, {restart}, and review the activity since.",
        capitalize(&event.actor()),
        target.label(),
        event.location()
    );
    let context = base_context(event, &target);
    build(
        event,
        &target,
        Parts {
            rule_id: STOPPED,
            severity: Severity::High,
            title,
            description,
            context,
        },
    )
}

fn deleted(event: &Event, target: Target) -> Finding {
    let title = format!("CloudTrail {} {} deleted", target.kind, target.short());
    let description = format!(
        "{} deleted CloudTrail {} {}. The events it recorded stop being delivered; \
         attackers delete trails to hide what follows. Check who did it, recreate the trail, \
         and review the activity since.",
        capitalize(&event.actor()),
        target.label(),
        event.location()
    );
    let context = base_context(event, &target);
    build(
        event,
        &target,
        Parts {
            rule_id: DELETED,
            severity: Severity::High,
            title,
            description,
            context,
        },
    )
}

/// What an `UpdateTrail` request changes that weakens the trail.
fn update_weakenings(raw: Option<&Value>) -> Vec<String> {
    let flag = |key: &str| param(raw, key).and_then(boolish);
    let empty = |key: &str| param(raw, key).and_then(Value::as_str) == Some("");
    let mut out = Vec::new();
    if flag("isMultiRegionTrail") == Some(false) {
        out.push("made single-region (other regions are no longer logged)".to_owned());
    }
    if flag("includeGlobalServiceEvents") == Some(false) {
        out.push("global service events (IAM, STS, CloudFront) excluded".to_owned());
    }
    if flag("enableLogFileValidation") == Some(false) {
        out.push("log file integrity validation disabled".to_owned());
    }
    if flag("isOrganizationTrail") == Some(false) {
        out.push("no longer an organization trail".to_owned());
    }
    if empty("kmsKeyId") {
        out.push("SSE-KMS encryption of the logs removed".to_owned());
    }
    if empty("cloudWatchLogsLogGroupArn") {
        out.push("delivery to CloudWatch Logs removed".to_owned());
    }
    if let Some(bucket) = param_str(raw, "s3BucketName") {
        out.push(format!("log delivery moved to S3 bucket {bucket}"));
    }
    out
}

fn updated(event: &Event, raw: Option<&Value>) -> Finding {
    let target = trail(event, raw);
    let weakenings = update_weakenings(raw);
    let (severity, title, impact) = if weakenings.is_empty() {
        (
            Severity::Medium,
            format!("CloudTrail trail {} updated", target.short()),
            "Trail settings decide what is logged and where the logs go; confirm the change \
             was intended."
                .to_owned(),
        )
    } else {
        (
            Severity::High,
            format!(
                "CloudTrail trail {} updated to weaken logging",
                target.short()
            ),
            format!(
                "The change weakens the trail: {}. Confirm it was intended, or revert it.",
                weakenings.join("; ")
            ),
        )
    };
    let description = format!(
        "{} updated CloudTrail {} {}. {impact}",
        capitalize(&event.actor()),
        target.label(),
        event.location()
    );
    let mut context = base_context(event, &target);
    context.insert("weakenings".into(), json!(weakenings));
    if let Some(params) = raw.and_then(|r| r.get("requestParameters")) {
        context.insert("request_parameters".into(), params.clone());
    }
    build(
        event,
        &target,
        Parts {
            rule_id: UPDATED,
            severity,
            title,
            description,
            context,
        },
    )
}

/// How the management events of one kind (read or write) are covered by the selectors.
#[derive(Debug, Default)]
struct Cover {
    /// Some selector includes them without excluding any source.
    full: bool,
    /// Exclusion sets of the selectors that include them with exclusions.
    partial: Vec<BTreeSet<String>>,
    /// Some selector includes them but only for an allow-list of sources.
    restricted: bool,
}

impl Cover {
    fn any(&self) -> bool {
        self.full || !self.partial.is_empty() || self.restricted
    }

    /// Sources excluded by every selector that covers this kind (none if one covers all).
    fn excluded(&self) -> BTreeSet<String> {
        if self.full {
            return BTreeSet::new();
        }
        let mut sets = self.partial.iter();
        let Some(first) = sets.next() else {
            return BTreeSet::new();
        };
        sets.fold(first.clone(), |acc, s| {
            acc.intersection(s).cloned().collect()
        })
    }

    fn add(&mut self, excluded: BTreeSet<String>, restricted: bool) {
        if restricted {
            self.restricted = true;
        } else if excluded.is_empty() {
            self.full = true;
        } else {
            self.partial.push(excluded);
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Adds a classic event selector (`readWriteType`, `includeManagementEvents`,
/// `excludeManagementEventSources`).
fn add_classic(sel: &Value, read: &mut Cover, write: &mut Cover) {
    if get_ci(sel, "includeManagementEvents").and_then(boolish) == Some(false) {
        return;
    }
    let excluded: BTreeSet<String> = strings(get_ci(sel, "excludeManagementEventSources"))
        .into_iter()
        .collect();
    let rw = get_ci(sel, "readWriteType")
        .and_then(Value::as_str)
        .unwrap_or("All");
    if rw.eq_ignore_ascii_case("All") || rw.eq_ignore_ascii_case("ReadOnly") {
        read.add(excluded.clone(), false);
    }
    if rw.eq_ignore_ascii_case("All") || rw.eq_ignore_ascii_case("WriteOnly") {
        write.add(excluded, false);
    }
}

/// Adds an advanced event selector: it logs management events when a field selector says
/// `eventCategory` equals `Management`; `readOnly` and `eventSource` field selectors narrow it.
fn add_advanced(sel: &Value, read: &mut Cover, write: &mut Cover) {
    let fields: &[Value] = get_ci(sel, "fieldSelectors")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let field = |name: &'static str| {
        fields.iter().filter(move |f| {
            get_ci(f, "field")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(name))
        })
    };
    let management = field("eventCategory").any(|f| {
        strings(get_ci(f, "equals"))
            .iter()
            .any(|v| v.eq_ignore_ascii_case("Management"))
    });
    if !management {
        return;
    }
    let (mut logs_read, mut logs_write) = (true, true);
    for f in field("readOnly") {
        let equals = strings(get_ci(f, "equals"));
        if !equals.is_empty() {
            logs_read &= equals.iter().any(|v| v.eq_ignore_ascii_case("true"));
            logs_write &= equals.iter().any(|v| v.eq_ignore_ascii_case("false"));
        }
    }
    let mut excluded = BTreeSet::new();
    let mut restricted = false;
    for f in field("eventSource") {
        excluded.extend(strings(get_ci(f, "notEquals")));
        excluded.extend(
            strings(get_ci(f, "notStartsWith"))
                .into_iter()
                .map(|p| format!("{p}*")),
        );
        restricted |= !strings(get_ci(f, "equals")).is_empty()
            || !strings(get_ci(f, "startsWith")).is_empty();
    }
    if logs_read {
        read.add(excluded.clone(), restricted);
    }
    if logs_write {
        write.add(excluded, restricted);
    }
}

/// What the new selectors no longer log, or `None` when they still log every management
/// event or the request cannot be read.
fn narrowings(raw: &Value) -> Option<(Vec<String>, bool)> {
    let params = raw
        .get("requestParameters")
        .filter(|p| p.is_object())
        .or_else(|| raw.get("responseElements").filter(|p| p.is_object()))?;
    let classic = get_ci(params, "eventSelectors").and_then(Value::as_array);
    let advanced = get_ci(params, "advancedEventSelectors").and_then(Value::as_array);
    if classic.is_none() && advanced.is_none() {
        return None;
    }
    let (mut read, mut write) = (Cover::default(), Cover::default());
    for sel in classic.into_iter().flatten() {
        add_classic(sel, &mut read, &mut write);
    }
    for sel in advanced.into_iter().flatten() {
        add_advanced(sel, &mut read, &mut write);
    }
    let mut out = Vec::new();
    let no_selectors = classic.is_none_or(Vec::is_empty) && advanced.is_none_or(Vec::is_empty);
    match (read.any(), write.any()) {
        (false, false) if no_selectors => {
            out.push("no event selectors: no management events are logged".to_owned());
        }
        (false, false) => out.push("management events are not logged".to_owned()),
        (true, false) => out.push("write management events are not logged".to_owned()),
        (false, true) => out.push("read-only management events are not logged".to_owned()),
        (true, true) => {}
    }
    let describe = |kind: &str, cover: &Cover| -> Option<String> {
        if !cover.any() {
            return None;
        }
        let excluded = cover.excluded();
        if !excluded.is_empty() {
            let list: Vec<&str> = excluded.iter().map(String::as_str).collect();
            Some(format!(
                "{kind}management events from {} are not logged",
                list.join(", ")
            ))
        } else if !cover.full && cover.partial.is_empty() && cover.restricted {
            Some(format!(
                "{kind}management events are logged only for selected event sources"
            ))
        } else {
            None
        }
    };
    let (r, w) = (describe("", &read), describe("", &write));
    if r.is_some() && r == w {
        out.extend(r);
    } else {
        out.extend(describe("read-only ", &read));
        out.extend(describe("write ", &write));
    }
    let writes_lost = !write.any();
    (!out.is_empty()).then_some((out, writes_lost))
}

fn selectors_narrowed(event: &Event, raw: &Value) -> Option<Finding> {
    let (narrowed, writes_lost) = narrowings(raw)?;
    let target = trail(event, Some(raw));
    let severity = if writes_lost {
        Severity::High
    } else {
        Severity::Medium
    };
    let title = format!(
        "CloudTrail trail {} event selectors narrowed: {}",
        target.short(),
        narrowed[0]
    );
    let description = format!(
        "{} changed the event selectors of CloudTrail {} {}, so that the trail no longer \
         logs every management event: {}. Confirm the change was intended, or restore \
         logging of all management events.",
        capitalize(&event.actor()),
        target.label(),
        event.location(),
        narrowed.join("; ")
    );
    let mut context = base_context(event, &target);
    context.insert("narrowed".into(), json!(narrowed));
    for key in ["eventSelectors", "advancedEventSelectors"] {
        if let Some(v) = at(raw, &["requestParameters", key]) {
            context.insert(key.into(), v.clone());
        }
    }
    Some(build(
        event,
        &target,
        Parts {
            rule_id: SELECTORS_NARROWED,
            severity,
            title,
            description,
            context,
        },
    ))
}

/// The trail a `StopLogging` request named (name or ARN), as given.
fn stopped_trail(event: &Event) -> Option<String> {
    let raw = event.raw_json();
    param_str(raw.as_ref(), "name")
        .or_else(|| param_str(raw.as_ref(), "trailName"))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The response to one finding of `event`: restart a stopped trail and notify; notify of a
/// deleted, updated or narrowed trail.
pub fn respond(event: &Event, finding: &Finding, batch: &Batch) {
    let (id, caps, config) = (event.id.as_str(), batch.caps, batch.config);
    match (event.name.as_deref(), finding.rule_id.as_str()) {
        (Some("StopLogging"), STOPPED) => {
            // Without a readable trail name there is nothing to restart; still notify.
            if let Some(trail) = stopped_trail(event) {
                let receipt = caps.start_logging(id, &trail);
                log_receipt(CLOUDTRAIL_START_LOGGING, id, receipt);
            }
            let receipt = caps.notify(id, config.notify_target(), finding);
            log_receipt(NOTIFY_SEND, id, receipt);
        }
        (Some("DeleteTrail"), DELETED) | (_, UPDATED | SELECTORS_NARROWED) => {
            let receipt = caps.notify(id, config.notify_target(), finding);
            log_receipt(NOTIFY_SEND, id, receipt);
        }
        _ => {}
    }
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, [`respond`] to each finding.
    CloudTrailTampering {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: rules,
        detect: detect,
        respond: respond,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use trailwarden_plugin_sdk::serde_json::json;

    fn narrowed(params: Value) -> Option<Vec<String>> {
        narrowings(&json!({ "requestParameters": params })).map(|(n, _)| n)
    }

    #[test]
    fn classic_selectors() {
        let all = json!({"readWriteType": "All", "includeManagementEvents": true});
        assert_eq!(narrowed(json!({"eventSelectors": [all]})), None);
        // Defaults: All, management included.
        assert_eq!(narrowed(json!({"eventSelectors": [{}]})), None);
        // ReadOnly + WriteOnly together log everything.
        assert_eq!(
            narrowed(
                json!({"eventSelectors": [{"readWriteType": "ReadOnly"}, {"readWriteType": "WriteOnly"}]})
            ),
            None
        );
        // A data-event-only selector beside a full one is fine.
        assert_eq!(
            narrowed(
                json!({"eventSelectors": [{"includeManagementEvents": false, "dataResources": [{"type": "AWS::S3::Object", "values": []}]}, all]})
            ),
            None
        );
        assert_eq!(
            narrowed(json!({"eventSelectors": [{"readWriteType": "WriteOnly"}]})),
            Some(vec!["read-only management events are not logged".to_owned()])
        );
        assert_eq!(
            narrowed(json!({"eventSelectors": []})),
            Some(vec![
                "no event selectors: no management events are logged".to_owned()
            ])
        );
        assert_eq!(
            narrowed(
                json!({"eventSelectors": [{"excludeManagementEventSources": ["kms.amazonaws.com"]}]})
            ),
            Some(vec![
                "management events from kms.amazonaws.com are not logged".to_owned()
            ])
        );
        // Exclusions only count when every covering selector has them.
        assert_eq!(
            narrowed(
                json!({"eventSelectors": [{"excludeManagementEventSources": ["kms.amazonaws.com"]}, {"excludeManagementEventSources": ["rdsdata.amazonaws.com"]}]})
            ),
            None
        );
        // Unreadable requests give nothing.
        assert_eq!(narrowed(json!({"trailName": "t"})), None);
    }

    #[test]
    fn advanced_selectors() {
        let mgmt = json!({"name": "m", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]});
        assert_eq!(narrowed(json!({"advancedEventSelectors": [mgmt]})), None);
        let writes = json!({"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}, {"field": "readOnly", "equals": ["false"]}]});
        assert_eq!(
            narrowed(json!({"advancedEventSelectors": [writes]})),
            Some(vec!["read-only management events are not logged".to_owned()])
        );
        let data_only = json!({"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}, {"field": "resources.type", "equals": ["AWS::S3::Object"]}]});
        assert_eq!(
            narrowed(json!({"advancedEventSelectors": [data_only]})),
            Some(vec!["management events are not logged".to_owned()])
        );
        let no_kms = json!({"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}, {"field": "eventSource", "notEquals": ["kms.amazonaws.com", "rdsdata.amazonaws.com"]}]});
        assert_eq!(
            narrowed(json!({"advancedEventSelectors": [no_kms]})).map(|n| n.len()),
            Some(1)
        );
        let only_iam = json!({"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}, {"field": "eventSource", "equals": ["iam.amazonaws.com"]}]});
        assert_eq!(
            narrowed(json!({"advancedEventSelectors": [only_iam]})).map(|n| n.len()),
            Some(1)
        );
    }
}
