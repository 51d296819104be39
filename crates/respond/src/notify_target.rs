//! `[notify.NAME]`: where a notification goes (its kind), how its secrets are read, and the
//! grouping, rate limit and severity floor that keep a responder reading.
//!
//! Secrets (the HMAC key, a Slack or Teams incoming-webhook URL, a PagerDuty routing key)
//! are never written in the config: each is read from `*_env` (an environment variable) or
//! `*_file` (a file, at most 64 KiB, trailing whitespace dropped) when a message is sent, and
//! `Debug` shows only where it comes from.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Deserialize;

/// Default PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// A secret file larger than this is refused (a key or a URL is a few hundred bytes).
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;
/// Upper bound of `group_window_s`: a day.
const MAX_GROUP_WINDOW_S: u64 = 86_400;

/// What a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NotifyKind {
    /// trailwarden's own signed JSON (HMAC-SHA256 in `x-trailwarden-signature`).
    #[default]
    Webhook,
    /// A Slack incoming webhook: a Block Kit message.
    Slack,
    /// A Microsoft Teams incoming webhook: an Adaptive Card in a message attachment.
    Teams,
    /// PagerDuty Events API v2: trigger, and resolve when the finding is resolved.
    Pagerduty,
    /// An SNS topic: Publish with message attributes.
    Sns,
    /// SES v2 SendEmail, text and HTML.
    Email,
}

impl NotifyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Webhook => "webhook",
            NotifyKind::Slack => "slack",
            NotifyKind::Teams => "teams",
            NotifyKind::Pagerduty => "pagerduty",
            NotifyKind::Sns => "sns",
            NotifyKind::Email => "email",
        }
    }
}

/// A finding's severity, ordered, for `min_severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityFloor {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl SeverityFloor {
    /// The severity named `text` (a finding's `severity`); unknown names are `None`.
    pub fn parse(text: &str) -> Option<SeverityFloor> {
        Some(match text.to_ascii_lowercase().as_str() {
            "info" | "informational" => SeverityFloor::Info,
            "low" => SeverityFloor::Low,
            "medium" => SeverityFloor::Medium,
            "high" => SeverityFloor::High,
            "critical" => SeverityFloor::Critical,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SeverityFloor::Info => "info",
            SeverityFloor::Low => "low",
            SeverityFloor::Medium => "medium",
            SeverityFloor::High => "high",
            SeverityFloor::Critical => "critical",
        }
    }
}

/// Where a secret is read from. The value itself is read only when it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl SecretSource {
    /// Reads the secret.
    ///
    /// # Errors
    /// The variable is unset or empty, or the file is missing, too large or empty. The
    /// message names the variable or file, never the value.
    pub fn read(&self) -> Result<String, String> {
        let value = match self {
            SecretSource::Env(var) => {
                std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?
            }
            SecretSource::File(path) => {
                let meta = std::fs::metadata(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if meta.len() > MAX_SECRET_FILE_BYTES {
                    return Err(format!(
                        "{} is larger than {MAX_SECRET_FILE_BYTES} bytes",
                        path.display()
                    ));
                }
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            }
        };
        let value = value.trim_end().to_owned();
        if value.is_empty() {
            return Err(format!("{} is empty", self.describe()));
        }
        Ok(value)
    }

    fn describe(&self) -> String {
        match self {
            SecretSource::Env(var) => format!("environment variable {var}"),
            SecretSource::File(path) => format!("file {}", path.display()),
        }
    }
}

/// A validated `[notify.NAME]` target.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyTarget {
    pub kind: NotifyKind,
    /// The endpoint: a literal URL (webhook, pagerduty) or a secret one (slack, teams).
    pub url: Option<Endpoint>,
    /// The HMAC key (webhook) or the routing key (pagerduty).
    pub key: Option<SecretSource>,
    /// SNS topic ARN.
    pub topic_arn: Option<String>,
    /// Email sender and recipients.
    pub from: Option<String>,
    pub to: Vec<String>,
    /// Findings with the same dedup key within this many seconds make one message with a
    /// count; 0 sends each finding at once.
    pub group_window_s: u64,
    /// Messages per `rate_window_s` beyond which findings are held back and counted in one
    /// digest at the end of the window.
    pub max_per_hour: Option<u32>,
    /// The period `max_per_hour` counts over (3600; shorter only for tests and drills).
    pub rate_window_s: u64,
    /// Findings below this severity are not sent.
    pub min_severity: Option<SeverityFloor>,
}

/// An endpoint URL, literal or secret. `Debug` shows a literal URL's scheme and host only.
#[derive(Clone, PartialEq, Eq)]
pub enum Endpoint {
    Literal(String),
    Secret(SecretSource),
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Literal(url) => {
                let shown = url.split('/').take(3).collect::<Vec<_>>().join("/");
                write!(f, "Literal({shown}/...)")
            }
            Endpoint::Secret(source) => write!(f, "Secret({source:?})"),
        }
    }
}

impl Endpoint {
    /// The URL.
    ///
    /// # Errors
    /// A secret URL cannot be read.
    pub fn read(&self) -> Result<String, String> {
        match self {
            Endpoint::Literal(url) => Ok(url.clone()),
            Endpoint::Secret(source) => source.read(),
        }
    }
}

impl NotifyTarget {
    /// Whether findings go through the grouping tables (a window or a rate limit is set)
    /// rather than straight to the target.
    pub fn groups(&self) -> bool {
        self.group_window_s > 0 || self.max_per_hour.is_some()
    }

    /// Whether a finding of `severity` is sent (an unknown severity always is).
    pub fn admits(&self, severity: &str) -> bool {
        match (self.min_severity, SeverityFloor::parse(severity)) {
            (Some(floor), Some(severity)) => severity >= floor,
            _ => true,
        }
    }
}

/// `[notify.NAME]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifyTarget {
    #[serde(default)]
    kind: NotifyKind,
    url: Option<String>,
    url_env: Option<String>,
    url_file: Option<PathBuf>,
    /// Refused: a secret in the config text.
    secret: Option<toml::Value>,
    secret_env: Option<String>,
    secret_file: Option<PathBuf>,
    /// Refused: a secret in the config text.
    routing_key: Option<toml::Value>,
    routing_key_env: Option<String>,
    routing_key_file: Option<PathBuf>,
    topic_arn: Option<String>,
    from: Option<String>,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    group_window_s: u64,
    max_per_hour: Option<u32>,
    rate_window_s: Option<u64>,
    min_severity: Option<SeverityFloor>,
}

fn source(
    name: &str,
    field: &str,
    env: Option<String>,
    file: Option<PathBuf>,
    resolve: &dyn Fn(PathBuf) -> PathBuf,
) -> Result<Option<SecretSource>> {
    match (env, file) {
        (Some(_), Some(_)) => bail!("notify.{name}: give {field}_env or {field}_file, not both"),
        (Some(var), None) if var.trim().is_empty() => bail!("notify.{name}: {field}_env is empty"),
        (Some(var), None) => Ok(Some(SecretSource::Env(var))),
        (None, Some(path)) => Ok(Some(SecretSource::File(resolve(path)))),
        (None, None) => Ok(None),
    }
}

/// Checks one `[notify.NAME]` table. Relative `*_file` paths are resolved by `resolve`.
///
/// # Errors
/// A literal secret, a missing field the kind needs, a field the kind does not use, or a
/// value out of range; the message names the target and the field.
pub fn validate(
    name: &str,
    raw: RawNotifyTarget,
    resolve: &dyn Fn(PathBuf) -> PathBuf,
) -> Result<NotifyTarget> {
    let kind = raw.kind;
    if raw.secret.is_some() {
        bail!(
            "notify.{name}: a secret must not be written in the config: \
             use secret_env = \"VAR\" or secret_file = \"path\""
        );
    }
    if raw.routing_key.is_some() {
        bail!(
            "notify.{name}: a routing key must not be written in the config: \
             use routing_key_env = \"VAR\" or routing_key_file = \"path\""
        );
    }
    let secret = source(name, "secret", raw.secret_env, raw.secret_file, resolve)?;
    let routing_key = source(
        name,
        "routing_key",
        raw.routing_key_env,
        raw.routing_key_file,
        resolve,
    )?;
    let secret_url = source(name, "url", raw.url_env, raw.url_file, resolve)?;
    let literal_url = raw.url;
    let url = match (literal_url, secret_url) {
        (Some(_), Some(_)) => bail!("notify.{name}: give url or url_env/url_file, not both"),
        (Some(url), None) => {
            if matches!(kind, NotifyKind::Slack | NotifyKind::Teams) {
                bail!(
                    "notify.{name}: a {} incoming-webhook URL is a secret and must not be \
                     written in the config: use url_env = \"VAR\" or url_file = \"path\"",
                    kind.as_str()
                );
            }
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("notify.{name}: url must be http:// or https://");
            }
            Some(Endpoint::Literal(url))
        }
        (None, Some(source)) => Some(Endpoint::Secret(source)),
        (None, None) => None,
    };
    let uses = |field: &str, present: bool, allowed: bool| -> Result<()> {
        if present && !allowed {
            bail!(
                "notify.{name}: {field} is not used by kind = \"{}\"",
                kind.as_str()
            );
        }
        Ok(())
    };
    let http_kind = matches!(
        kind,
        NotifyKind::Webhook | NotifyKind::Slack | NotifyKind::Teams | NotifyKind::Pagerduty
    );
    uses("url", url.is_some(), http_kind)?;
    uses(
        "secret_env/secret_file",
        secret.is_some(),
        kind == NotifyKind::Webhook,
    )?;
    uses(
        "routing_key_env/routing_key_file",
        routing_key.is_some(),
        kind == NotifyKind::Pagerduty,
    )?;
    uses(
        "topic_arn",
        raw.topic_arn.is_some(),
        kind == NotifyKind::Sns,
    )?;
    uses("from", raw.from.is_some(), kind == NotifyKind::Email)?;
    uses("to", !raw.to.is_empty(), kind == NotifyKind::Email)?;
    let key = match kind {
        NotifyKind::Webhook => {
            if url.is_none() {
                bail!("notify.{name}: url is missing");
            }
            Some(secret.ok_or_else(|| {
                anyhow::anyhow!(
                    "notify.{name}: the signing secret is missing: secret_env or secret_file"
                )
            })?)
        }
        NotifyKind::Slack | NotifyKind::Teams => {
            if url.is_none() {
                bail!("notify.{name}: url_env or url_file is missing");
            }
            None
        }
        NotifyKind::Pagerduty => Some(routing_key.ok_or_else(|| {
            anyhow::anyhow!(
                "notify.{name}: the routing key is missing: routing_key_env or routing_key_file"
            )
        })?),
        NotifyKind::Sns => {
            let arn = raw.topic_arn.as_deref().unwrap_or("");
            if !(arn.starts_with("arn:") && arn.split(':').nth(2) == Some("sns")) {
                bail!("notify.{name}: topic_arn must be an SNS topic ARN");
            }
            None
        }
        NotifyKind::Email => {
            if raw.from.as_deref().is_none_or(|f| !f.contains('@')) {
                bail!("notify.{name}: from must be an email address");
            }
            if raw.to.is_empty() || raw.to.iter().any(|t| !t.contains('@')) {
                bail!("notify.{name}: to must list at least one email address");
            }
            if raw.to.len() > 50 {
                bail!("notify.{name}: to lists more than 50 addresses (SES's limit)");
            }
            None
        }
    };
    let url = match (kind, url) {
        (NotifyKind::Pagerduty, None) => Some(Endpoint::Literal(PAGERDUTY_EVENTS_URL.into())),
        (_, url) => url,
    };
    if raw.group_window_s > MAX_GROUP_WINDOW_S {
        bail!("notify.{name}: group_window_s must be at most {MAX_GROUP_WINDOW_S}");
    }
    if raw.max_per_hour == Some(0) {
        bail!("notify.{name}: max_per_hour must be at least 1 (remove it for no limit)");
    }
    let rate_window_s = raw.rate_window_s.unwrap_or(3600);
    if !(1..=86_400).contains(&rate_window_s) {
        bail!("notify.{name}: rate_window_s must be between 1 and 86400");
    }
    Ok(NotifyTarget {
        kind,
        url,
        key,
        topic_arn: raw.topic_arn,
        from: raw.from,
        to: raw.to,
        group_window_s: raw.group_window_s,
        max_per_hour: raw.max_per_hour,
        rate_window_s,
        min_severity: raw.min_severity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NotifyTarget> {
        let raw: RawNotifyTarget = toml::from_str(text)?;
        validate("t", raw, &|p: PathBuf| p)
    }

    #[test]
    fn literal_secrets_are_refused_with_the_way_to_give_them() {
        let err = parse("url = \"http://x/h\"\nsecret = \"s3cr3t\"").unwrap_err();
        assert!(err.to_string().contains("secret_env"), "{err}");
        assert!(!format!("{err:#}").contains("s3cr3t"));
        let err = parse("kind = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/X\"")
            .unwrap_err();
        assert!(err.to_string().contains("url_env"), "{err}");
        let err = parse("kind = \"pagerduty\"\nrouting_key = \"abc\"").unwrap_err();
        assert!(err.to_string().contains("routing_key_env"), "{err}");
    }

    #[test]
    fn each_kind_names_what_it_misses() {
        assert!(parse("url = \"http://x/h\"")
            .unwrap_err()
            .to_string()
            .contains("secret"));
        assert!(parse("kind = \"sns\"")
            .unwrap_err()
            .to_string()
            .contains("topic_arn"));
        assert!(parse("kind = \"email\"\nfrom = \"a@example.com\"")
            .unwrap_err()
            .to_string()
            .contains("to must"));
        assert!(parse(
            "kind = \"sns\"\ntopic_arn = \"arn:aws:sns:us-east-1:1:t\"\nsecret_env = \"X\""
        )
        .unwrap_err()
        .to_string()
        .contains("not used"));
        let pd = parse("kind = \"pagerduty\"\nrouting_key_env = \"PD\"").unwrap();
        assert_eq!(pd.url, Some(Endpoint::Literal(PAGERDUTY_EVENTS_URL.into())));
    }

    #[test]
    fn severity_floor_and_debug_redaction() {
        let t = parse(
            "url = \"https://h.example/p/token123\"\nsecret_env = \"S\"\nmin_severity = \"high\"",
        )
        .unwrap();
        assert!(t.admits("critical") && t.admits("high") && !t.admits("medium"));
        assert!(!format!("{t:?}").contains("token123"));
    }
}
