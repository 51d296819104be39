//! The plugin's settings, read from its config table with defaults.
//!
//! A bad value is reported (logged once per batch by the caller) and replaced by its
//! default, never fatal: a typo in the admin's table must not silence a detection.

use trailwarden_plugin_sdk::serde_json::Value;
use trailwarden_plugin_sdk::Config;

/// `access_denied_threshold`: denials from one principal in a window that raise a finding.
pub const DEFAULT_ACCESS_DENIED_THRESHOLD: u32 = 10;
/// `secret_read_threshold`: distinct secrets one principal reads in a window that raise a
/// finding.
pub const DEFAULT_SECRET_READ_THRESHOLD: u32 = 20;
/// `window_seconds`: the length of both burst windows, fixed from their first event.
pub const DEFAULT_WINDOW_SECONDS: u32 = 600;

/// The config keys it reads.
pub const KEYS: &[&str] = &[
    "notify_target",
    "access_denied_threshold",
    "secret_read_threshold",
    "window_seconds",
    "scanner_user_agents",
];

/// One tool recognised by its user agent (an entry of `scanner_user_agents`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanner {
    /// How findings name it, e.g. `TruffleHog`.
    pub name: String,
    /// Lower-case substrings of the user agent; any one is enough.
    pub patterns: Vec<String>,
    /// Why a call with this user agent is worth a finding.
    pub reason: String,
    /// `(service, eventName)` pairs, e.g. `("sts", "GetCallerIdentity")`, the only calls
    /// that count for this tool; empty: every call.
    pub calls: Vec<(String, String)>,
}

impl Scanner {
    fn new(name: &str, patterns: &[&str], reason: &str, calls: &[(&str, &str)]) -> Scanner {
        Scanner {
            name: name.to_owned(),
            patterns: patterns.iter().map(|p| p.to_ascii_lowercase()).collect(),
            reason: reason.to_owned(),
            calls: calls
                .iter()
                .map(|(s, n)| ((*s).to_owned(), (*n).to_owned()))
                .collect(),
        }
    }

    /// Whether `user_agent` names this tool (case-insensitively) and the call counts.
    pub fn matches(&self, user_agent: &str, service: Option<&str>, name: Option<&str>) -> bool {
        let agent = user_agent.to_lowercase();
        self.patterns.iter().any(|p| agent.contains(p.as_str()))
            && (self.calls.is_empty()
                || self
                    .calls
                    .iter()
                    .any(|(s, n)| service == Some(s.as_str()) && name == Some(n.as_str())))
    }
}

/// The default `scanner_user_agents`: tools that name themselves (or their operating system)
/// in the user agent of every AWS call they make.
///
/// Not listed: Pacu, CloudFox and most offensive frameworks send the SDK's default user
/// agent (Pacu even replaces a Kali one), so their name never shows; catching them is the
/// access-denied burst's job.
pub fn default_scanners() -> Vec<Scanner> {
    vec![
        Scanner::new(
            "TruffleHog",
            &["trufflehog"],
            "a secret scanner: it calls sts:GetCallerIdentity to check whether an AWS key it \
             found in code, a log or a leak still works, so the key has leaked",
            &[("sts", "GetCallerIdentity")],
        ),
        Scanner::new(
            "Kali Linux",
            &["distrib#kali", "+kali", "kali-amd64", "kali-arm64"],
            "a penetration-testing distribution (GuardDuty's PenTest:IAMUser/KaliLinux); the \
             AWS CLI and SDKs name the operating system they run on",
            &[],
        ),
        Scanner::new(
            "Parrot Security",
            &["distrib#parrot", "parrot1-amd64", "parrot1-arm64"],
            "a penetration-testing distribution (GuardDuty's PenTest:IAMUser/ParrotLinux)",
            &[],
        ),
        Scanner::new(
            "Pentoo",
            &["pentoo"],
            "a penetration-testing distribution (GuardDuty's PenTest:IAMUser/PentooLinux)",
            &[],
        ),
        Scanner::new(
            "ScoutSuite",
            &["scout suite", "scout-suite"],
            "a cloud audit tool that reads the configuration of every service; intruders run \
             it to map an account they got into. Remove it if your own team runs it",
            &[],
        ),
        Scanner::new(
            "Prowler",
            &["apn_1826889", "prowler"],
            "a cloud audit tool (its SDK clients send the partner id APN_1826889) that reads \
             the configuration of every service; intruders run it to map an account. Remove \
             it if your own team runs it",
            &[],
        ),
    ]
}

/// Everything the plugin reads from its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub notify_target: String,
    pub access_denied_threshold: u32,
    pub secret_read_threshold: u32,
    pub window_seconds: u32,
    pub scanners: Vec<Scanner>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            notify_target: trailwarden_plugin_sdk::config::DEFAULT_NOTIFY_TARGET.to_owned(),
            access_denied_threshold: DEFAULT_ACCESS_DENIED_THRESHOLD,
            secret_read_threshold: DEFAULT_SECRET_READ_THRESHOLD,
            window_seconds: DEFAULT_WINDOW_SECONDS,
            scanners: default_scanners(),
        }
    }
}

impl Settings {
    /// The settings from `config`, and what was wrong with it (each problem replaced by
    /// its default).
    pub fn from_config(config: &Config) -> (Settings, Vec<String>) {
        let mut s = Settings {
            notify_target: config.notify_target().to_owned(),
            ..Settings::default()
        };
        let mut problems = Vec::new();
        for (key, slot) in [
            ("access_denied_threshold", &mut s.access_denied_threshold),
            ("secret_read_threshold", &mut s.secret_read_threshold),
            ("window_seconds", &mut s.window_seconds),
        ] {
            match config.get(key) {
                None => {}
                Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(n) if n >= 1 => *slot = n,
                    _ => problems.push(format!(
                        "{key} must be a whole number from 1 to {}, not {v}; using {slot}",
                        u32::MAX
                    )),
                },
            }
        }
        if let Some(list) = config.get("scanner_user_agents") {
            match parse_scanners(list) {
                Ok((scanners, mut bad)) => {
                    s.scanners = scanners;
                    problems.append(&mut bad);
                }
                Err(e) => problems.push(format!("scanner_user_agents: {e}; using the defaults")),
            }
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
        (s, problems)
    }
}

/// `scanner_user_agents`: a list of entries, each a string (a user-agent substring, any
/// call) or `{"name", "match": string or list, "reason", "calls": ["sts:GetCallerIdentity"]}`
/// (only `match` required). Bad entries are left out and reported; a value that is not a
/// list is an error. An empty list turns the detection off.
fn parse_scanners(list: &Value) -> Result<(Vec<Scanner>, Vec<String>), String> {
    let entries = list
        .as_array()
        .ok_or_else(|| format!("must be a list, not {list}"))?;
    let mut scanners = Vec::new();
    let mut problems = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        match parse_scanner(entry) {
            Ok(scanner) => scanners.push(scanner),
            Err(e) => problems.push(format!("scanner_user_agents[{i}] left out: {e}")),
        }
    }
    Ok((scanners, problems))
}

fn text(v: &Value) -> Option<&str> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty())
}

fn parse_scanner(entry: &Value) -> Result<Scanner, String> {
    if let Some(pattern) = text(entry) {
        return Ok(Scanner::new(
            pattern,
            &[pattern],
            "listed in scanner_user_agents",
            &[],
        ));
    }
    let obj = entry
        .as_object()
        .ok_or_else(|| format!("a string or an object expected, not {entry}"))?;
    if let Some(key) = obj
        .keys()
        .find(|k| !["name", "match", "reason", "calls"].contains(&k.as_str()))
    {
        return Err(format!("unknown key `{key}` (name, match, reason, calls)"));
    }
    let patterns: Vec<&str> = match obj.get("match") {
        Some(Value::Array(items)) => items.iter().filter_map(text).collect(),
        Some(v) => text(v).into_iter().collect(),
        None => Vec::new(),
    };
    if patterns.is_empty() {
        return Err("`match` must be a non-empty string or list of strings".to_owned());
    }
    let mut calls = Vec::new();
    for call in obj
        .get("calls")
        .map(|v| v.as_array().ok_or("`calls` must be a list"))
        .transpose()?
        .into_iter()
        .flatten()
    {
        let pair = text(call)
            .and_then(|c| c.split_once(':'))
            .filter(|(s, n)| !s.is_empty() && !n.is_empty())
            .ok_or_else(|| format!("a call is written `service:EventName`, not {call}"))?;
        calls.push(pair);
    }
    let name = obj.get("name").and_then(text).unwrap_or(patterns[0]);
    let reason = obj
        .get("reason")
        .and_then(text)
        .unwrap_or("listed in scanner_user_agents");
    Ok(Scanner::new(name, &patterns, reason, &calls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwarden_plugin_sdk::serde_json::json;

    fn settings(v: Value) -> (Settings, Vec<String>) {
        Settings::from_config(&Config::from_value(v).unwrap())
    }

    #[test]
    fn defaults_and_overrides() {
        let (s, problems) = settings(json!({}));
        assert_eq!(s, Settings::default());
        assert!(problems.is_empty());
        let (s, problems) = settings(json!({"access_denied_threshold": 3,
            "secret_read_threshold": 1, "window_seconds": 60, "notify_target": "soc"}));
        assert_eq!(
            (
                s.access_denied_threshold,
                s.secret_read_threshold,
                s.window_seconds
            ),
            (3, 1, 60)
        );
        assert_eq!(s.notify_target, "soc");
        assert!(problems.is_empty());
    }

    #[test]
    fn bad_values_fall_back_and_are_reported() {
        let (s, problems) = settings(json!({"access_denied_threshold": 0,
            "secret_read_threshold": "20", "window_seconds": 1e12, "scanner_user_agents": "x",
            "treshold": 1}));
        assert_eq!(s, Settings::default());
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[4].contains("treshold"));
    }

    #[test]
    fn scanner_entries() {
        let (s, problems) = settings(json!({"scanner_user_agents": [
            "MyScanner",
            {"name": "Tool", "match": ["ToolA", "toolb"], "reason": "why",
             "calls": ["sts:GetCallerIdentity"]},
            {"match": []},
            {"match": "x", "calls": ["nocolon"]},
            {"match": "x", "colour": 1},
            7,
        ]}));
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(s.scanners.len(), 2);
        assert_eq!(s.scanners[0].name, "MyScanner");
        assert!(s.scanners[0].matches("x myscanner/1", Some("s3"), Some("ListBuckets")));
        let tool = &s.scanners[1];
        assert_eq!(tool.patterns, ["toola", "toolb"]);
        assert!(tool.matches("TOOLA", Some("sts"), Some("GetCallerIdentity")));
        assert!(!tool.matches("TOOLA", Some("sts"), Some("AssumeRole")));
        let (s, _) = settings(json!({"scanner_user_agents": []}));
        assert!(s.scanners.is_empty());
    }

    #[test]
    fn default_scanners_match_their_user_agents() {
        let find = |agent: &str, service: &str, name: &str| {
            default_scanners()
                .into_iter()
                .find(|s| s.matches(agent, Some(service), Some(name)))
                .map(|s| s.name)
        };
        let sts = ("sts", "GetCallerIdentity");
        assert_eq!(
            find("TruffleHog", sts.0, sts.1).as_deref(),
            Some("TruffleHog")
        );
        assert_eq!(find("trufflehog/3.63.0", "sts", "AssumeRole"), None);
        assert_eq!(
            find(
                "aws-cli/2.15.30 Python/3.11.8 Linux/6.6.9-amd64 exe/x86_64.kali.2024 prompt/off \
                 command/s3.ls md/distrib#kali.2024",
                "s3",
                "ListBuckets"
            )
            .as_deref(),
            Some("Kali Linux")
        );
        assert_eq!(
            find(
                "aws-cli/1.19.1 Python/3.9.2 Linux/6.0.0-2parrot1-amd64 botocore/1.29.58",
                "iam",
                "ListUsers"
            )
            .as_deref(),
            Some("Parrot Security")
        );
        assert_eq!(
            find(
                "Scout Suite/5.12.0 Python/3.9.2 Linux/5.10 Scout Suite/5.12.0",
                "ec2",
                "DescribeRegions"
            )
            .as_deref(),
            Some("ScoutSuite")
        );
        assert_eq!(
            find(
                "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux APN_1826889",
                "s3",
                "GetBucketAcl"
            )
            .as_deref(),
            Some("Prowler")
        );
        assert_eq!(
            find(
                "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0-18-amd64 md/distrib#debian.12",
                "sts",
                "GetCallerIdentity"
            ),
            None
        );
    }
}
