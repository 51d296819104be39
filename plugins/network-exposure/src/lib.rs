//! `network-exposure`: a network ACL opened to the internet, or an instance's user data
//! changed.
//!
//! Successful EC2 calls only (no `errorCode`/`errorMessage`), recorded as API calls:
//!
//! | rule id | events | severity |
//! |---|---|---|
//! | `aws.ec2.network-acl-open-to-world` | `CreateNetworkAclEntry`, `ReplaceNetworkAclEntry` of an inbound (`egress: false`) `allow` rule from `0.0.0.0/0` or `::/0` (any `/0`) | high for all traffic (protocol `-1`, or TCP/UDP on every port), else medium |
//! | `aws.ec2.user-data-modified` | `ModifyInstanceAttribute` that sets `userData` (the `userData` parameter, or `attribute: userData`) | high |
//!
//! Response: every finding is sent with `notify.send` to the config's `notify_target`
//! (default `security-team`). No capability narrows a network ACL or restores user data.
//!
//! A network ACL rule is judged alone: a lower-numbered deny rule of the same ACL, which the
//! event does not show, may still block the traffic. Outbound rules are not reported.

use trailwarden_plugin_sdk::capability::NOTIFY_SEND;
use trailwarden_plugin_sdk::json::{boolish, get_ci, text};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, Config, Descriptor, Event, Finding, Rule, Severity};

pub const NACL_OPEN: &str = "aws.ec2.network-acl-open-to-world";
pub const USER_DATA_MODIFIED: &str = "aws.ec2.user-data-modified";

const EC2: &str = "ec2.amazonaws.com";

/// The EC2 calls it looks at.
pub const EVENT_NAMES: &[&str] = &[
    "CreateNetworkAclEntry",
    "ReplaceNetworkAclEntry",
    "ModifyInstanceAttribute",
];

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND];

/// Name, version and the EventBridge pattern: the EC2 calls in [`EVENT_NAMES`].
pub fn descriptor() -> Descriptor {
    let pattern = json!({"detail": {"eventSource": [EC2], "eventName": EVENT_NAMES}});
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![pattern.to_string()],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "network-acl-not-open.json",
            "network-acl-open-to-world.json",
            "user-data-modified.json",
            "user-data-not-modified.json",
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
            NACL_OPEN,
            Severity::High,
            "Network ACL allows inbound traffic from the whole internet",
            &["T1562.007"],
            &format!(
                "A successful ec2:CreateNetworkAclEntry or ReplaceNetworkAclEntry of an \
                 inbound allow rule from 0.0.0.0/0 or ::/0: every subnet associated with the \
                 network ACL accepts that traffic from anywhere, unless a lower-numbered rule \
                 denies it. High for all traffic (all protocols, or every TCP/UDP port), \
                 medium for narrower rules. Sent to {target}."
            ),
            "Check the ACL's rules in order (aws ec2 describe-network-acls) and which \
             subnets use it; narrow or delete the entry unless the exposure is intended.",
            &[NOTIFY_SEND],
        ),
        Rule::new(
            USER_DATA_MODIFIED,
            Severity::High,
            "EC2 instance user data modified",
            &["T1059", "T1037"],
            &format!(
                "A successful ec2:ModifyInstanceAttribute that sets an instance's user data. \
                 User data scripts run as root or SYSTEM when the instance boots, so whoever \
                 changes them runs code on it at its next start, with its instance role. \
                 Sent to {target}."
            ),
            "Read the new user data before the instance starts again (aws ec2 \
             describe-instance-attribute --attribute userData; CloudTrail hides it) and \
             restore it unless the change is known.",
            &[NOTIFY_SEND],
        ),
    ]
}

/// The findings for one event (none or one).
pub fn detect(event: &Event) -> Vec<Finding> {
    if event.source.as_deref() != Some(EC2) || event.failed() || !api_call(event) {
        return Vec::new();
    }
    let Some(raw) = event.raw_json() else {
        // Both rules are about the request: nothing to say without it.
        return Vec::new();
    };
    let Some(params) = raw.get("requestParameters").filter(|p| p.is_object()) else {
        return Vec::new();
    };
    let finding = match event.name.as_deref() {
        Some("CreateNetworkAclEntry" | "ReplaceNetworkAclEntry") => nacl_open(event, params),
        Some("ModifyInstanceAttribute") => user_data_modified(event, params),
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

fn param_text(params: &Value, key: &str) -> Option<String> {
    get_ci(params, key)
        .and_then(text)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Whether a CIDR is the whole address space: any address with prefix length 0
/// (`0.0.0.0/0`, `::/0`, and their other spellings).
pub fn is_world(cidr: &str) -> bool {
    match cidr.trim().split_once('/') {
        Some((address, prefix)) => {
            !address.is_empty() && !prefix.is_empty() && prefix.chars().all(|c| c == '0')
        }
        None => false,
    }
}

/// What a network ACL rule lets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Traffic {
    /// Every protocol (`-1`).
    All,
    /// TCP or UDP on a port range (inclusive).
    Ports {
        protocol: &'static str,
        from: i64,
        to: i64,
    },
    /// A protocol without ports (ICMP, ...), by name.
    Protocol(String),
}

impl Traffic {
    /// The traffic of a rule from its `aclProtocol` and `portRange` (`{"from", "to"}`); a
    /// missing protocol is every protocol (as the API's `-1`), a missing or negative port
    /// bound is open-ended.
    pub fn of(protocol: Option<&str>, range: Option<&Value>) -> Traffic {
        let p = protocol.unwrap_or("-1").trim().to_ascii_lowercase();
        let name = match p.as_str() {
            "-1" | "all" | "" => return Traffic::All,
            "6" | "tcp" => "TCP",
            "17" | "udp" => "UDP",
            "1" | "icmp" => return Traffic::Protocol("ICMP".to_owned()),
            "58" | "icmpv6" => return Traffic::Protocol("ICMPv6".to_owned()),
            other => return Traffic::Protocol(format!("IP protocol {other}")),
        };
        let bound = |key: &str| {
            range
                .and_then(|r| get_ci(r, key))
                .and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()))
                .filter(|n| *n >= 0)
        };
        let (mut from, mut to) = (bound("from").unwrap_or(0), bound("to").unwrap_or(65535));
        if to < from {
            std::mem::swap(&mut from, &mut to);
        }
        Traffic::Ports {
            protocol: name,
            from,
            to: to.min(65535),
        }
    }

    /// All protocols, or every port of TCP or UDP.
    pub fn is_everything(&self) -> bool {
        match self {
            Traffic::All => true,
            Traffic::Ports { from, to, .. } => *from == 0 && *to >= 65535,
            Traffic::Protocol(_) => false,
        }
    }

    /// For titles: `all traffic`, `TCP 700-702`, `TCP 22`, `all TCP ports`, `ICMP`.
    pub fn label(&self) -> String {
        match self {
            Traffic::All => "all traffic".to_owned(),
            Traffic::Ports { protocol, .. } if self.is_everything() => {
                format!("all {protocol} ports")
            }
            Traffic::Ports { protocol, from, to } if from == to => format!("{protocol} {from}"),
            Traffic::Ports { protocol, from, to } => format!("{protocol} {from}-{to}"),
            Traffic::Protocol(name) => name.clone(),
        }
    }
}

fn nacl_open(event: &Event, params: &Value) -> Option<Finding> {
    let inbound = get_ci(params, "egress").and_then(boolish) == Some(false);
    let allow = param_text(params, "ruleAction").is_some_and(|a| a.eq_ignore_ascii_case("allow"));
    if !inbound || !allow {
        return None;
    }
    let cidr = ["cidrBlock", "ipv6CidrBlock"]
        .iter()
        .filter_map(|key| param_text(params, key))
        .find(|c| is_world(c))?;
    let protocol = param_text(params, "aclProtocol").or_else(|| param_text(params, "protocol"));
    let traffic = Traffic::of(protocol.as_deref(), get_ci(params, "portRange"));
    let acl = param_text(params, "networkAclId");
    let rule_number = param_text(params, "ruleNumber");
    let acl_text = acl.as_deref().unwrap_or("(unnamed)");
    let rule_text = rule_number
        .as_deref()
        .map(|n| format!("rule {n}"))
        .unwrap_or_else(|| "a rule".to_owned());
    let replaced = event.name.as_deref() == Some("ReplaceNetworkAclEntry");
    let severity = if traffic.is_everything() {
        Severity::High
    } else {
        Severity::Medium
    };
    let title = format!(
        "Network ACL {acl_text} allows {} from {cidr} in account {}",
        traffic.label(),
        event.account_or_unknown()
    );
    let description = format!(
        "{} {} inbound {rule_text} of network ACL {acl_text} {}: allow {} from {cidr}. Every \
         subnet associated with this ACL now accepts that traffic from the whole internet, \
         unless a lower-numbered rule denies it; only security groups stand in the way. \
         Narrow or delete the entry unless the exposure is intended.",
        capitalize(&event.actor()),
        if replaced { "replaced" } else { "added" },
        event.location(),
        traffic.label()
    );
    let acl_arn = acl
        .as_deref()
        .and_then(|id| event.regional_arn("ec2", &format!("network-acl/{id}")));
    let mut context = event.base_context();
    context.insert("network_acl_id".into(), json!(acl));
    context.insert("rule_number".into(), json!(rule_number));
    context.insert("cidr".into(), json!(cidr));
    context.insert("protocol".into(), json!(protocol));
    context.insert("port_range".into(), json!(get_ci(params, "portRange")));
    context.insert("all_traffic".into(), json!(traffic.is_everything()));
    let key = match &acl_arn {
        Some(arn) => arn.clone(),
        None => format!(
            "{}:{}:{acl_text}",
            event.account_or_unknown(),
            event.region_or_unknown()
        ),
    };
    Some(Finding {
        rule_id: NACL_OPEN.to_owned(),
        severity,
        title,
        description,
        resources: acl_arn.into_iter().collect(),
        dedup_key: format!(
            "{NACL_OPEN}:{key}:{}",
            rule_number.as_deref().unwrap_or("unnumbered")
        ),
        event_id: event.id.clone(),
        context: Value::Object(context).to_string(),
    })
}

/// Whether a value is set, as Python's truthiness has it: not null, `false`, `0`, or an
/// empty string, list or object.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn user_data_modified(event: &Event, params: &Value) -> Option<Finding> {
    let direct = get_ci(params, "userData").is_some_and(truthy);
    let by_attribute =
        param_text(params, "attribute").is_some_and(|a| a.eq_ignore_ascii_case("userData"));
    if !direct && !by_attribute {
        return None;
    }
    let instance = param_text(params, "instanceId");
    let instance_text = instance.as_deref().unwrap_or("(unnamed)");
    let instance_arn = instance
        .as_deref()
        .and_then(|id| event.regional_arn("ec2", &format!("instance/{id}")));
    let title = format!(
        "User data of EC2 instance {instance_text} modified in account {}",
        event.account_or_unknown()
    );
    let description = format!(
        "{} changed the user data of EC2 instance {instance_text} {}. User data scripts run \
         as root or SYSTEM when the instance boots: whoever sets them runs code on the \
         instance at its next start, with its instance role. CloudTrail does not record the \
         new content; read it (aws ec2 describe-instance-attribute --attribute userData) \
         before the instance starts again, and restore it unless the change is known.",
        capitalize(&event.actor()),
        event.location()
    );
    let mut context = event.base_context();
    context.insert("instance_id".into(), json!(instance));
    let key = match &instance_arn {
        Some(arn) => arn.clone(),
        None => format!(
            "{}:{}:{instance_text}",
            event.account_or_unknown(),
            event.region_or_unknown()
        ),
    };
    Some(Finding {
        rule_id: USER_DATA_MODIFIED.to_owned(),
        severity: Severity::High,
        title,
        description,
        resources: instance_arn.into_iter().collect(),
        dedup_key: format!("{USER_DATA_MODIFIED}:{key}"),
        event_id: event.id.clone(),
        context: Value::Object(context).to_string(),
    })
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, notify of each finding.
    NetworkExposure {
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
    fn world_cidrs() {
        for c in ["0.0.0.0/0", "::/0", " 0.0.0.0/0 ", "0::/0", "0.0.0.0/00"] {
            assert!(is_world(c), "{c}");
        }
        for c in [
            "0.0.0.0/1",
            "10.0.0.0/8",
            "0.0.0.0",
            "/0",
            "::/",
            "111.111.111.111/32",
        ] {
            assert!(!is_world(c), "{c}");
        }
    }

    #[test]
    fn traffic_of_protocols_and_ranges() {
        assert_eq!(Traffic::of(Some("-1"), None), Traffic::All);
        assert_eq!(Traffic::of(None, None), Traffic::All);
        let tcp = Traffic::of(Some("6"), Some(&json!({"from": 700, "to": 702})));
        assert_eq!(tcp.label(), "TCP 700-702");
        assert!(!tcp.is_everything());
        let ssh = Traffic::of(Some("tcp"), Some(&json!({"from": "22", "to": "22"})));
        assert_eq!(ssh.label(), "TCP 22");
        let every = Traffic::of(Some("17"), Some(&json!({"from": -1, "to": -1})));
        assert!(every.is_everything());
        assert_eq!(every.label(), "all UDP ports");
        assert!(Traffic::of(Some("6"), Some(&json!({}))).is_everything());
        assert_eq!(
            Traffic::of(Some("1"), Some(&json!({}))),
            Traffic::Protocol("ICMP".into())
        );
        assert_eq!(Traffic::of(Some("47"), None).label(), "IP protocol 47");
        let swapped = Traffic::of(Some("6"), Some(&json!({"from": 443, "to": 80})));
        assert_eq!(swapped.label(), "TCP 80-443");
    }

    #[test]
    fn truthiness_as_panther_has_it() {
        assert!(truthy(&json!("<sensitiveDataRemoved>")));
        assert!(truthy(&json!({"value": "x"})));
        for v in [
            json!(null),
            json!(""),
            json!({}),
            json!([]),
            json!(false),
            json!(0),
        ] {
            assert!(!truthy(&v), "{v}");
        }
    }
}
