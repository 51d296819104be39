//! Suppressions: an administrator's "this is expected" for findings of any plugin, applied by
//! the host before a finding alerts or acts. A suppressed finding is still recorded (with
//! `suppressed_by`) and counted; its plugin's capability calls on that event are recorded as
//! `suppressed` and never executed.
//!
//! Two sources: `[[suppressions]]` in the config (read-only here, changed with the config
//! and a reload) and `trailwarden suppress add|remove`, kept in the audit database with every
//! change in `suppression_log` (who, when, what). The pipeline reads the database's set
//! again only when the log's last id moved (one indexed read per batch), so a CLI change
//! takes effect on the next batch, without a restart or reload.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::glob::glob_match;
use trailwarden_runtime::{Event, RuleInfo};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS suppressions (
    id INTEGER PRIMARY KEY,
    rule TEXT,
    principal TEXT,
    account TEXT,
    source_ip TEXT,
    user_agent TEXT,
    until INTEGER,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    removed_at TEXT,
    removed_by TEXT
);
CREATE TABLE IF NOT EXISTS suppression_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    what TEXT NOT NULL,
    suppression_id INTEGER NOT NULL,
    detail TEXT NOT NULL
)";

/// The suppression tables as a store of the shared database. FULL sync: a change is a
/// person's command, rare, and once it returns the change must outlive a power loss.
const STORE_SCHEMA: trailwarden_store::Schema<&str> = trailwarden_store::Schema {
    store: "suppress",
    migrations: &[SCHEMA],
    synchronous: trailwarden_store::Synchronous::Full,
    mirrors_user_version: false,
};

/// Longest glob or reason accepted, so a suppression stays a short, readable statement.
const MAX_FIELD_CHARS: usize = 1024;

/// A network in CIDR form (`203.0.113.0/24`, `2001:db8::/48`; a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// # Errors
    /// Not an address, or the prefix is longer than the address.
    pub fn parse(text: &str) -> Result<Cidr> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .with_context(|| format!("{text:?} is not an IP address or CIDR network"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .with_context(|| format!("{text:?}: the prefix must be 0 to {max}"))?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                masked(u32::from(net).into(), 32, self.prefix)
                    == masked(u32::from(a).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                masked(u128::from(net), 128, self.prefix) == masked(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        bits >> (width - prefix)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// What a suppression matches; a condition left out matches anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    /// Glob over rule ids.
    pub rule: Option<String>,
    /// Glob over the caller's ARN or, for a role session, the issuing role's ARN.
    pub principal: Option<String>,
    /// The event's account, exactly.
    pub account: Option<String>,
    pub source_ip: Option<Cidr>,
    /// Glob over the user agent.
    pub user_agent: Option<String>,
    /// Seconds since the epoch (wall clock) after which it no longer applies.
    pub until: Option<i64>,
}

/// One suppression, from either source.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    /// `config:N` (the N-th `[[suppressions]]`) or the database row id.
    pub id: String,
    pub conditions: Conditions,
    pub reason: String,
    /// Who added it and when (`config` for config ones).
    pub created_by: String,
    pub created_at: String,
}

/// The facts of an event a suppression looks at.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub principal_arn: Option<String>,
    pub session_issuer_arn: Option<String>,
    pub account: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Subject {
    pub fn of(event: &Event) -> Subject {
        Subject {
            principal_arn: event.principal.arn.clone(),
            session_issuer_arn: event.principal.session_issuer_arn.clone(),
            account: event.account.clone(),
            source_ip: event.source_ip.clone(),
            user_agent: event.user_agent.clone(),
        }
    }
}

impl Conditions {
    /// Whether the event-side conditions hold (the rule is checked by the caller) at `now_s`.
    fn matches_subject(&self, subject: &Subject, now_s: i64) -> bool {
        if self.until.is_some_and(|until| now_s >= until) {
            return false;
        }
        let glob = |pattern: &Option<String>, values: &[Option<&str>]| match pattern {
            None => true,
            Some(p) => values.iter().flatten().any(|v| glob_match(p, v)),
        };
        glob(
            &self.principal,
            &[
                subject.principal_arn.as_deref(),
                subject.session_issuer_arn.as_deref(),
            ],
        ) && self
            .account
            .as_ref()
            .is_none_or(|a| subject.account.as_deref() == Some(a.as_str()))
            && self.source_ip.is_none_or(|cidr| {
                subject
                    .source_ip
                    .as_deref()
                    .and_then(|ip| ip.parse::<IpAddr>().ok())
                    .is_some_and(|ip| cidr.contains(ip))
            })
            && glob(&self.user_agent, &[subject.user_agent.as_deref()])
    }

    /// Whether it is past its `until` at `now_s`.
    pub fn expired(&self, now_s: i64) -> bool {
        self.until.is_some_and(|until| now_s >= until)
    }
}

/// The suppressions in force for a batch: config ones then the database's, in that order.
#[derive(Debug, Clone, Default)]
pub struct SuppressionSet {
    pub all: Vec<Suppression>,
}

impl SuppressionSet {
    /// The first suppression that silences a finding of `rule` about `subject` at `now_s`.
    pub fn for_finding(&self, rule: &str, subject: &Subject, now_s: i64) -> Option<&Suppression> {
        self.all.iter().find(|s| {
            s.conditions
                .rule
                .as_ref()
                .is_none_or(|pattern| glob_match(pattern, rule))
                && s.conditions.matches_subject(subject, now_s)
        })
    }

    /// The first suppression that holds back a capability call about `subject`. A call
    /// carries no rule id, so a suppression naming a rule holds it back when the plugin's
    /// catalog pairs a rule it names with this capability, or when the plugin has no catalog
    /// (then its calls cannot be told apart, and the administrator silenced this event).
    pub fn for_call(
        &self,
        catalog: Option<&[RuleInfo]>,
        capability: &str,
        subject: &Subject,
        now_s: i64,
    ) -> Option<&Suppression> {
        self.all.iter().find(|s| {
            let rule_pairs = match (&s.conditions.rule, catalog) {
                (None, _) | (Some(_), None) => true,
                (Some(pattern), Some(rules)) => rules.iter().any(|r| {
                    glob_match(pattern, &r.id) && r.response.iter().any(|c| c == capability)
                }),
            };
            rule_pairs && s.conditions.matches_subject(subject, now_s)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
}

/// A `[[suppressions]]` table as written in the config.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSuppression {
    pub rule: Option<String>,
    pub principal: Option<String>,
    pub account: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub until: Option<String>,
    pub reason: Option<String>,
}

impl RawSuppression {
    /// Checks it and makes it the `index`-th config suppression (`config:N`, from 1).
    ///
    /// # Errors
    /// No reason, no condition at all, a field too long, a bad CIDR or time.
    pub fn validate(self, index: usize) -> Result<Suppression> {
        let id = format!("config:{}", index + 1);
        if let Some(until) = &self.until {
            if humantime::parse_duration(until.trim()).is_ok() {
                bail!(
                    "suppression {id}: until {until:?} is a duration, which would restart at every \
                     load; give a date (RFC 3339 or YYYY-MM-DD)"
                );
            }
        }
        let conditions = conditions(
            self.rule,
            self.principal,
            self.account,
            self.source_ip.as_deref(),
            self.user_agent,
            self.until.as_deref(),
            now_s(),
        )
        .with_context(|| format!("suppression {id}"))?;
        let reason = checked_reason(self.reason).with_context(|| format!("suppression {id}"))?;
        Ok(Suppression {
            id,
            conditions,
            reason,
            created_by: "config".to_string(),
            created_at: String::new(),
        })
    }
}

fn checked_reason(reason: Option<String>) -> Result<String> {
    let reason = reason.map(|r| r.trim().to_string()).unwrap_or_default();
    if reason.is_empty() {
        bail!("a reason is required (say why these findings are expected)");
    }
    if reason.chars().count() > MAX_FIELD_CHARS {
        bail!("the reason is longer than {MAX_FIELD_CHARS} characters");
    }
    Ok(reason)
}

/// Builds and checks the conditions: at least one of rule, principal, account, source IP,
/// user agent (a suppression of everything is refused); `until` is RFC 3339, a day
/// (YYYY-MM-DD, UTC midnight) or a duration from `now` (`7d`, `12h`).
///
/// # Errors
/// As above, or a field longer than 1024 characters.
pub fn conditions(
    rule: Option<String>,
    principal: Option<String>,
    account: Option<String>,
    source_ip: Option<&str>,
    user_agent: Option<String>,
    until: Option<&str>,
    now: i64,
) -> Result<Conditions> {
    let clean = |name: &str, value: Option<String>| -> Result<Option<String>> {
        let value = value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        if value
            .as_ref()
            .is_some_and(|v| v.chars().count() > MAX_FIELD_CHARS)
        {
            bail!("{name} is longer than {MAX_FIELD_CHARS} characters");
        }
        Ok(value)
    };
    let conditions = Conditions {
        rule: clean("rule", rule)?,
        principal: clean("principal", principal)?,
        account: clean("account", account)?,
        source_ip: source_ip.map(Cidr::parse).transpose()?,
        user_agent: clean("user_agent", user_agent)?,
        until: until.map(|u| parse_until(u, now)).transpose()?,
    };
    if conditions.rule.is_none()
        && conditions.principal.is_none()
        && conditions.account.is_none()
        && conditions.source_ip.is_none()
        && conditions.user_agent.is_none()
    {
        bail!(
            "a suppression needs at least one of rule, principal, account, source_ip, user_agent"
        );
    }
    Ok(conditions)
}

/// `until`: RFC 3339, a day (UTC midnight), or a duration from `now` (`30d`, `12h`).
///
/// # Errors
/// None of those.
pub fn parse_until(text: &str, now: i64) -> Result<i64> {
    let text = text.trim();
    if let Ok(duration) = humantime::parse_duration(text) {
        return Ok(now.saturating_add(duration.as_secs() as i64));
    }
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    let at = humantime::parse_rfc3339_weak(&full).with_context(|| {
        format!("until {text:?}: expected RFC 3339, YYYY-MM-DD or a duration such as 30d")
    })?;
    Ok(at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64))
}

pub fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn rfc3339(seconds: i64) -> String {
    let at = UNIX_EPOCH + std::time::Duration::from_secs(seconds.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A suppression for `list`, with where it comes from and whether it still applies.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: String,
    pub source: &'static str,
    pub rule: Option<String>,
    pub principal: Option<String>,
    pub account: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub until: Option<String>,
    pub expired: bool,
    pub reason: String,
    pub created_by: String,
    pub created_at: String,
}

impl Listed {
    pub fn of(s: &Suppression, now: i64) -> Listed {
        let c = &s.conditions;
        Listed {
            id: s.id.clone(),
            source: if s.id.starts_with("config:") {
                "config"
            } else {
                "cli"
            },
            rule: c.rule.clone(),
            principal: c.principal.clone(),
            account: c.account.clone(),
            source_ip: c.source_ip.map(|n| n.to_string()),
            user_agent: c.user_agent.clone(),
            until: c.until.map(rfc3339),
            expired: c.expired(now),
            reason: s.reason.clone(),
            created_by: s.created_by.clone(),
            created_at: s.created_at.clone(),
        }
    }
}

/// One change: (at, actor, what, suppression id, detail).
pub type LogEntry = (String, String, String, i64, String);

/// The suppressions kept in the audit database.
pub struct SuppressionStore {
    conn: Connection,
}

impl SuppressionStore {
    /// Opens (creating the tables if needed) the audit database's suppressions.
    ///
    /// # Errors
    /// The database cannot be opened or its tables created.
    pub fn open(path: &Path) -> Result<SuppressionStore> {
        let conn = trailwarden_store::open(path, &STORE_SCHEMA)
            .with_context(|| format!("cannot open audit database {}", path.display()))?;
        Ok(SuppressionStore { conn })
    }

    /// Where the log stands: changes only when a suppression is added or removed.
    ///
    /// # Errors
    /// The read fails.
    pub fn version(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM suppression_log")?
            .query_row([], |row| row.get(0))?)
    }

    /// The suppressions not removed, oldest first (expired ones too: `list` shows them).
    ///
    /// # Errors
    /// The read fails, or a stored CIDR no longer parses.
    pub fn active(&self) -> Result<Vec<Suppression>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, rule, principal, account, source_ip, user_agent, until, reason,
                    created_at, created_by
             FROM suppressions WHERE removed_at IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<i64>>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, String>(8)?,
                row.get::<_, String>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, rule, principal, account, source_ip, user_agent, until, reason, at, by) = row?;
            out.push(Suppression {
                id: id.to_string(),
                conditions: Conditions {
                    rule,
                    principal,
                    account,
                    source_ip: source_ip.as_deref().map(Cidr::parse).transpose()?,
                    user_agent,
                    until,
                },
                reason,
                created_by: by,
                created_at: at,
            });
        }
        Ok(out)
    }

    /// Adds a suppression and logs who added it; returns its id.
    ///
    /// # Errors
    /// The write fails.
    pub fn add(&mut self, conditions: &Conditions, reason: &str, actor: &str) -> Result<i64> {
        let at = trailwarden_store::now_rfc3339();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO suppressions (rule, principal, account, source_ip, user_agent, until,
                reason, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                conditions.rule,
                conditions.principal,
                conditions.account,
                conditions.source_ip.map(|c| c.to_string()),
                conditions.user_agent,
                conditions.until,
                reason,
                at,
                actor
            ],
        )?;
        let id = tx.last_insert_rowid();
        let detail = serde_json::json!({
            "rule": conditions.rule,
            "principal": conditions.principal,
            "account": conditions.account,
            "source_ip": conditions.source_ip.map(|c| c.to_string()),
            "user_agent": conditions.user_agent,
            "until": conditions.until.map(rfc3339),
            "reason": reason,
        });
        tx.execute(
            "INSERT INTO suppression_log (at, actor, what, suppression_id, detail)
             VALUES (?1, ?2, 'added', ?3, ?4)",
            params![at, actor, id, detail.to_string()],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Removes a suppression (the row is kept, marked removed) and logs who did it.
    ///
    /// # Errors
    /// No such suppression (or it was already removed), or the write fails.
    pub fn remove(&mut self, id: i64, actor: &str, reason: &str) -> Result<()> {
        let at = trailwarden_store::now_rfc3339();
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE suppressions SET removed_at = ?2, removed_by = ?3
             WHERE id = ?1 AND removed_at IS NULL",
            params![id, at, actor],
        )?;
        if n != 1 {
            bail!("no suppression {id} in the database (config ones are removed from the config)");
        }
        tx.execute(
            "INSERT INTO suppression_log (at, actor, what, suppression_id, detail)
             VALUES (?1, ?2, 'removed', ?3, ?4)",
            params![
                at,
                actor,
                id,
                serde_json::json!({"reason": reason}).to_string()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The change log: (at, actor, what, suppression id, detail), oldest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn log(&self) -> Result<Vec<LogEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT at, actor, what, suppression_id, detail FROM suppression_log ORDER BY id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The set in force, kept up to date by the pipeline thread: the config's suppressions plus
/// the database's, read again only when the database's log moved.
pub struct LiveSuppressions {
    store: Option<SuppressionStore>,
    config: Vec<Suppression>,
    version: i64,
    current: Arc<SuppressionSet>,
}

impl LiveSuppressions {
    /// # Errors
    /// The database's suppressions cannot be read.
    pub fn open(database: Option<&Path>, config: Vec<Suppression>) -> Result<LiveSuppressions> {
        let store = database.map(SuppressionStore::open).transpose()?;
        let mut live = LiveSuppressions {
            store,
            config,
            version: -1,
            current: Arc::new(SuppressionSet::default()),
        };
        live.refresh()?;
        Ok(live)
    }

    /// Replaces the config's suppressions (after a reload).
    pub fn set_config(&mut self, config: Vec<Suppression>) {
        if config != self.config {
            self.config = config;
            self.version = -1;
        }
    }

    /// Reads the database's suppressions again if they changed; returns the set in force.
    ///
    /// # Errors
    /// The read fails.
    pub fn refresh(&mut self) -> Result<Arc<SuppressionSet>> {
        let version = match &self.store {
            Some(store) => store.version()?,
            None => 0,
        };
        if version != self.version {
            let mut all = self.config.clone();
            if let Some(store) = &self.store {
                all.extend(store.active()?);
            }
            self.current = Arc::new(SuppressionSet { all });
            self.version = version;
        }
        Ok(self.current.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(arn: &str, ip: &str, agent: &str) -> Subject {
        Subject {
            principal_arn: Some(arn.into()),
            session_issuer_arn: None,
            account: Some("111122223333".into()),
            source_ip: Some(ip.into()),
            user_agent: Some(agent.into()),
        }
    }

    #[test]
    fn cidrs_match_their_network_only() {
        let net = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(net.contains("203.0.113.77".parse().unwrap()));
        assert!(!net.contains("203.0.114.1".parse().unwrap()));
        assert!(!net.contains("2001:db8::1".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8:1::/48").unwrap();
        assert!(v6.contains("2001:db8:1:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db8:2::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("not-an-ip").is_err());
    }

    #[test]
    fn every_condition_must_hold_and_expired_ones_never_apply() {
        let now = 1_800_000_000;
        let conditions = conditions(
            Some("root-*".into()),
            Some("arn:aws:iam::*:user/ci-*".into()),
            Some("111122223333".into()),
            Some("10.0.0.0/8"),
            Some("terraform*".into()),
            Some("1d"),
            now,
        )
        .unwrap();
        let set = SuppressionSet {
            all: vec![Suppression {
                id: "1".into(),
                conditions,
                reason: "CI".into(),
                created_by: "t".into(),
                created_at: String::new(),
            }],
        };
        let ci = subject(
            "arn:aws:iam::111122223333:user/ci-bot",
            "10.1.2.3",
            "terraform/1.9",
        );
        assert!(set.for_finding("root-login", &ci, now).is_some());
        assert!(set.for_finding("console-no-mfa", &ci, now).is_none());
        let elsewhere = subject(
            "arn:aws:iam::111122223333:user/ci-bot",
            "192.0.2.1",
            "terraform/1.9",
        );
        assert!(set.for_finding("root-login", &elsewhere, now).is_none());
        let person = subject(
            "arn:aws:iam::111122223333:user/alice",
            "10.1.2.3",
            "terraform/1.9",
        );
        assert!(set.for_finding("root-login", &person, now).is_none());
        assert!(set.for_finding("root-login", &ci, now + 86_400).is_none());
    }

    #[test]
    fn a_suppression_of_everything_or_without_reason_is_refused() {
        let error = conditions(None, None, None, None, None, Some("1d"), 0).unwrap_err();
        assert!(error.to_string().contains("at least one"), "{error}");
        let raw = RawSuppression {
            rule: Some("x".into()),
            ..RawSuppression::default()
        };
        let error = format!("{:#}", raw.validate(0).unwrap_err());
        assert!(error.contains("reason"), "{error}");
    }

    #[test]
    fn store_changes_are_logged_and_move_the_version() {
        let dir = std::env::temp_dir().join(format!("tw-suppress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.db");
        let _ = std::fs::remove_file(&path);
        let mut store = SuppressionStore::open(&path).unwrap();
        let mut live = LiveSuppressions::open(Some(&path), Vec::new()).unwrap();
        assert!(live.refresh().unwrap().is_empty());
        let c = conditions(Some("r".into()), None, None, None, None, None, 0).unwrap();
        let id = store.add(&c, "known job", "alice").unwrap();
        assert_eq!(live.refresh().unwrap().all.len(), 1);
        store.remove(id, "bob", "job retired").unwrap();
        assert!(live.refresh().unwrap().is_empty());
        assert!(store.remove(id, "bob", "again").is_err());
        let log = store.log().unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!((log[0].1.as_str(), log[0].2.as_str()), ("alice", "added"));
        assert_eq!((log[1].1.as_str(), log[1].2.as_str()), ("bob", "removed"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
