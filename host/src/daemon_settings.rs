//! The `[daemon]`, `[sqs]` and `[dedup]` tables of `trailwarden.toml`: live ingest.
//!
//! Parsed raw (unknown keys refused) by [`crate::config`], then validated here into
//! [`IntakeSettings`], which [`crate::config::Config`] carries as `intake`. Outside
//! `daemon`, which starts from the whole `Config`, so that the two do not import each other.
//!
//! ```toml
//! [daemon]
//! listen = "127.0.0.1:8787"          # bind address; loopback unless you say otherwise
//! token_file = "trailwarden.token"   # default: beside the audit database
//! admin_token_file = "trailwarden.admin-token"  # POST /v1/reload; default: beside the database
//! api_key_header = "X-Api-Key"       # the header an EventBridge connection sends
//! max_body_bytes = 10485760          # larger requests get 413
//! max_decompressed_bytes = 16777216  # a gzip body past this is one `too_large` reject
//! max_decompression_ratio = 100      # past the first MiB; more is a `decompression_bomb`
//! max_items_per_input = 1000000      # items one body or file yields; the rest: `too_many_items`
//! max_rejects_per_input = 100        # rejects kept one by one; the rest: `too_many_rejects`
//! queue_events = 10000               # events waiting for the pipeline; full -> 503
//! max_concurrent_requests = 64       # requests being read or waiting; more -> 503
//! flush_interval_ms = 250            # findings are never held back longer than this
//! max_connections = 512              # open connections; more are closed at once
//! header_timeout_ms = 10000          # a request's headers must arrive within this
//! body_timeout_ms = 30000            # and its body within this, else 408
//! metrics_auth = true                # /metrics needs the token too
//! shutdown_timeout_s = 30
//! summary_interval_s = 60            # a one-line summary in the log this often; 0: never
//! stall_after_s = 60                 # /healthz answers 503 once one unit of work takes longer
//! exit_on_stall = true               # and, stalled for stall_exit_grace_s more, the process
//! stall_exit_grace_s = 60            # exits non-zero (status 70) for a supervisor to restart it
//!
//! [sqs]
//! queue_url = "https://sqs.eu-west-1.amazonaws.com/111122223333/cloudtrail"
//! wait_time_s = 20                   # long polling
//! max_messages = 10                  # per ReceiveMessage, and messages in flight
//! visibility_timeout_s = 120         # extended while a message is being processed
//! max_object_bytes = 134217728       # larger S3 log files are dead-lettered
//! max_decompressed_bytes = 268435456 # a log file past this is one `too_large` reject
//! buckets = ["org-trail-logs"]       # the only buckets log files are fetched from (globs)
//! max_object_attempts = 5            # receives of a message whose S3 object fails, then
//!                                    # the object is dead-lettered and the message deleted
//!
//! [dedup]
//! enabled = true                     # `run` dedups by eventID; `replay` only with --dedup
//! window = "24h"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cloudtrail_normalize::Options;
use serde::Deserialize;

/// The daemon's address when neither the config nor `--listen` names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
pub const DEFAULT_QUEUE_EVENTS: usize = 10_000;
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 64;
pub const DEFAULT_FLUSH_INTERVAL_MS: u64 = 250;
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_BODY_TIMEOUT_MS: u64 = 30_000;
/// A gzip request body may decompress to this much.
pub const DEFAULT_MAX_DECOMPRESSED_BODY_BYTES: usize = 16 * 1024 * 1024;
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// The token file's name, beside the audit database unless configured.
/// Seconds between the log's one-line summaries.
const DEFAULT_SUMMARY_INTERVAL_S: u64 = 60;
/// Default `stall_after_s`: longer than any batch within the default deadlines.
const DEFAULT_STALL_AFTER_S: u64 = 60;
/// Default `stall_exit_grace_s`: a stall reported by `/healthz` this long ends the process.
const DEFAULT_STALL_EXIT_GRACE_S: u64 = 60;
pub const TOKEN_FILE_NAME: &str = "trailwarden.token";
/// The admin token's file name (it authorises `POST /v1/reload`, the ingest token does not).
pub const ADMIN_TOKEN_FILE_NAME: &str = "trailwarden.admin-token";

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    listen: Option<String>,
    token_file: Option<PathBuf>,
    admin_token_file: Option<PathBuf>,
    api_key_header: Option<String>,
    max_body_bytes: Option<usize>,
    queue_events: Option<usize>,
    max_concurrent_requests: Option<usize>,
    flush_interval_ms: Option<u64>,
    metrics_auth: Option<bool>,
    shutdown_timeout_s: Option<u64>,
    max_decompressed_bytes: Option<usize>,
    max_decompression_ratio: Option<usize>,
    max_items_per_input: Option<usize>,
    max_rejects_per_input: Option<usize>,
    max_connections: Option<usize>,
    header_timeout_ms: Option<u64>,
    body_timeout_ms: Option<u64>,
    summary_interval_s: Option<u64>,
    stall_after_s: Option<u64>,
    exit_on_stall: Option<bool>,
    stall_exit_grace_s: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSqs {
    queue_url: String,
    wait_time_s: Option<i32>,
    max_messages: Option<i32>,
    visibility_timeout_s: Option<i32>,
    max_object_bytes: Option<u64>,
    max_decompressed_bytes: Option<usize>,
    #[serde(default)]
    buckets: Vec<String>,
    max_object_attempts: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDedup {
    enabled: Option<bool>,
    window: Option<String>,
}

/// Live ingest settings: the HTTP endpoint, the SQS consumer, dedup.
#[derive(Debug, Clone, Default)]
pub struct IntakeSettings {
    pub daemon: DaemonSettings,
    /// Set when the config has an `[sqs]` table.
    pub sqs: Option<SqsSettings>,
    pub dedup: DedupSettings,
}

#[derive(Debug, Clone)]
pub struct DaemonSettings {
    pub listen: SocketAddr,
    /// `None`: `trailwarden.token` beside the audit database.
    pub token_file: Option<PathBuf>,
    /// `None`: `trailwarden.admin-token` beside the audit database.
    pub admin_token_file: Option<PathBuf>,
    /// Lower case, as HTTP header names compare.
    pub api_key_header: String,
    pub max_body_bytes: usize,
    pub queue_events: usize,
    pub max_concurrent_requests: usize,
    pub flush_interval: Duration,
    pub metrics_auth: bool,
    pub shutdown_timeout: Duration,
    /// What normalising one request body may cost (decompressed bytes, items, rejects).
    pub input_limits: Options,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers (also an idle kept-alive
    /// connection's next request): slow ones are disconnected.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body: slow ones get 408.
    pub body_timeout: Duration,
    /// How often the log gets a one-line summary of the interval; `None`: never.
    pub summary_interval: Option<Duration>,
    /// How long one unit of pipeline work may take before `/healthz` answers 503.
    pub stall_after: Duration,
    /// Stalled past `stall_after` plus this, the process exits non-zero (the watchdog);
    /// `None`: `exit_on_stall = false`, it only answers 503.
    pub stall_exit_grace: Option<Duration>,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            listen: DEFAULT_LISTEN.parse().expect("a valid address"),
            token_file: None,
            admin_token_file: None,
            api_key_header: "x-api-key".to_string(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            queue_events: DEFAULT_QUEUE_EVENTS,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            flush_interval: Duration::from_millis(DEFAULT_FLUSH_INTERVAL_MS),
            metrics_auth: true,
            shutdown_timeout: Duration::from_secs(30),
            input_limits: Options {
                max_input_bytes: DEFAULT_MAX_DECOMPRESSED_BODY_BYTES,
                ..Options::default()
            },
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: Duration::from_millis(DEFAULT_HEADER_TIMEOUT_MS),
            body_timeout: Duration::from_millis(DEFAULT_BODY_TIMEOUT_MS),
            summary_interval: Some(Duration::from_secs(DEFAULT_SUMMARY_INTERVAL_S)),
            stall_after: Duration::from_secs(DEFAULT_STALL_AFTER_S),
            stall_exit_grace: Some(Duration::from_secs(DEFAULT_STALL_EXIT_GRACE_S)),
        }
    }
}

impl DaemonSettings {
    /// Where the ingest token lives for a config whose audit database is `database`.
    pub fn token_path(&self, database: &Path) -> PathBuf {
        self.token_file.clone().unwrap_or_else(|| {
            database
                .parent()
                .unwrap_or(Path::new("."))
                .join(TOKEN_FILE_NAME)
        })
    }

    /// Where the admin token lives for a config whose audit database is `database`.
    pub fn admin_token_path(&self, database: &Path) -> PathBuf {
        self.admin_token_file.clone().unwrap_or_else(|| {
            database
                .parent()
                .unwrap_or(Path::new("."))
                .join(ADMIN_TOKEN_FILE_NAME)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsSettings {
    pub queue_url: String,
    pub wait_time_s: i32,
    pub max_messages: i32,
    pub visibility_timeout_s: i32,
    pub max_object_bytes: u64,
    /// What normalising one message or S3 log file may cost.
    pub input_limits: Options,
    /// Bucket name globs log files may be fetched from; none means no bucket: a message
    /// naming another bucket is dead-lettered (`s3_bucket_not_allowed`), never fetched.
    pub buckets: Vec<String>,
    /// Receives of a message whose S3 object keeps failing before the object is
    /// dead-lettered (`s3_object_failed`) and the message deleted.
    pub max_object_attempts: u32,
}

impl SqsSettings {
    /// Whether log files may be fetched from `bucket`.
    pub fn allows_bucket(&self, bucket: &str) -> bool {
        self.buckets
            .iter()
            .any(|pattern| crate::glob::glob_match(pattern, bucket))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupSettings {
    pub enabled: bool,
    pub window: Duration,
}

impl Default for DedupSettings {
    fn default() -> Self {
        DedupSettings {
            enabled: true,
            window: DEFAULT_DEDUP_WINDOW,
        }
    }
}

impl IntakeSettings {
    /// Validates the raw tables; relative paths go through `resolve`.
    ///
    /// # Errors
    /// A value is out of range or does not parse; the message names the key.
    pub(crate) fn from_raw(
        daemon: RawDaemon,
        sqs: Option<RawSqs>,
        dedup: RawDedup,
        resolve: &dyn Fn(PathBuf) -> PathBuf,
    ) -> Result<IntakeSettings> {
        let defaults = DaemonSettings::default();
        let shared_limits = SharedLimits::from_raw(&daemon)?;
        let listen = match daemon.listen {
            Some(text) => text
                .parse()
                .with_context(|| format!("daemon.listen {text:?}: expected IP:PORT"))?,
            None => defaults.listen,
        };
        let api_key_header = daemon
            .api_key_header
            .unwrap_or(defaults.api_key_header)
            .to_ascii_lowercase();
        if api_key_header.is_empty()
            || !api_key_header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            bail!("daemon.api_key_header {api_key_header:?} is not a valid header name");
        }
        let max_body_bytes = daemon.max_body_bytes.unwrap_or(defaults.max_body_bytes);
        if !(1024..=1024 * 1024 * 1024).contains(&max_body_bytes) {
            bail!("daemon.max_body_bytes must be between 1024 and 1073741824");
        }
        let queue_events = daemon.queue_events.unwrap_or(defaults.queue_events);
        if !(1..=10_000_000).contains(&queue_events) {
            bail!("daemon.queue_events must be between 1 and 10000000");
        }
        let max_concurrent_requests = daemon
            .max_concurrent_requests
            .unwrap_or(defaults.max_concurrent_requests);
        if !(1..=100_000).contains(&max_concurrent_requests) {
            bail!("daemon.max_concurrent_requests must be between 1 and 100000");
        }
        let flush_ms = daemon
            .flush_interval_ms
            .unwrap_or(DEFAULT_FLUSH_INTERVAL_MS);
        if !(1..=60_000).contains(&flush_ms) {
            bail!("daemon.flush_interval_ms must be between 1 and 60000");
        }
        let max_connections = daemon.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS);
        if !(1..=1_000_000).contains(&max_connections) {
            bail!("daemon.max_connections must be between 1 and 1000000");
        }
        let header_ms = daemon
            .header_timeout_ms
            .unwrap_or(DEFAULT_HEADER_TIMEOUT_MS);
        let body_ms = daemon.body_timeout_ms.unwrap_or(DEFAULT_BODY_TIMEOUT_MS);
        for (key, ms) in [
            ("header_timeout_ms", header_ms),
            ("body_timeout_ms", body_ms),
        ] {
            if !(100..=600_000).contains(&ms) {
                bail!("daemon.{key} must be between 100 and 600000");
            }
        }
        let summary_s = daemon
            .summary_interval_s
            .unwrap_or(DEFAULT_SUMMARY_INTERVAL_S);
        if summary_s > 86_400 {
            bail!("daemon.summary_interval_s must be between 0 (never) and 86400");
        }
        let stall_after_s = daemon.stall_after_s.unwrap_or(DEFAULT_STALL_AFTER_S);
        if !(1..=86_400).contains(&stall_after_s) {
            bail!("daemon.stall_after_s must be between 1 and 86400");
        }
        let stall_exit_grace_s = daemon
            .stall_exit_grace_s
            .unwrap_or(DEFAULT_STALL_EXIT_GRACE_S);
        if stall_exit_grace_s > 86_400 {
            bail!("daemon.stall_exit_grace_s must be between 0 and 86400");
        }
        let daemon = DaemonSettings {
            listen,
            token_file: daemon.token_file.map(resolve),
            admin_token_file: daemon.admin_token_file.map(resolve),
            api_key_header,
            max_body_bytes,
            queue_events,
            max_concurrent_requests,
            flush_interval: Duration::from_millis(flush_ms),
            metrics_auth: daemon.metrics_auth.unwrap_or(true),
            shutdown_timeout: Duration::from_secs(daemon.shutdown_timeout_s.unwrap_or(30)),
            input_limits: shared_limits.with_max_bytes(
                daemon.max_decompressed_bytes,
                DEFAULT_MAX_DECOMPRESSED_BODY_BYTES,
                "daemon",
            )?,
            max_connections,
            header_timeout: Duration::from_millis(header_ms),
            body_timeout: Duration::from_millis(body_ms),
            summary_interval: Some(summary_s).filter(|s| *s > 0).map(Duration::from_secs),
            stall_after: Duration::from_secs(stall_after_s),
            stall_exit_grace: daemon
                .exit_on_stall
                .unwrap_or(true)
                .then(|| Duration::from_secs(stall_exit_grace_s)),
        };
        let sqs = sqs
            .map(|raw| {
                let limits = shared_limits.with_max_bytes(
                    raw.max_decompressed_bytes,
                    cloudtrail_normalize::DEFAULT_MAX_INPUT_BYTES,
                    "sqs",
                )?;
                validate_sqs(raw, limits)
            })
            .transpose()?;
        let window = match dedup.window {
            Some(text) => humantime::parse_duration(&text)
                .with_context(|| format!("dedup.window {text:?}: expected a duration (24h)"))?,
            None => DEFAULT_DEDUP_WINDOW,
        };
        if window.is_zero() {
            bail!("dedup.window must be longer than zero (set enabled = false instead)");
        }
        Ok(IntakeSettings {
            daemon,
            sqs,
            dedup: DedupSettings {
                enabled: dedup.enabled.unwrap_or(true),
                window,
            },
        })
    }
}

/// The `[daemon]` input limits every source shares (all but the byte cap).
#[derive(Debug, Clone, Copy)]
struct SharedLimits {
    ratio: usize,
    items: usize,
    rejects: usize,
}

impl SharedLimits {
    fn from_raw(daemon: &RawDaemon) -> Result<SharedLimits> {
        let ratio = daemon
            .max_decompression_ratio
            .unwrap_or(cloudtrail_normalize::DEFAULT_MAX_EXPANSION_RATIO);
        if !(2..=100_000).contains(&ratio) {
            bail!("daemon.max_decompression_ratio must be between 2 and 100000");
        }
        let items = daemon
            .max_items_per_input
            .unwrap_or(cloudtrail_normalize::DEFAULT_MAX_ITEMS);
        if !(1..=100_000_000).contains(&items) {
            bail!("daemon.max_items_per_input must be between 1 and 100000000");
        }
        let rejects = daemon
            .max_rejects_per_input
            .unwrap_or(cloudtrail_normalize::DEFAULT_MAX_REJECTS_KEPT);
        if !(1..=1_000_000).contains(&rejects) {
            bail!("daemon.max_rejects_per_input must be between 1 and 1000000");
        }
        Ok(SharedLimits {
            ratio,
            items,
            rejects,
        })
    }

    fn with_max_bytes(self, given: Option<usize>, default: usize, table: &str) -> Result<Options> {
        let max_input_bytes = given.unwrap_or(default);
        if !(1024..=16 * 1024 * 1024 * 1024).contains(&max_input_bytes) {
            bail!("{table}.max_decompressed_bytes must be between 1024 and 17179869184");
        }
        Ok(Options {
            max_input_bytes,
            max_expansion_ratio: self.ratio,
            max_items: self.items,
            max_rejects_kept: self.rejects,
            ..Options::default()
        })
    }
}

impl IntakeSettings {
    /// Limits for inputs read outside the daemon (`replay`'s files and S3 objects): the
    /// `[daemon]` ratio, item and reject caps with the S3 log file byte cap.
    pub fn replay_limits(&self) -> Options {
        Options {
            max_input_bytes: self
                .sqs
                .as_ref()
                .map_or(cloudtrail_normalize::DEFAULT_MAX_INPUT_BYTES, |s| {
                    s.input_limits.max_input_bytes
                }),
            ..self.daemon.input_limits.clone()
        }
    }
}

fn validate_sqs(raw: RawSqs, input_limits: Options) -> Result<SqsSettings> {
    if raw.queue_url.is_empty() {
        bail!("sqs.queue_url is empty");
    }
    let wait_time_s = raw.wait_time_s.unwrap_or(20);
    if !(0..=20).contains(&wait_time_s) {
        bail!("sqs.wait_time_s must be between 0 and 20 (SQS's long-poll maximum)");
    }
    let max_messages = raw.max_messages.unwrap_or(10);
    if !(1..=10).contains(&max_messages) {
        bail!("sqs.max_messages must be between 1 and 10");
    }
    if raw.buckets.iter().any(|b| b.is_empty()) {
        bail!("sqs.buckets has an empty name");
    }
    let max_object_attempts = raw.max_object_attempts.unwrap_or(5);
    if !(1..=100).contains(&max_object_attempts) {
        bail!("sqs.max_object_attempts must be between 1 and 100");
    }
    let visibility_timeout_s = raw.visibility_timeout_s.unwrap_or(120);
    if !(10..=43_200).contains(&visibility_timeout_s) {
        bail!("sqs.visibility_timeout_s must be between 10 and 43200");
    }
    Ok(SqsSettings {
        queue_url: raw.queue_url,
        wait_time_s,
        max_messages,
        visibility_timeout_s,
        max_object_bytes: raw.max_object_bytes.unwrap_or(128 * 1024 * 1024),
        input_limits,
        buckets: raw.buckets,
        max_object_attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(daemon: &str, sqs: Option<&str>, dedup: &str) -> Result<IntakeSettings> {
        IntakeSettings::from_raw(
            toml::from_str(daemon).unwrap(),
            sqs.map(|s| toml::from_str(s).unwrap()),
            toml::from_str(dedup).unwrap(),
            &|p| Path::new("/etc/tw").join(p),
        )
    }

    #[test]
    fn defaults_bind_loopback_and_keep_the_token_beside_the_database() {
        let s = parse("", None, "").unwrap();
        assert_eq!(s.daemon.listen.to_string(), DEFAULT_LISTEN);
        assert!(s.daemon.listen.ip().is_loopback());
        assert_eq!(
            s.daemon.token_path(Path::new("/var/lib/tw/audit.db")),
            Path::new("/var/lib/tw/trailwarden.token")
        );
        assert!(s.sqs.is_none());
        assert_eq!(s.dedup, DedupSettings::default());
    }

    #[test]
    fn values_are_checked_and_named() {
        let s = parse(
            "api_key_header = \"X-TW-Key\"\ntoken_file = \"t\"\n",
            Some("queue_url = \"q\"\nwait_time_s = 1\n"),
            "window = \"2h\"\n",
        )
        .unwrap();
        assert_eq!(s.daemon.api_key_header, "x-tw-key");
        assert_eq!(s.daemon.token_file.as_deref(), Some(Path::new("/etc/tw/t")));
        assert_eq!(s.sqs.unwrap().wait_time_s, 1);
        assert_eq!(s.dedup.window, Duration::from_secs(7200));
        for (daemon, sqs, dedup, key) in [
            ("listen = \"nowhere\"", None, "", "daemon.listen"),
            ("api_key_header = \"a b\"", None, "", "api_key_header"),
            ("queue_events = 0", None, "", "queue_events"),
            (
                "",
                Some("queue_url = \"q\"\nwait_time_s = 21"),
                "",
                "wait_time_s",
            ),
            ("", None, "window = \"soon\"", "dedup.window"),
            ("stall_exit_grace_s = 86401", None, "", "stall_exit_grace_s"),
        ] {
            let err = parse(daemon, sqs, dedup).unwrap_err();
            assert!(format!("{err:#}").contains(key), "{key}: {err:#}");
        }
    }

    #[test]
    fn the_watchdog_is_on_by_default_and_can_be_turned_off() {
        let s = parse("", None, "").unwrap();
        assert_eq!(s.daemon.stall_exit_grace, Some(Duration::from_secs(60)));
        let s = parse("stall_exit_grace_s = 0\n", None, "").unwrap();
        assert_eq!(s.daemon.stall_exit_grace, Some(Duration::ZERO));
        let s = parse("exit_on_stall = false\nstall_exit_grace_s = 5\n", None, "").unwrap();
        assert_eq!(s.daemon.stall_exit_grace, None);
    }
}
