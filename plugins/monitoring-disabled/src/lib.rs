//! `monitoring-disabled`: GuardDuty, AWS Config recording or VPC flow logs turned off.
//!
//! Successful calls only (no `errorCode`/`errorMessage`), recorded as API calls:
//!
//! | rule id | events | severity |
//! |---|---|---|
//! | `aws.guardduty.detector-disabled` | `guardduty:DeleteDetector`; `guardduty:UpdateDetector` with `enable: false` | high |
//! | `aws.guardduty.protection-disabled` | `guardduty:UpdateDetector` that turns protection plans off while the detector keeps running: a feature with `status: DISABLED` (`S3_DATA_EVENTS`, `EKS_AUDIT_LOGS`, `RUNTIME_MONITORING`, `EBS_MALWARE_PROTECTION`, `RDS_LOGIN_EVENTS`, `LAMBDA_NETWORK_LOGS`...), or a legacy `dataSources` entry with `enable: false` (`s3Logs`, `kubernetes.auditLogs`) or `ebsVolumes: false` (malware protection) | medium |
//! | `aws.guardduty.member-disassociated` | `guardduty:DisassociateFromAdministratorAccount` / `DisassociateFromMasterAccount` (a member leaves its administrator), `guardduty:DisassociateMembers` / `DeleteMembers` (an administrator drops members; accounts the response lists as unprocessed are left out) | medium |
//! | `aws.config.recording-stopped` | `config:StopConfigurationRecorder`, `DeleteConfigurationRecorder`, `DeleteDeliveryChannel` | medium |
//! | `aws.ec2.flow-logs-deleted` | `ec2:DeleteFlowLogs` that deleted at least one flow log (ids the response lists as unsuccessful are left out) | medium |
//!
//! Response: every finding is sent with `notify.send` to the config's `notify_target`
//! (default `security-team`). There is no capability to turn these services back on; the
//! finding says how.
//!
//! An `UpdateDetector` that only changes the publishing frequency, enables features, or
//! turns off an additional configuration of a feature left enabled (e.g. automated agent
//! management of Runtime Monitoring) is not reported. One that sets `enable: false` raises
//! only `aws.guardduty.detector-disabled`.

use trailwarden_plugin_sdk::capability::NOTIFY_SEND;
use trailwarden_plugin_sdk::json::{boolish, get_ci};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, Config, Descriptor, Event, Finding, Rule, Severity};

pub const DETECTOR_DISABLED: &str = "aws.guardduty.detector-disabled";
pub const PROTECTION_DISABLED: &str = "aws.guardduty.protection-disabled";
pub const MEMBER_DISASSOCIATED: &str = "aws.guardduty.member-disassociated";
pub const RECORDING_STOPPED: &str = "aws.config.recording-stopped";
pub const FLOW_LOGS_DELETED: &str = "aws.ec2.flow-logs-deleted";

const GUARDDUTY: &str = "guardduty.amazonaws.com";
const CONFIG: &str = "config.amazonaws.com";
const EC2: &str = "ec2.amazonaws.com";

/// The GuardDuty calls it looks at.
pub const GUARDDUTY_EVENTS: &[&str] = &[
    "DeleteDetector",
    "UpdateDetector",
    "DisassociateFromAdministratorAccount",
    "DisassociateFromMasterAccount",
    "DisassociateMembers",
    "DeleteMembers",
];
/// The AWS Config calls it looks at.
pub const CONFIG_EVENTS: &[&str] = &[
    "StopConfigurationRecorder",
    "DeleteConfigurationRecorder",
    "DeleteDeliveryChannel",
];
/// The EC2 calls it looks at.
pub const EC2_EVENTS: &[&str] = &["DeleteFlowLogs"];

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND];

type Map = trailwarden_plugin_sdk::serde_json::Map<String, Value>;

/// Name, version and the EventBridge patterns: the calls listed in [`GUARDDUTY_EVENTS`],
/// [`CONFIG_EVENTS`] and [`EC2_EVENTS`].
pub fn descriptor() -> Descriptor {
    let pattern = |source: &str, names: &[&str]| {
        json!({"detail": {"eventSource": [source], "eventName": names}}).to_string()
    };
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![
            pattern(GUARDDUTY, GUARDDUTY_EVENTS),
            pattern(CONFIG, CONFIG_EVENTS),
            pattern(EC2, EC2_EVENTS),
        ],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "config-recording-stopped.json",
            "config-not-stopped.json",
            "flow-logs-deleted.json",
            "flow-logs-not-deleted.json",
            "guardduty-detector-disabled.json",
            "guardduty-detector-kept.json",
            "guardduty-members-disassociated.json",
            "guardduty-members-kept.json",
            "guardduty-protection-disabled.json",
            "guardduty-protection-kept.json",
        ],
        // It acts: trailwarden's own calls must not come back to it.
        self_caused_events: false,
    }
}

/// The rule catalog, naming the notify target of `config`.
pub fn rules(config: &Config) -> Vec<Rule> {
    let target = config.notify_target();
    vec![
        Rule::new(
            DETECTOR_DISABLED,
            Severity::High,
            "GuardDuty detector deleted or disabled",
            &["T1562.001"],
            &format!(
                "A successful guardduty:DeleteDetector, or guardduty:UpdateDetector with \
                 enable=false: GuardDuty stops analysing the region's CloudTrail, VPC flow \
                 and DNS logs, and a deleted detector's findings are gone. Sent to {target}."
            ),
            "Ask the caller why; if unexplained, re-enable GuardDuty in that region \
             (aws guardduty create-detector --enable, or update-detector --enable) and \
             review what the caller did since.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            PROTECTION_DISABLED,
            Severity::Medium,
            "GuardDuty protection plans turned off",
            &["T1562.001"],
            &format!(
                "A successful guardduty:UpdateDetector that turns off protection plans while \
                 the detector keeps running: a feature set to DISABLED (S3 data events, EKS \
                 audit logs, Runtime Monitoring, EBS malware protection, RDS login events, \
                 Lambda network logs...) or a legacy dataSources entry set to false. \
                 GuardDuty stops looking at those resources, a quieter step than disabling \
                 it. Sent to {target}."
            ),
            "Ask the caller why; if unexplained, turn the plans back on (aws guardduty \
             update-detector --features Name=...,Status=ENABLED) and review the activity \
             on the resources they covered since the change.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            MEMBER_DISASSOCIATED,
            Severity::Medium,
            "GuardDuty member account disassociated from its administrator",
            &["T1562.001"],
            &format!(
                "A successful guardduty:DisassociateFromAdministratorAccount (or the older \
                 DisassociateFromMasterAccount) in a member account, or \
                 guardduty:DisassociateMembers / DeleteMembers in the administrator account: \
                 the member's findings no longer reach the security team's administrator \
                 account. Sent to {target}."
            ),
            "Confirm the account was being offboarded; if not, invite it again from the \
             GuardDuty administrator account and review the member's activity since.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            RECORDING_STOPPED,
            Severity::Medium,
            "AWS Config recording stopped or deleted",
            &["T1562.008"],
            &format!(
                "A successful config:StopConfigurationRecorder, DeleteConfigurationRecorder \
                 or DeleteDeliveryChannel: resource changes in the region are no longer \
                 recorded or delivered, and Config rules stop evaluating them. Sent to \
                 {target}."
            ),
            "Ask the caller why; if unexplained, restart the recorder (aws configservice \
             start-configuration-recorder) or recreate it and its delivery channel, and \
             review the changes made while it was off.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            FLOW_LOGS_DELETED,
            Severity::Medium,
            "VPC flow logs deleted",
            &["T1562.008"],
            &format!(
                "A successful ec2:DeleteFlowLogs that deleted at least one flow log: the \
                 network traffic of the VPC, subnet or interface it covered is no longer \
                 recorded. Sent to {target}."
            ),
            "Ask the caller why; if unexplained, recreate the flow logs (aws ec2 \
             create-flow-logs) and review the caller's activity around the deletion.",
            &[NOTIFY_SEND],
        ),
    ]
}

/// The findings for one event (none or one).
pub fn detect(event: &Event) -> Vec<Finding> {
    if event.failed() || !api_call(event) {
        return Vec::new();
    }
    let raw = event.raw_json();
    let raw = raw.as_ref();
    let finding = match (event.source.as_deref(), event.name.as_deref()) {
        (Some(GUARDDUTY), Some("DeleteDetector")) => Some(detector(event, raw, true)),
        (Some(GUARDDUTY), Some("UpdateDetector")) => {
            if param(raw, "enable").and_then(boolish) == Some(false) {
                Some(detector(event, raw, false))
            } else {
                protections_off(event, raw)
            }
        }
        (
            Some(GUARDDUTY),
            Some("DisassociateFromAdministratorAccount" | "DisassociateFromMasterAccount"),
        ) => Some(left_administrator(event, raw)),
        (Some(GUARDDUTY), Some("DisassociateMembers" | "DeleteMembers")) => {
            members_dropped(event, raw)
        }
        (Some(CONFIG), Some(name)) if CONFIG_EVENTS.contains(&name) => {
            Some(config_stopped(event, raw, name))
        }
        (Some(EC2), Some("DeleteFlowLogs")) => flow_logs_deleted(event, raw),
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

fn param<'a>(raw: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    raw.and_then(|r| r.get("requestParameters"))
        .and_then(|p| get_ci(p, key))
}

fn param_str<'a>(raw: Option<&'a Value>, key: &str) -> Option<&'a str> {
    param(raw, key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The common context fields, and the event source (the rules span four services).
fn base_context(event: &Event) -> Map {
    let mut m = event.base_context();
    m.insert("event_source".into(), json!(event.source));
    m
}

struct Parts {
    rule_id: &'static str,
    severity: Severity,
    title: String,
    description: String,
    resources: Vec<String>,
    /// What identifies the incident after the rule id.
    key: String,
    context: Map,
}

fn build(event: &Event, parts: Parts) -> Finding {
    Finding {
        rule_id: parts.rule_id.to_owned(),
        severity: parts.severity,
        title: parts.title,
        description: parts.description,
        resources: parts.resources,
        dedup_key: format!("{}:{}", parts.rule_id, parts.key),
        event_id: event.id.clone(),
        context: Value::Object(parts.context).to_string(),
    }
}

fn detector(event: &Event, raw: Option<&Value>, deleted: bool) -> Finding {
    let id = param_str(raw, "detectorId");
    let detector_arn = id.and_then(|id| event.regional_arn("guardduty", &format!("detector/{id}")));
    let label = match id {
        Some(id) => format!("GuardDuty detector {id}"),
        None => "the GuardDuty detector".to_owned(),
    };
    let (title, what) = if deleted {
        (
            format!(
                "GuardDuty detector deleted in account {}, region {}",
                event.account_or_unknown(),
                event.region_or_unknown()
            ),
            format!("deleted {label}"),
        )
    } else {
        (
            format!(
                "GuardDuty disabled in account {}, region {}",
                event.account_or_unknown(),
                event.region_or_unknown()
            ),
            format!("disabled {label} (enable=false)"),
        )
    };
    let lost = if deleted {
        " Its findings are deleted with it."
    } else {
        ""
    };
    let description = format!(
        "{} {what} {}. GuardDuty no longer analyses this region's CloudTrail, VPC flow and \
         DNS logs for threats;{lost} attackers turn it off before acting. Confirm who did it \
         and why, re-enable GuardDuty, and review the activity since.",
        capitalize(&event.actor()),
        event.location()
    );
    let mut context = base_context(event);
    context.insert("detector_id".into(), json!(id));
    context.insert("deleted".into(), json!(deleted));
    build(
        event,
        Parts {
            rule_id: DETECTOR_DISABLED,
            severity: Severity::High,
            title,
            description,
            resources: detector_arn.into_iter().collect(),
            key: format!(
                "{}:{}",
                event.account_or_unknown(),
                event.region_or_unknown()
            ),
            context,
        },
    )
}

/// The protection plans an `UpdateDetector` request turns off: the `features` whose
/// `status` is `DISABLED`, and the legacy `dataSources` entries set to false (as dotted
/// paths: `kubernetes.auditLogs`, `malwareProtection.scanEc2InstanceWithFindings.ebsVolumes`).
pub fn protections_disabled(params: &Value) -> Vec<String> {
    let mut off: Vec<String> = get_ci(params, "features")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| {
            get_ci(f, "status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.trim().eq_ignore_ascii_case("DISABLED"))
        })
        .map(|f| {
            get_ci(f, "name")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or("(unnamed feature)")
                .to_owned()
        })
        .collect();
    if let Some(sources) = get_ci(params, "dataSources") {
        data_sources_off(sources, "", 0, &mut off);
    }
    off
}

/// `dataSources` is a small tree; a false `enable` turns its parent off, a false
/// `ebsVolumes` itself. Depth is bounded (the real tree is three levels deep).
fn data_sources_off(v: &Value, path: &str, depth: usize, off: &mut Vec<String>) {
    let Some(map) = v.as_object().filter(|_| depth < 6) else {
        return;
    };
    for (key, child) in map {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let is_false = boolish(child) == Some(false);
        if key.eq_ignore_ascii_case("enable") && is_false && !path.is_empty() {
            off.push(path.to_owned());
        } else if key.eq_ignore_ascii_case("ebsVolumes") && is_false {
            off.push(here);
        } else {
            data_sources_off(child, &here, depth + 1, off);
        }
    }
}

fn protections_off(event: &Event, raw: Option<&Value>) -> Option<Finding> {
    let params = raw.and_then(|r| r.get("requestParameters"))?;
    let off = protections_disabled(params);
    if off.is_empty() {
        return None;
    }
    let id = param_str(raw, "detectorId");
    let detector_arn = id.and_then(|id| event.regional_arn("guardduty", &format!("detector/{id}")));
    let title = format!(
        "GuardDuty protection plans turned off in account {}, region {}: {}",
        event.account_or_unknown(),
        event.region_or_unknown(),
        off.join(", ")
    );
    let description = format!(
        "{} turned off GuardDuty protection plans ({}) of {} {}. The detector keeps \
         running, but no longer looks at what these plans covered (S3 data events, EKS \
         audit logs, runtime activity, malware on EBS volumes, database logins, Lambda \
         network traffic). Confirm who did it and why, and turn them back on.",
        capitalize(&event.actor()),
        off.join(", "),
        id.map_or_else(|| "the detector".to_owned(), |id| format!("detector {id}")),
        event.location()
    );
    let mut context = base_context(event);
    context.insert("detector_id".into(), json!(id));
    context.insert("protections_disabled".into(), json!(off));
    Some(build(
        event,
        Parts {
            rule_id: PROTECTION_DISABLED,
            severity: Severity::Medium,
            title,
            description,
            resources: detector_arn.into_iter().collect(),
            key: format!(
                "{}:{}:{}",
                event.account_or_unknown(),
                event.region_or_unknown(),
                off.join("+")
            ),
            context,
        },
    ))
}

fn left_administrator(event: &Event, raw: Option<&Value>) -> Finding {
    let id = param_str(raw, "detectorId");
    let detector_arn = id.and_then(|id| event.regional_arn("guardduty", &format!("detector/{id}")));
    let title = format!(
        "GuardDuty in account {} (region {}) left its administrator account",
        event.account_or_unknown(),
        event.region_or_unknown()
    );
    let description = format!(
        "{} disassociated the account's GuardDuty detector from its administrator account, \
         {}. Its findings no longer reach the security team's administrator account, which \
         also loses control over its GuardDuty settings. Confirm the account was being \
         offboarded; if not, invite it again from the administrator account.",
        capitalize(&event.actor()),
        event.location()
    );
    let mut context = base_context(event);
    context.insert("detector_id".into(), json!(id));
    context.insert("side".into(), json!("member"));
    build(
        event,
        Parts {
            rule_id: MEMBER_DISASSOCIATED,
            severity: Severity::Medium,
            title,
            description,
            resources: detector_arn.into_iter().collect(),
            key: format!(
                "{}:{}",
                event.account_or_unknown(),
                event.region_or_unknown()
            ),
            context,
        },
    )
}

/// The strings of a list value (or a single string).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_owned()],
        Some(Value::Array(a)) => a.iter().flat_map(|x| strings(Some(x))).collect(),
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

fn members_dropped(event: &Event, raw: Option<&Value>) -> Option<Finding> {
    let requested = strings(param(raw, "accountIds"));
    let unprocessed: Vec<String> = raw
        .and_then(|r| r.get("responseElements"))
        .and_then(|r| get_ci(r, "unprocessedAccounts"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .flat_map(|u| strings(get_ci(u, "accountId")))
                .collect()
        })
        .unwrap_or_default();
    let dropped: Vec<String> = requested
        .iter()
        .filter(|id| !unprocessed.contains(id))
        .cloned()
        .collect();
    if !requested.is_empty() && dropped.is_empty() {
        return None;
    }
    let verb = if event.name.as_deref() == Some("DeleteMembers") {
        "deleted"
    } else {
        "disassociated"
    };
    let accounts = if dropped.is_empty() {
        "member accounts (not named in the record)".to_owned()
    } else {
        format!(
            "member account{} {}",
            if dropped.len() == 1 { "" } else { "s" },
            dropped.join(", ")
        )
    };
    let title = format!(
        "GuardDuty {accounts} {verb} by administrator account {}",
        event.account_or_unknown()
    );
    let description = format!(
        "{} {verb} GuardDuty {accounts} {}. Their findings no longer reach this \
         administrator account, and it no longer manages their GuardDuty settings. Confirm \
         the accounts were being offboarded; if not, add and invite them again.",
        capitalize(&event.actor()),
        event.location()
    );
    let mut context = base_context(event);
    context.insert("detector_id".into(), json!(param_str(raw, "detectorId")));
    context.insert("member_accounts".into(), json!(dropped));
    context.insert("unprocessed_accounts".into(), json!(unprocessed));
    context.insert("side".into(), json!("administrator"));
    let mut sorted = dropped.clone();
    sorted.sort();
    Some(build(
        event,
        Parts {
            rule_id: MEMBER_DISASSOCIATED,
            severity: Severity::Medium,
            title,
            description,
            resources: dropped,
            key: format!(
                "{}:{}:{}",
                event.account_or_unknown(),
                event.region_or_unknown(),
                if sorted.is_empty() {
                    "unnamed".to_owned()
                } else {
                    sorted.join(",")
                }
            ),
            context,
        },
    ))
}

fn config_stopped(event: &Event, raw: Option<&Value>, name: &str) -> Finding {
    let (kind, verb, param_key, impact) = match name {
        "StopConfigurationRecorder" => (
            "configuration recorder",
            "stopped",
            "configurationRecorderName",
            "Resource changes in the region are no longer recorded, and Config rules stop \
             evaluating them, until the recorder is started again.",
        ),
        "DeleteConfigurationRecorder" => (
            "configuration recorder",
            "deleted",
            "configurationRecorderName",
            "Resource changes in the region are no longer recorded, and Config rules stop \
             evaluating them; the recorder must be recreated.",
        ),
        _ => (
            "delivery channel",
            "deleted",
            "deliveryChannelName",
            "Configuration snapshots and history are no longer delivered to S3 or SNS, and \
             recording cannot run without a delivery channel.",
        ),
    };
    // Some records name the recorder for a channel too.
    let resource =
        param_str(raw, param_key).or_else(|| param_str(raw, "configurationRecorderName"));
    let label = resource.unwrap_or("(unnamed)");
    let title = format!(
        "AWS Config {kind} {label} {verb} in account {}, region {}",
        event.account_or_unknown(),
        event.region_or_unknown()
    );
    let description = format!(
        "{} {verb} the AWS Config {kind} {label} {}. {impact} Attackers stop recording to \
         hide the changes they make. Confirm who did it and why, restore recording, and review \
         the changes made meanwhile.",
        capitalize(&event.actor()),
        event.location()
    );
    let mut context = base_context(event);
    context.insert("kind".into(), json!(kind));
    context.insert("name".into(), json!(resource));
    build(
        event,
        Parts {
            rule_id: RECORDING_STOPPED,
            severity: Severity::Medium,
            title,
            description,
            resources: resource.map(str::to_owned).into_iter().collect(),
            key: format!(
                "{}:{}:{}:{label}",
                event.account_or_unknown(),
                event.region_or_unknown(),
                kind.replace(' ', "-")
            ),
            context,
        },
    )
}

/// The flow log ids in a value as CloudTrail writes them: a string, a list, an EC2 list
/// (`{"item": [...]}`), or `{"content": "fl-...", "tag": 1}` objects.
fn flow_log_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.trim().is_empty() => {
            let s = s.trim().to_owned();
            if !out.contains(&s) {
                out.push(s);
            }
        }
        Value::Array(items) => items.iter().for_each(|x| flow_log_ids(x, out)),
        Value::Object(_) => {
            for key in ["content", "item", "items"] {
                if let Some(inner) = get_ci(v, key) {
                    flow_log_ids(inner, out);
                }
            }
        }
        _ => {}
    }
}

/// The flow log ids a `DeleteFlowLogs` request named: `flowLogId` / `flowLogIds`, or the
/// `DeleteFlowLogsRequest.FlowLogId` form.
fn requested_flow_logs(raw: Option<&Value>) -> Vec<String> {
    let Some(params) = raw.and_then(|r| r.get("requestParameters")) else {
        return Vec::new();
    };
    let params = get_ci(params, "DeleteFlowLogsRequest").unwrap_or(params);
    let mut ids = Vec::new();
    for key in ["FlowLogId", "FlowLogIds"] {
        if let Some(v) = get_ci(params, key) {
            flow_log_ids(v, &mut ids);
        }
    }
    ids
}

/// The `resourceId`s anywhere in the response's `unsuccessful` list.
fn unsuccessful_flow_logs(raw: Option<&Value>) -> Vec<String> {
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Array(items) => items.iter().for_each(|x| collect(x, out)),
            Value::Object(o) => {
                if let Some(id) = get_ci(v, "resourceId").and_then(Value::as_str) {
                    out.push(id.trim().to_owned());
                }
                o.values()
                    .filter(|x| x.is_array() || x.is_object())
                    .for_each(|x| collect(x, out));
            }
            _ => {}
        }
    }
    let Some(response) = raw.and_then(|r| r.get("responseElements")) else {
        return Vec::new();
    };
    let response = get_ci(response, "DeleteFlowLogsResponse").unwrap_or(response);
    let mut out = Vec::new();
    if let Some(u) = get_ci(response, "unsuccessful") {
        collect(u, &mut out);
    }
    out
}

fn flow_logs_deleted(event: &Event, raw: Option<&Value>) -> Option<Finding> {
    let requested = requested_flow_logs(raw);
    let unsuccessful = unsuccessful_flow_logs(raw);
    let deleted: Vec<String> = requested
        .iter()
        .filter(|id| !unsuccessful.contains(id))
        .cloned()
        .collect();
    if !requested.is_empty() && deleted.is_empty() {
        return None;
    }
    let what = match deleted.as_slice() {
        [] => "VPC flow logs (not named in the record)".to_owned(),
        [one] => format!("VPC flow log {one}"),
        many => format!("{} VPC flow logs ({})", many.len(), many.join(", ")),
    };
    let title = format!(
        "{} deleted in account {}, region {}",
        capitalize(&what),
        event.account_or_unknown(),
        event.region_or_unknown()
    );
    let description = format!(
        "{} deleted {what} {}. The network traffic of the VPCs, subnets or interfaces they \
         covered is no longer recorded; attackers delete flow logs to hide their network \
         activity. Confirm who did it and why, recreate the flow logs, and review the \
         activity since.",
        capitalize(&event.actor()),
        event.location()
    );
    let resources: Vec<String> = deleted
        .iter()
        .map(|id| {
            event
                .regional_arn("ec2", &format!("vpc-flow-log/{id}"))
                .unwrap_or_else(|| id.clone())
        })
        .collect();
    let mut context = base_context(event);
    context.insert("flow_log_ids".into(), json!(deleted));
    context.insert("unsuccessful".into(), json!(unsuccessful));
    Some(build(
        event,
        Parts {
            rule_id: FLOW_LOGS_DELETED,
            severity: Severity::Medium,
            title,
            description,
            resources,
            key: format!(
                "{}:{}:{}",
                event.account_or_unknown(),
                event.region_or_unknown(),
                if deleted.is_empty() {
                    "unnamed".to_owned()
                } else {
                    deleted.join(",")
                }
            ),
            context,
        },
    ))
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, notify of each finding.
    MonitoringDisabled {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: rules,
        detect: detect,
        respond: trailwarden_plugin_sdk::notify,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_log_ids_in_every_shape() {
        let ids =
            |params: Value| requested_flow_logs(Some(&json!({ "requestParameters": params })));
        assert_eq!(
            ids(json!({"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-1", "tag": 1}}})),
            vec!["fl-1"]
        );
        assert_eq!(
            ids(
                json!({"DeleteFlowLogsRequest": {"FlowLogId": [{"content": "fl-1", "tag": 1}, {"content": "fl-2", "tag": 2}]}})
            ),
            vec!["fl-1", "fl-2"]
        );
        assert_eq!(ids(json!({"flowLogId": ["fl-3"]})), vec!["fl-3"]);
        assert_eq!(
            ids(json!({"flowLogIds": {"item": ["fl-4", "fl-4"]}})),
            vec!["fl-4"]
        );
        assert!(ids(json!({"other": "x"})).is_empty());
        let unsuccessful = |response: Value| {
            unsuccessful_flow_logs(Some(&json!({ "responseElements": response })))
        };
        assert!(unsuccessful(json!({"DeleteFlowLogsResponse": {"unsuccessful": ""}})).is_empty());
        assert_eq!(
            unsuccessful(
                json!({"DeleteFlowLogsResponse": {"unsuccessful": {"item": {"error": {"code": "InvalidFlowLogId.NotFound"}, "resourceId": "fl-9"}}}})
            ),
            vec!["fl-9"]
        );
    }
}
