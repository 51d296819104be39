//! The plugin's settings, read from its `config` table once per batch.
//!
//! A bad value is logged and replaced by its default, never fatal: a typo in the admin's
//! table must not silence the detections.

use trailwarden_plugin_sdk::serde_json::Value;
use trailwarden_plugin_sdk::{log, Config};

/// Config keys this plugin reads.
pub const KEYS: &[&str] = &[
    "notify_target",
    "notify_window_seconds",
    "trusted_accounts",
    "trusted_org_ids",
];

/// The default of `notify_window_seconds`: one notification per incident an hour.
pub const DEFAULT_NOTIFY_WINDOW_SECONDS: u32 = 3600;

/// What the detections and responses need from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `notify_target`: the webhook `notify.send` posts to (default `security-team`).
    pub notify_target: String,
    /// `notify_window_seconds`: after a notification, later findings with the same dedup
    /// key are not notified again for this long (0: notify every finding).
    pub notify_window_seconds: u32,
    /// `trusted_accounts`: account ids (besides the event's own) that a role may trust.
    pub trusted_accounts: Vec<String>,
    /// `trusted_org_ids`: organization ids (`o-...`) that an `aws:PrincipalOrgID` condition
    /// may name. Empty: any organization condition is taken as restrictive.
    pub trusted_org_ids: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            notify_target: trailwarden_plugin_sdk::config::DEFAULT_NOTIFY_TARGET.to_owned(),
            notify_window_seconds: DEFAULT_NOTIFY_WINDOW_SECONDS,
            trusted_accounts: Vec::new(),
            trusted_org_ids: Vec::new(),
        }
    }
}

impl Settings {
    /// The settings of `config`, and what was wrong with it (each problem also logged as a
    /// warning by [`Settings::from_config`]).
    pub fn parse(config: &Config) -> (Settings, Vec<String>) {
        let mut settings = Settings {
            notify_target: config.notify_target().to_owned(),
            ..Settings::default()
        };
        let mut problems = Vec::new();
        if let Some(v) = config.get("notify_window_seconds") {
            match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => settings.notify_window_seconds = n,
                None => problems.push(format!(
                    "notify_window_seconds must be a whole number of seconds, not {v}"
                )),
            }
        }
        if let Some(v) = config.get("trusted_accounts") {
            let (accounts, bad) = list(v, account_id);
            settings.trusted_accounts = accounts;
            problems.extend(
                bad.into_iter()
                    .map(|b| format!("trusted_accounts: {b} is not a 12-digit account id")),
            );
        }
        if let Some(v) = config.get("trusted_org_ids") {
            let (orgs, bad) = list(v, |v| {
                let s = v.as_str()?.trim();
                s.starts_with("o-").then(|| s.to_owned())
            });
            settings.trusted_org_ids = orgs;
            problems.extend(
                bad.into_iter()
                    .map(|b| format!("trusted_org_ids: {b} is not an organization id (o-...)")),
            );
        }
        let unknown: Vec<&str> = config
            .table()
            .keys()
            .map(String::as_str)
            .filter(|k| !KEYS.contains(k))
            .collect();
        if !unknown.is_empty() {
            problems.push(format!(
                "unknown config keys ignored: {}",
                unknown.join(", ")
            ));
        }
        (settings, problems)
    }

    /// [`Settings::parse`], logging each problem as a warning.
    pub fn from_config(config: &Config) -> Settings {
        let (settings, problems) = Settings::parse(config);
        for problem in problems {
            log::warn(&problem);
        }
        settings
    }

    /// Whether `account` is `own` or one of the trusted accounts.
    pub fn trusts_account(&self, own: Option<&str>, account: &str) -> bool {
        own == Some(account) || self.trusted_accounts.iter().any(|a| a == account)
    }
}

/// The items of a list (or of one string, split at commas and blanks) that `item` accepts,
/// and the others written out.
fn list(v: &Value, item: impl Fn(&Value) -> Option<String>) -> (Vec<String>, Vec<String>) {
    let values: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        Value::String(s) => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_owned()))
            .collect(),
        other => vec![other.clone()],
    };
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for v in &values {
        match item(v) {
            Some(s) if !good.contains(&s) => good.push(s),
            Some(_) => {}
            None => bad.push(v.to_string()),
        }
    }
    (good, bad)
}

/// A 12-digit account id, from a string or a number (TOML has no leading zeros: a number is
/// padded back to 12 digits).
pub fn account_id(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => format!("{:012}", n.as_u64()?),
        _ => return None,
    };
    (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwarden_plugin_sdk::serde_json::json;

    fn parse(v: Value) -> (Settings, Vec<String>) {
        Settings::parse(&Config::from_value(v).unwrap())
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(parse(json!({})), (Settings::default(), Vec::new()));
        let (s, problems) = parse(json!({
            "notify_target": "oncall",
            "notify_window_seconds": 0,
            "trusted_accounts": ["444455556666", 11112222333_u64, "444455556666"],
            "trusted_org_ids": "o-a1b2c3d4e5, o-zzzz",
        }));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.notify_target, "oncall");
        assert_eq!(s.notify_window_seconds, 0);
        assert_eq!(s.trusted_accounts, ["444455556666", "011112222333"]);
        assert_eq!(s.trusted_org_ids, ["o-a1b2c3d4e5", "o-zzzz"]);
        assert!(s.trusts_account(Some("111122223333"), "111122223333"));
        assert!(s.trusts_account(None, "444455556666"));
        assert!(!s.trusts_account(Some("111122223333"), "999988887777"));
    }

    #[test]
    fn bad_values_fall_back_and_are_reported() {
        let (s, problems) = parse(json!({
            "notify_window_seconds": -5,
            "trusted_accounts": ["12345", "444455556666", true],
            "trusted_org_ids": ["r-root"],
            "trusted_acounts": [],
        }));
        assert_eq!(s.notify_window_seconds, DEFAULT_NOTIFY_WINDOW_SECONDS);
        assert_eq!(s.trusted_accounts, ["444455556666"]);
        assert!(s.trusted_org_ids.is_empty());
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[4].contains("trusted_acounts"));
    }
}
