//! The fixture file format and its parser.

use serde_json::{Map, Value};

/// Keys a fixture file may use.
pub const FIXTURE_KEYS: &[&str] = &["name", "events", "findings", "actions", "config"];

/// Keys an expected finding may use: the fields of a finding as [`crate::finding_value`]
/// gives them.
pub const EXPECTED_KEYS: &[&str] = &[
    "rule_id",
    "severity",
    "title",
    "description",
    "resources",
    "dedup_key",
    "event_id",
    "context",
];

/// Keys an expected action may use.
pub const ACTION_KEYS: &[&str] = &["capability", "args", "receipt"];

/// One fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    pub name: String,
    /// The inputs, each a CloudTrail record in any shape the host reads.
    pub events: Vec<Value>,
    /// Expected findings, each a subset of a finding's fields ([`EXPECTED_KEYS`]).
    pub findings: Vec<Map<String, Value>>,
    /// The capability calls expected, in order; `None` when the fixture does not say (the
    /// calls are then not checked).
    pub actions: Option<Vec<ExpectedAction>>,
    /// The plugin config it runs with; `None`: the runner's default.
    pub config: Option<Map<String, Value>>,
}

impl Fixture {
    /// The receipts to answer the calls with, in order.
    pub fn receipts(&self) -> Vec<ReceiptKind> {
        self.actions
            .iter()
            .flatten()
            .map(|action| action.receipt)
            .collect()
    }
}

/// A capability call a fixture expects, and the receipt to answer it with.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedAction {
    /// The capability's name, e.g. `iam.disable-access-key`.
    pub capability: String,
    /// A subset of the call's arguments (see [`crate::subset`]); empty when not given.
    pub args: Map<String, Value>,
    pub receipt: ReceiptKind,
}

/// What the harness answers a call with (`"receipt"`, default `accepted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiptKind {
    #[default]
    Accepted,
    DryRun,
    PendingApproval,
    Denied,
}

impl ReceiptKind {
    pub const ALL: [ReceiptKind; 4] = [
        ReceiptKind::Accepted,
        ReceiptKind::DryRun,
        ReceiptKind::PendingApproval,
        ReceiptKind::Denied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Accepted => "accepted",
            ReceiptKind::DryRun => "dry-run",
            ReceiptKind::PendingApproval => "pending-approval",
            ReceiptKind::Denied => "denied",
        }
    }

    /// # Errors
    /// An unknown kind, with the known ones.
    pub fn parse(kind: &str) -> Result<ReceiptKind, String> {
        ReceiptKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| {
                format!("unknown receipt `{kind}` (accepted, dry-run, pending-approval, denied)")
            })
    }
}

/// Parses one fixture from its JSON text. `capabilities` are the capability names an
/// expected action may name.
///
/// # Errors
/// What is wrong with it: not JSON, a missing or mistyped key, an unknown key, an unknown
/// capability or receipt.
pub fn parse(text: &str, capabilities: &[&str]) -> Result<Fixture, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    refuse_unknown_keys(object, FIXTURE_KEYS, "fixture")?;
    let list = |key: &str| -> Result<&Vec<Value>, String> {
        object
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("`{key}` must be an array"))
    };
    let name = object
        .get("name")
        .and_then(Value::as_str)
        .ok_or("`name` missing or not a string")?
        .to_owned();
    let mut findings = Vec::new();
    for (i, expected) in list("findings")?.iter().enumerate() {
        let expected = expected
            .as_object()
            .ok_or_else(|| format!("finding {} is not an object", i + 1))?;
        refuse_unknown_keys(expected, EXPECTED_KEYS, &format!("finding {}", i + 1))?;
        findings.push(expected.clone());
    }
    let actions = match object.get("actions") {
        None => None,
        Some(_) => Some(
            list("actions")?
                .iter()
                .enumerate()
                .map(|(i, action)| parse_action(action, i + 1, capabilities))
                .collect::<Result<Vec<_>, String>>()?,
        ),
    };
    let config = match object.get("config") {
        None => None,
        Some(Value::Object(config)) => Some(config.clone()),
        Some(_) => return Err("`config` must be an object".to_owned()),
    };
    Ok(Fixture {
        name,
        events: list("events")?.clone(),
        findings,
        actions,
        config,
    })
}

fn refuse_unknown_keys(
    object: &Map<String, Value>,
    allowed: &[&str],
    what: &str,
) -> Result<(), String> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(format!(
            "{what}: unknown key `{key}` (allowed: {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn parse_action(action: &Value, n: usize, capabilities: &[&str]) -> Result<ExpectedAction, String> {
    let object = action
        .as_object()
        .ok_or_else(|| format!("action {n} is not an object"))?;
    refuse_unknown_keys(object, ACTION_KEYS, &format!("action {n}"))?;
    let capability = object
        .get("capability")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("action {n}: `capability` missing"))?;
    if !capabilities.contains(&capability) {
        return Err(format!("action {n}: unknown capability `{capability}`"));
    }
    let args = match object.get("args") {
        None => Map::new(),
        Some(Value::Object(args)) => args.clone(),
        Some(_) => return Err(format!("action {n}: `args` must be an object")),
    };
    let receipt = match object.get("receipt") {
        None => ReceiptKind::Accepted,
        Some(Value::String(kind)) => {
            ReceiptKind::parse(kind).map_err(|e| format!("action {n}: {e}"))?
        }
        Some(_) => return Err(format!("action {n}: `receipt` must be a string")),
    };
    Ok(ExpectedAction {
        capability: capability.to_owned(),
        args,
        receipt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: &[&str] = &["notify.send", "iam.disable-access-key"];

    #[test]
    fn actions_parse_with_default_receipts_and_unknown_keys_are_refused() {
        let fixture = parse(
            r#"{"name": "n", "events": [], "findings": [{"severity": "HIGH", "context": {}}], "actions": [
                {"capability": "notify.send"},
                {"capability": "iam.disable-access-key", "args": {"user-name": "u"}, "receipt": "denied"}]}"#,
            CAPS,
        )
        .unwrap();
        assert_eq!(
            fixture.receipts(),
            [ReceiptKind::Accepted, ReceiptKind::Denied]
        );
        assert!(fixture.actions.as_ref().unwrap()[0].args.is_empty());
        let no_actions = parse(r#"{"name": "n", "events": [], "findings": []}"#, CAPS).unwrap();
        assert!(no_actions.actions.is_none() && no_actions.config.is_none());
        for bad in [
            r#"{"name": "n", "events": [], "findings": [], "action": []}"#,
            r#"{"name": "n", "events": [], "findings": [{"rule": "x"}]}"#,
            r#"{"name": "n", "events": [], "findings": [], "actions": [{"capability": "iam.nope"}]}"#,
            r#"{"name": "n", "events": [], "findings": [], "actions": [{"capability": "notify.send", "receipt": "ok"}]}"#,
            r#"{"name": "n", "events": [], "findings": [], "actions": [{"capability": "notify.send", "arg": {}}]}"#,
            r#"{"name": "n", "events": {}, "findings": []}"#,
            r#"{"events": [], "findings": []}"#,
            r#"{"name": "n", "events": [], "findings": [], "config": []}"#,
            "[]",
            "not json",
        ] {
            assert!(parse(bad, CAPS).is_err(), "{bad}");
        }
    }
}
