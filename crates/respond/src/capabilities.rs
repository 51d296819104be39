//! The capability table: every capability a plugin can call, defined once.
//!
//! A capability is named in several places that cannot all be generated from one source
//! (the WIT, the host's import glue, the request parser, the SDK's constants, the docs). This
//! table is the definition; the grant list is derived from it, and the tests below read each
//! of the other places and fail on any disagreement, naming what is missing. The list of
//! places a new capability touches is in ARCHITECTURE.md ("Adding a capability").

/// One capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapabilitySpec {
    /// `family.function`, as granted and as recorded in the outbox.
    pub name: &'static str,
    /// Its arguments after `event-id`, in WIT order and under their WIT names (the host
    /// passes them on under these names).
    pub args: &'static [&'static str],
    /// The action that undoes it, when it can be undone.
    pub inverse: Option<&'static str>,
}

const fn spec(
    name: &'static str,
    args: &'static [&'static str],
    inverse: Option<&'static str>,
) -> CapabilitySpec {
    CapabilitySpec {
        name,
        args,
        inverse,
    }
}

/// Every capability: those of `trailwarden:plugin@0.2.0`, then those later contract versions
/// add (0.6.0: `iam.delete-inline-policy`).
pub const TABLE: [CapabilitySpec; 15] = [
    spec(
        "iam.disable-access-key",
        &["user-name", "access-key-id"],
        Some("iam.enable-access-key"),
    ),
    spec(
        "iam.delete-access-key",
        &["user-name", "access-key-id"],
        None,
    ),
    spec("iam.delete-login-profile", &["user-name"], None),
    spec(
        "iam.quarantine-user",
        &["user-name"],
        Some("iam.delete-user-inline-policy"),
    ),
    spec(
        "iam.quarantine-role",
        &["role-name"],
        Some("iam.delete-role-inline-policy"),
    ),
    spec(
        "iam.detach-user-policy",
        &["user-name", "policy-arn"],
        Some("iam.attach-user-policy"),
    ),
    spec(
        "iam.detach-role-policy",
        &["role-name", "policy-arn"],
        Some("iam.attach-role-policy"),
    ),
    spec(
        "iam.detach-group-policy",
        &["group-name", "policy-arn"],
        Some("iam.attach-group-policy"),
    ),
    spec(
        "iam.revoke-role-sessions",
        &["role-name"],
        Some("iam.delete-role-inline-policy"),
    ),
    spec(
        "iam.remove-user-from-group",
        &["user-name", "group-name"],
        Some("iam.add-user-to-group"),
    ),
    spec("cloudtrail.start-logging", &["trail"], None),
    spec(
        "s3.put-public-access-block",
        &["bucket"],
        Some("s3.restore-public-access-block"),
    ),
    spec("eventbridge.publish-finding", &["target", "finding"], None),
    spec("notify.send", &["target", "finding"], None),
    // 0.6.0
    spec(
        "iam.delete-inline-policy",
        &["principal-kind", "principal-name", "policy-name"],
        Some("iam.put-inline-policy"),
    ),
];

/// The capability names, in table order.
pub const NAMES: [&str; TABLE.len()] = {
    let mut names = [""; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        names[i] = TABLE[i].name;
        i += 1;
    }
    names
};

/// The table's row for `name`.
pub fn spec_of(name: &str) -> Option<&'static CapabilitySpec> {
    TABLE.iter().find(|spec| spec.name == name)
}

#[cfg(test)]
mod tests {
    //! Each place that names capabilities, read as its source text and checked against the
    //! table.

    use std::collections::BTreeSet;

    use super::*;
    use crate::request::{self, Request};
    use trailwarden_runtime::CapabilityCall;

    /// Every contract version that declares capabilities.
    const WITS: [(&str, &str); 2] = [
        ("0.2.0", include_str!("../../../wit/0.2.0/plugin.wit")),
        ("0.6.0", include_str!("../../../wit/0.6.0/plugin.wit")),
    ];
    const HOST_GLUE: &str = include_str!("../../../crates/runtime/src/host.rs");
    const SDK: &str = include_str!("../../../plugins/sdk/src/capability.rs");
    const DOCS: &str = include_str!("../../../docs/plugins.md");

    fn table_names() -> BTreeSet<&'static str> {
        NAMES.iter().copied().collect()
    }

    /// `family.function` -> its parameters after `event-id`, from the WIT texts.
    fn wit_functions() -> Vec<(String, Vec<String>)> {
        let mut found = Vec::new();
        let mut family = None;
        for line in WITS.iter().flat_map(|(_, wit)| wit.lines()).map(str::trim) {
            if let Some(rest) = line.strip_prefix("interface ") {
                family = Some(rest.trim_end_matches(" {").to_string());
            } else if line == "}" {
                family = None;
            } else if let (Some(family), Some((function, signature))) =
                (&family, line.split_once(": func("))
            {
                let params = signature.split(')').next().unwrap_or("");
                let names: Vec<String> = params
                    .split(',')
                    .filter_map(|p| p.split(':').next())
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect();
                if names.first().map(String::as_str) == Some("event-id") {
                    found.push((format!("{family}.{function}"), names[1..].to_vec()));
                }
            }
        }
        found
    }

    #[test]
    fn the_wit_declares_exactly_the_table_with_the_same_arguments() {
        let wit = wit_functions();
        let declared: BTreeSet<&str> = wit.iter().map(|(name, _)| name.as_str()).collect();
        let versions: Vec<&str> = WITS.iter().map(|(version, _)| *version).collect();
        for name in table_names() {
            assert!(
                declared.contains(name),
                "{name} is in the table but no WIT ({versions:?}) declares it"
            );
        }
        for name in &declared {
            assert!(
                spec_of(name).is_some(),
                "the WIT declares {name}, which the capability table lacks"
            );
        }
        for (name, params) in &wit {
            let spec = spec_of(name).unwrap();
            assert_eq!(params, &spec.args.to_vec(), "{name}'s WIT parameters");
        }
    }

    /// A call of `spec` with sample arguments, built from the table's argument names: an
    /// AWS capability through its `Action` (tagged by the function's name, fields the
    /// arguments in snake case), so a missing or differently named action fails here.
    fn sample_call(spec: &CapabilitySpec) -> CapabilityCall {
        let sample = |arg: &str| match arg {
            "finding" => serde_json::json!({"rule_id": "r"}),
            "principal-kind" => serde_json::json!("role"),
            _ => serde_json::json!("x"),
        };
        let text = |arg: &str| sample(arg).as_str().unwrap_or_default().to_owned();
        match spec.name {
            "eventbridge.publish-finding" => CapabilityCall::PublishFinding {
                target: text("target"),
                finding: sample("finding"),
            },
            "notify.send" => CapabilityCall::NotifySend {
                target: text("target"),
                finding: sample("finding"),
            },
            name => {
                let (_, function) = name.split_once('.').unwrap();
                let mut fields = serde_json::Map::new();
                fields.insert("action".into(), function.into());
                for arg in spec.args {
                    fields.insert(arg.replace('-', "_"), sample(arg));
                }
                let action = serde_json::from_value(fields.into()).unwrap_or_else(|e| {
                    panic!("aws-actions has no Action for {name} with the table's arguments: {e}")
                });
                CapabilityCall::Aws(action)
            }
        }
    }

    /// The body of the host's glue function for `spec` (its WIT function in snake case).
    fn glue_of(spec: &CapabilitySpec) -> &'static str {
        let (_, function) = spec.name.split_once('.').unwrap();
        let signature = format!("fn {}(", function.replace('-', "_"));
        let at = HOST_GLUE.find(&signature).unwrap_or_else(|| {
            panic!(
                "crates/runtime/src/host.rs has no glue for {} (its WIT function needs `{signature}`)",
                spec.name
            )
        });
        let rest = &HOST_GLUE[at + signature.len()..];
        let end = rest.find("\n    fn ").or_else(|| rest.find("\n}")).unwrap();
        &rest[..end]
    }

    #[test]
    fn the_host_glue_builds_each_capabilitys_typed_call_with_the_table_arguments() {
        for spec in &TABLE {
            let glue = glue_of(spec);
            let params: Vec<String> = glue
                .split_once(')')
                .map(|(params, _)| params)
                .unwrap_or_default()
                .split(',')
                .filter_map(|param| param.split_once(':'))
                .map(|(name, _)| name.trim().replace('_', "-"))
                .filter(|name| name != "event-id")
                .collect();
            assert_eq!(
                params, spec.args,
                "{}'s arguments in crates/runtime/src/host.rs",
                spec.name
            );
            let call = sample_call(spec);
            let built = match &call {
                CapabilityCall::Aws(action) => {
                    let debug = format!("{action:?}");
                    format!("Action::{}", debug.split([' ', '{']).next().unwrap())
                }
                CapabilityCall::PublishFinding { .. } => "CapabilityCall::PublishFinding".into(),
                CapabilityCall::NotifySend { .. } => "CapabilityCall::NotifySend".into(),
            };
            assert!(
                glue.contains(&built),
                "crates/runtime/src/host.rs's glue for {} does not build {built}",
                spec.name
            );
        }
    }

    #[test]
    fn each_capabilitys_call_has_the_table_arguments_and_becomes_its_request() {
        for spec in &TABLE {
            let call = sample_call(spec);
            assert_eq!(call.capability(), spec.name);
            let args: BTreeSet<String> = call.args().as_object().unwrap().keys().cloned().collect();
            let expected: BTreeSet<String> = spec.args.iter().map(|a| a.to_string()).collect();
            assert_eq!(args, expected, "{}'s call arguments", spec.name);
            let parsed = request::from_call(&call, |_| Some("bus".into()), |_| true)
                .unwrap_or_else(|e| panic!("request.rs does not take {}: {e}", spec.name));
            match parsed {
                Request::Aws { action } => {
                    assert_eq!(action.capability(), spec.name);
                    assert!(
                        aws_actions::CAPABILITIES.contains(&spec.name),
                        "aws-actions' CAPABILITIES lacks {}",
                        spec.name
                    );
                    assert!(
                        aws_actions::permissions::iam_actions(spec.name).is_some(),
                        "aws-actions' permissions.rs lists no IAM actions for {}",
                        spec.name
                    );
                    assert_eq!(
                        aws_actions::permissions::inverse_capability(spec.name),
                        spec.inverse,
                        "{}'s inverse in aws-actions' permissions.rs",
                        spec.name
                    );
                }
                Request::Webhook { .. } => assert_eq!(spec.name, "notify.send"),
                // Messages, digests and resolves are the host's own, never a plugin's call.
                _ => panic!("{} parsed as a host-made request", spec.name),
            }
            if let Some(inverse) = spec.inverse {
                assert!(
                    aws_actions::CAPABILITIES.contains(&inverse),
                    "{}'s inverse {inverse} is no action",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn the_sdk_constants_are_the_table() {
        let constants: BTreeSet<&str> = SDK
            .lines()
            .filter_map(|line| line.trim().strip_prefix("pub const "))
            .filter_map(|rest| rest.split_once(": &str = \""))
            .filter_map(|(_, value)| value.split_once('"'))
            .map(|(value, _)| value)
            .collect();
        for name in table_names() {
            assert!(
                constants.contains(name),
                "plugins/sdk/src/capability.rs has no constant for {name}"
            );
        }
        for name in &constants {
            assert!(
                spec_of(name).is_some(),
                "the SDK's constant {name} is not in the capability table"
            );
        }
    }

    #[test]
    fn the_docs_table_lists_every_capability_with_its_arguments() {
        for spec in &TABLE {
            let row = format!(
                "| `{}` | `{}({})` |",
                spec.name,
                spec.name,
                spec.args.join(", ")
            );
            assert!(DOCS.contains(&row), "docs/plugins.md lacks the row {row}");
        }
    }
}
