//! `[[sinks]]` in `trailwarden.toml`: where the daemon sends findings, validated. Outside
//! `sinks`, which is built from the whole `Config`, so that the two do not import each other.

use std::time::Duration;

use anyhow::{bail, Result};
use serde::Deserialize;

/// One `[[sinks]]` table as written. One flat shape for every type, so unknown keys are
/// refused; keys of another type are refused in [`SinkConfig::from_raw`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSink {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    // securityhub
    region: Option<String>,
    account: Option<String>,
    // s3
    bucket: Option<String>,
    prefix: Option<String>,
    // webhook
    url: Option<String>,
    secret: Option<String>,
    secret_env: Option<String>,
    // all
    max_batch: Option<usize>,
    interval_ms: Option<u64>,
    backoff_ms: Option<u64>,
    #[serde(default)]
    backfill: bool,
}

/// Where a sink sends findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkKind {
    /// Security Hub `BatchImportFindings` (ASFF), in `region` (else `[aws] region`), as
    /// the product of `account` (else `[aws] platform_account`, else each finding's account).
    SecurityHub {
        region: Option<String>,
        account: Option<String>,
    },
    /// OCSF JSON lines in S3: `PREFIX/dt=YYYY-MM-DD/SINK-FIRST-LAST.jsonl`.
    S3 { bucket: String, prefix: String },
    /// A signed JSON POST (`x-trailwarden-signature`, as `[notify]` targets).
    Webhook {
        url: String,
        secret: Option<String>,
        secret_env: Option<String>,
    },
}

/// A validated sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Names the sink's cursor and deliveries in the audit database: renaming a sink
    /// starts it afresh.
    pub name: String,
    pub kind: SinkKind,
    /// Findings per delivery (Security Hub calls carry at most 100 each).
    pub max_batch: usize,
    /// How often new findings are looked for.
    pub interval: Duration,
    /// First retry delay; doubles on each failure, capped at five minutes.
    pub backoff: Duration,
    /// On first start, also send the findings recorded before the sink existed.
    pub backfill: bool,
}

impl SinkConfig {
    /// The webhook's signing secret, from the config or its environment variable.
    pub fn webhook_secret(&self) -> String {
        match &self.kind {
            SinkKind::Webhook {
                secret, secret_env, ..
            } => secret
                .clone()
                .or_else(|| secret_env.as_ref().and_then(|v| std::env::var(v).ok()))
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Checks one `[[sinks]]` table.
    ///
    /// # Errors
    /// An unknown type, a missing or misplaced key, or a limit out of range.
    pub(crate) fn from_raw(raw: RawSink) -> Result<SinkConfig> {
        let name = raw.name;
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            bail!("sinks: name {name:?} must be 1-64 letters, digits, '-' or '_'");
        }
        let misplaced = |keys: &[(&str, bool)]| -> Result<()> {
            for (key, present) in keys {
                if *present {
                    bail!(
                        "sinks {name:?}: `{key}` does not apply to type {:?}",
                        raw.kind
                    );
                }
            }
            Ok(())
        };
        let s3_keys = [
            ("bucket", raw.bucket.is_some()),
            ("prefix", raw.prefix.is_some()),
        ];
        let hub_keys = [
            ("region", raw.region.is_some()),
            ("account", raw.account.is_some()),
        ];
        let webhook_keys = [
            ("url", raw.url.is_some()),
            ("secret", raw.secret.is_some()),
            ("secret_env", raw.secret_env.is_some()),
        ];
        let kind = match raw.kind.as_str() {
            "securityhub" => {
                misplaced(&s3_keys)?;
                misplaced(&webhook_keys)?;
                if let Some(account) = &raw.account {
                    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                        bail!("sinks {name:?}: account {account:?} is not a 12-digit account id");
                    }
                }
                SinkKind::SecurityHub {
                    region: raw.region,
                    account: raw.account,
                }
            }
            "s3" => {
                misplaced(&hub_keys)?;
                misplaced(&webhook_keys)?;
                let Some(bucket) = raw.bucket.filter(|b| !b.is_empty()) else {
                    bail!("sinks {name:?}: type \"s3\" needs `bucket`");
                };
                let prefix = raw.prefix.unwrap_or_default();
                SinkKind::S3 {
                    bucket,
                    prefix: prefix.trim_matches('/').to_string(),
                }
            }
            "webhook" => {
                misplaced(&s3_keys)?;
                misplaced(&hub_keys)?;
                let Some(url) = raw.url else {
                    bail!("sinks {name:?}: type \"webhook\" needs `url`");
                };
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    bail!("sinks {name:?}: url must be http:// or https://");
                }
                if raw.secret.is_none() && raw.secret_env.is_none() {
                    bail!(
                        "sinks {name:?}: a webhook needs `secret_env` (or `secret`) to sign with"
                    );
                }
                SinkKind::Webhook {
                    url,
                    secret: raw.secret,
                    secret_env: raw.secret_env,
                }
            }
            other => bail!(
                "sinks {name:?}: unknown type {other:?} (expected securityhub, s3 or webhook)"
            ),
        };
        let most = if matches!(kind, SinkKind::SecurityHub { .. }) {
            crate::report::asff::BATCH_MAX
        } else {
            10_000
        };
        let max_batch = raw.max_batch.unwrap_or(most.min(1_000));
        if max_batch == 0 || max_batch > most {
            bail!("sinks {name:?}: max_batch must be between 1 and {most}");
        }
        let interval_ms = raw.interval_ms.unwrap_or(1_000);
        if !(10..=3_600_000).contains(&interval_ms) {
            bail!("sinks {name:?}: interval_ms must be between 10 and 3600000");
        }
        let backoff_ms = raw.backoff_ms.unwrap_or(1_000);
        if !(10..=300_000).contains(&backoff_ms) {
            bail!("sinks {name:?}: backoff_ms must be between 10 and 300000");
        }
        Ok(SinkConfig {
            name,
            kind,
            max_batch,
            interval: Duration::from_millis(interval_ms),
            backoff: Duration::from_millis(backoff_ms),
            backfill: raw.backfill,
        })
    }
}

/// Checks every `[[sinks]]` table; names must be unique.
///
/// # Errors
/// As [`SinkConfig::from_raw`], or a name used twice.
pub(crate) fn validate(raw: Vec<RawSink>) -> Result<Vec<SinkConfig>> {
    let mut sinks: Vec<SinkConfig> = Vec::new();
    for raw in raw {
        let sink = SinkConfig::from_raw(raw)?;
        if sinks.iter().any(|s| s.name == sink.name) {
            bail!("sinks: the name {:?} is used twice", sink.name);
        }
        sinks.push(sink);
    }
    Ok(sinks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<SinkConfig>> {
        #[derive(Deserialize)]
        struct Doc {
            sinks: Vec<RawSink>,
        }
        validate(toml::from_str::<Doc>(text)?.sinks)
    }

    #[test]
    fn each_type_takes_its_own_keys_and_refuses_the_others() {
        let sinks = parse(
            r#"
            [[sinks]]
            name = "hub"
            type = "securityhub"
            [[sinks]]
            name = "lake"
            type = "s3"
            bucket = "b"
            prefix = "/findings/"
            [[sinks]]
            name = "siem"
            type = "webhook"
            url = "https://siem.example/in"
            secret_env = "SIEM_SECRET"
            "#,
        )
        .unwrap();
        assert_eq!(sinks.len(), 3);
        assert_eq!(sinks[0].max_batch, 100);
        assert_eq!(
            sinks[1].kind,
            SinkKind::S3 {
                bucket: "b".into(),
                prefix: "findings".into()
            }
        );
        for (bad, why) in [
            ("name = \"x\"\ntype = \"s3\"", "needs `bucket`"),
            (
                "name = \"x\"\ntype = \"s3\"\nbucket = \"b\"\nurl = \"https://a\"",
                "does not apply",
            ),
            (
                "name = \"x\"\ntype = \"webhook\"\nurl = \"https://a\"",
                "secret_env",
            ),
            ("name = \"x\"\ntype = \"kafka\"", "unknown type"),
            (
                "name = \"x\"\ntype = \"securityhub\"\nmax_batch = 101",
                "max_batch",
            ),
            ("name = \"a b\"\ntype = \"securityhub\"", "letters"),
            (
                "name = \"x\"\ntype = \"securityhub\"\ncolour = 1",
                "unknown field",
            ),
        ] {
            let err = parse(&format!("[[sinks]]\n{bad}\n")).unwrap_err();
            assert!(format!("{err:#}").contains(why), "{bad}: {err:#}");
        }
        let twice = "[[sinks]]\nname = \"x\"\ntype = \"securityhub\"\n";
        let err = parse(&format!("{twice}{twice}")).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }
}
