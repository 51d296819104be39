//! The query layer: findings in a period with the facts reports group by, and the activity
//! report built from them and from the operational tables.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OpenFlags};
use serde::Serialize;
use serde_json::Value;

use super::{severity_rank, Counted, Period};
use crate::audit::StoredFinding;
use crate::finding_context::FindingContext;

/// A finding's time in SQL: its event time when that is a time (CloudTrail records can
/// carry placeholders such as `...`), else the time it was recorded.
const FINDING_TIME: &str =
    "(CASE WHEN event_time GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' THEN event_time ELSE recorded_at END)";

/// Rows shown in each "top" table.
pub const TOP: usize = 10;

/// A read connection to an existing audit database.
pub struct ReportDb {
    conn: Connection,
}

impl ReportDb {
    /// Opens the audit database at `path` (it must exist) and creates the indexes reports
    /// use if missing.
    ///
    /// # Errors
    /// No database there, or it cannot be opened.
    pub fn open(path: &Path) -> Result<ReportDb> {
        anyhow::ensure!(
            path.is_file(),
            "no audit database at {} (run `trailwarden replay` or the daemon first, or pass --config)",
            path.display()
        );
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("cannot open audit database {}", path.display()))?;
        trailwarden_store::wait_briefly_when_busy(&mut conn)?;
        let db = ReportDb { conn };
        anyhow::ensure!(
            db.has_table("findings")?,
            "{} is not a trailwarden audit database (no findings table)",
            path.display()
        );
        super::volume::ensure_schema(&db.conn)?;
        if db.has_table("actions")? {
            db.conn.execute_batch(
                "CREATE INDEX IF NOT EXISTS report_actions_by_event ON actions (event_id)",
            )?;
        }
        Ok(db)
    }

    fn has_table(&self, name: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |row| row.get::<_, i64>(0),
        )? > 0)
    }

    /// Findings whose event time (else time recorded) falls in `period`, oldest first, with
    /// their facts; only those of `account` when given.
    ///
    /// # Errors
    /// The read fails.
    pub fn findings(&self, period: &Period, account: Option<&str>) -> Result<Vec<FindingFacts>> {
        let found = self.select_findings(
            &format!("{FINDING_TIME} >= ?1 AND {FINDING_TIME} <= ?2 ORDER BY {FINDING_TIME}, id"),
            params![period.since, period.until],
        )?;
        Ok(found
            .into_iter()
            .filter(|facts| account.is_none() || facts.account.as_deref() == account)
            .collect())
    }

    /// Findings with row ids from `first` to `last` (both included), in id order: the
    /// order they were recorded in, which is what the daemon's sinks deliver by.
    ///
    /// # Errors
    /// The read fails.
    pub fn findings_by_id(&self, first: i64, last: i64) -> Result<Vec<FindingFacts>> {
        self.select_findings("id >= ?1 AND id <= ?2 ORDER BY id", params![first, last])
    }

    /// The ids of at most `limit` findings recorded after row `after`, in id order.
    ///
    /// # Errors
    /// The read fails.
    pub fn finding_ids_after(&self, after: i64, limit: usize) -> Result<Vec<i64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM findings WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let ids = stmt
            .query_map(params![after, limit as i64], |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        Ok(ids)
    }

    /// The highest finding row id (0 when there is none).
    ///
    /// # Errors
    /// The read fails.
    pub fn last_finding_id(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM findings", [], |row| {
                row.get(0)
            })?)
    }

    /// The connection, for the stores that keep their own tables beside the findings.
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// For a store keeping its tables in this database (sinks), to migrate them.
    pub(crate) fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn select_findings(
        &self,
        condition: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<FindingFacts>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, plugin, plugin_version, plugin_sha256, rule_id, severity, title,
                    description, resources, dedup_key, event_id, event_time, context, recorded_at,
                    {FINDING_TIME}
             FROM findings
             WHERE {condition}"
        ))?;
        let rows = stmt.query_map(params, |row| {
            let resources: String = row.get(8)?;
            let context: String = row.get(12)?;
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(14)?,
                StoredFinding {
                    plugin: row.get(1)?,
                    plugin_version: row.get(2)?,
                    plugin_sha256: row.get(3)?,
                    rule_id: row.get(4)?,
                    severity: row.get(5)?,
                    title: row.get(6)?,
                    description: row.get(7)?,
                    resources: serde_json::from_str(&resources).unwrap_or_default(),
                    dedup_key: row.get(9)?,
                    event_id: row.get(10)?,
                    event_time: row.get(11)?,
                    context: FindingContext::from_stored(context),
                    recorded_at: row.get(13)?,
                    // Reports read any database, older ones without the column too.
                    suppressed_by: None,
                },
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, time, finding) = row?;
            let mut facts = FindingFacts::of(id, finding);
            facts.time = time;
            out.push(facts);
        }
        Ok(out)
    }

    /// Actions decided in the period or caused by an event of a finding in the period.
    ///
    /// # Errors
    /// The read fails.
    pub fn actions(&self, period: &Period, account: Option<&str>) -> Result<Vec<ActionFact>> {
        if !self.has_table("actions")? {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, event_id, plugin, capability, account, region, status FROM actions
             WHERE ((created_at >= ?1 AND created_at <= ?2)
                OR event_id IN (SELECT event_id FROM findings
                                WHERE {FINDING_TIME} >= ?1 AND {FINDING_TIME} <= ?2))
               AND (?3 IS NULL OR account = ?3)
             ORDER BY created_at"
        ))?;
        let rows = stmt.query_map(params![period.since, period.until, account], |row| {
            Ok(ActionFact {
                id: row.get(0)?,
                event_id: row.get(1)?,
                plugin: row.get(2)?,
                capability: row.get(3)?,
                account: row.get(4)?,
                region: row.get(5)?,
                status: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Events that arrived per (account, region) on the days of the period.
    ///
    /// # Errors
    /// The read fails.
    pub fn event_volume(&self, period: &Period, account: Option<&str>) -> Result<Vec<Volume>> {
        let mut stmt = self.conn.prepare(
            "SELECT account, region, source, SUM(events) FROM event_volume
             WHERE day >= ?1 AND day <= ?2 AND (?3 IS NULL OR account = ?3)
             GROUP BY account, region, source ORDER BY account, region, source",
        )?;
        let rows = stmt.query_map(
            params![period.first_day(), period.last_day(), account],
            |row| {
                Ok(Volume {
                    account: row.get(0)?,
                    region: row.get(1)?,
                    source: row.get(2)?,
                    events: row.get::<_, i64>(3)? as u64,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count_grouped(&self, sql: &str, period: &Period) -> Result<Vec<(String, String, u64)>> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map(params![period.since, period.until], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Plugin failures recorded in the period, by plugin and kind.
    ///
    /// # Errors
    /// The read fails.
    pub fn plugin_failures(&self, period: &Period) -> Result<Vec<FailureCount>> {
        Ok(self
            .count_grouped(
                "SELECT plugin, kind, COUNT(*) FROM plugin_failures
                 WHERE recorded_at >= ?1 AND recorded_at <= ?2
                 GROUP BY plugin, kind ORDER BY COUNT(*) DESC, plugin, kind",
                period,
            )?
            .into_iter()
            .map(|(plugin, kind, count)| FailureCount {
                plugin,
                kind,
                count,
            })
            .collect())
    }

    /// Quarantines and rollbacks recorded in the period, oldest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn quarantines(&self, period: &Period) -> Result<Vec<LifecycleFact>> {
        if !self.has_table("plugin_lifecycle")? {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare(
            "SELECT at, plugin, sha256, event, detail FROM plugin_lifecycle
             WHERE event IN ('quarantined', 'rolled_back', 'released')
               AND at >= ?1 AND at <= ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![period.since, period.until], |row| {
            Ok(LifecycleFact {
                at: row.get(0)?,
                plugin: row.get(1)?,
                sha256: row.get(2)?,
                event: row.get(3)?,
                detail: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Dead letters recorded in the period, by reason.
    ///
    /// # Errors
    /// The read fails.
    pub fn dead_letters(&self, period: &Period) -> Result<Vec<Counted>> {
        Ok(self
            .count_grouped(
                "SELECT reason, '', COUNT(*) FROM rejected_inputs
                 WHERE recorded_at >= ?1 AND recorded_at <= ?2
                 GROUP BY reason ORDER BY COUNT(*) DESC, reason",
                period,
            )?
            .into_iter()
            .map(|(name, _, count)| Counted { name, count })
            .collect())
    }
}

/// A stored finding with the facts reports group by, read from its context (plugins name
/// them differently) or, failing that, from the ARNs of its resources.
#[derive(Debug, Clone, Serialize)]
pub struct FindingFacts {
    /// Row id in the audit database.
    pub id: i64,
    /// Event time, else the time recorded.
    pub time: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// The caller's ARN (or `root` of the account for root-usage rules).
    pub principal: Option<String>,
    /// The caller is an AWS service (left out of "top principals").
    pub principal_is_service: bool,
    pub source_ip: Option<String>,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    pub user_agent: Option<String>,
    pub finding: StoredFinding,
}

fn text<'a>(context: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|key| match context.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        Some(Value::Object(o)) => o.get("arn").and_then(Value::as_str),
        _ => None,
    })
}

/// Field `index` (3 = region, 4 = account) of the first ARN that has it.
fn arn_field(resources: &[String], index: usize) -> Option<String> {
    resources.iter().find_map(|arn| {
        let field = arn.strip_prefix("arn:")?.split(':').nth(index - 1)?;
        (!field.is_empty()).then(|| field.to_string())
    })
}

impl FindingFacts {
    /// Extracts the facts of one finding.
    pub fn of(id: i64, finding: StoredFinding) -> FindingFacts {
        let context = &finding.context;
        let account = text(context, &["account", "account_id", "recipient_account_id"])
            .map(str::to_string)
            .or_else(|| arn_field(&finding.resources, 4));
        let region = text(context, &["region", "aws_region"])
            .map(str::to_string)
            .or_else(|| arn_field(&finding.resources, 3));
        let mut principal = text(
            context,
            &[
                "caller_arn",
                "principal_arn",
                "actor",
                "user_arn",
                "principal",
            ],
        )
        .map(str::to_string);
        if principal.is_none() && finding.rule_id.starts_with("aws.root.") {
            principal = account.as_ref().map(|a| format!("arn:aws:iam::{a}:root"));
        }
        let principal_type = text(context, &["principal_type", "caller_type"]).unwrap_or("");
        let principal_is_service = principal_type == "AWSService"
            || principal
                .as_deref()
                .is_some_and(|p| p.ends_with(".amazonaws.com"));
        FindingFacts {
            id,
            time: finding
                .event_time
                .clone()
                .unwrap_or_else(|| finding.recorded_at.clone()),
            account,
            region,
            principal,
            principal_is_service,
            source_ip: text(context, &["source_ip", "source_ip_address"]).map(str::to_string),
            event_name: text(context, &["event_name"]).map(str::to_string),
            event_source: text(context, &["event_source"]).map(str::to_string),
            user_agent: text(context, &["user_agent"]).map(str::to_string),
            finding,
        }
    }
}

/// An action as reports need it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionFact {
    pub id: String,
    pub event_id: String,
    pub plugin: String,
    pub capability: String,
    pub account: String,
    pub region: String,
    pub status: String,
}

/// Events that arrived from one account, region and source kind.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Volume {
    pub account: String,
    pub region: String,
    pub source: String,
    pub events: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FailureCount {
    pub plugin: String,
    pub kind: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LifecycleFact {
    pub at: String,
    pub plugin: String,
    pub sha256: String,
    pub event: String,
    pub detail: String,
}

/// Findings of one time bucket (a day, or a month for long periods) by severity.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Bucket {
    pub label: String,
    /// (severity, findings), most severe first.
    pub severities: Vec<Counted>,
    pub total: u64,
}

/// What happened to the actions of the period.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ActionSummary {
    /// Succeeded.
    pub taken: u64,
    /// Waiting for approval, for an executor, or running.
    pub pending: u64,
    /// A person said no.
    pub rejected: u64,
    /// Succeeded, then undone.
    pub undone: u64,
    /// Refused by grants, scope, budget or mode.
    pub denied: u64,
    /// Recorded only (dry-run mode).
    pub dry_run: u64,
    pub failed: u64,
    /// Every status with its count.
    pub by_status: Vec<Counted>,
}

/// `report activity`.
#[derive(Debug, Clone, Serialize)]
pub struct ActivityReport {
    pub period: Period,
    pub account: Option<String>,
    pub generated_at: String,
    pub findings_total: u64,
    pub by_severity: Vec<Counted>,
    pub over_time: Vec<Bucket>,
    pub top_rules: Vec<Counted>,
    /// AWS service principals left out.
    pub top_principals: Vec<Counted>,
    pub accounts: Vec<Counted>,
    pub regions: Vec<Counted>,
    pub source_ips: Vec<Counted>,
    pub actions: ActionSummary,
    pub plugin_failures: Vec<FailureCount>,
    pub quarantines: Vec<LifecycleFact>,
    pub dead_letters: Vec<Counted>,
    /// Events received in the period by source kind (file, stdin, http, sqs, s3).
    pub ingest: Vec<Counted>,
    pub events_total: u64,
}

/// Counts of `names`, most frequent first (ties by name), at most `limit`.
pub fn top<'a>(names: impl Iterator<Item = &'a str>, limit: usize) -> Vec<Counted> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for name in names {
        *counts.entry(name).or_default() += 1;
    }
    let mut counted: Vec<Counted> = counts
        .into_iter()
        .map(|(name, count)| Counted {
            name: name.to_string(),
            count,
        })
        .collect();
    counted.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    counted.truncate(limit);
    counted
}

fn by_severity<'a>(severities: impl Iterator<Item = &'a str>) -> Vec<Counted> {
    let mut counted = top(severities, usize::MAX);
    counted.sort_by(|a, b| {
        severity_rank(&a.name)
            .cmp(&severity_rank(&b.name))
            .then_with(|| a.name.cmp(&b.name))
    });
    counted
}

/// Findings per time bucket, every bucket from the first finding to the last (empty ones
/// included, so the chart's axis is linear in time): days for up to 62 days, months up to
/// 20 years, years beyond.
fn over_time(findings: &[FindingFacts]) -> Vec<Bucket> {
    let (first, last) = match (findings.first(), findings.last()) {
        (Some(first), Some(last)) => (first.time.as_str(), last.time.as_str()),
        _ => return Vec::new(),
    };
    let span_days = days_between(first, last).unwrap_or(0);
    let width = match span_days {
        0..=62 => 10,
        63..=7305 => 7,
        _ => 4,
    };
    let mut buckets: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for label in labels_between(first, last, width) {
        buckets.insert(label, Vec::new());
    }
    for f in findings {
        let label = f.time.get(..width).unwrap_or(&f.time);
        buckets
            .entry(label.to_string())
            .or_default()
            .push(f.finding.severity.as_str());
    }
    buckets
        .into_iter()
        .map(|(label, severities)| Bucket {
            label,
            total: severities.len() as u64,
            severities: by_severity(severities.into_iter()),
        })
        .collect()
}

/// Every label (`YYYY-MM-DD`, `YYYY-MM` or `YYYY`, by `width`) from `first` to `last`;
/// empty if either is not a time.
fn labels_between(first: &str, last: &str, width: usize) -> Vec<String> {
    let parse = |t: &str| -> Option<(i32, u32, u32)> {
        Some((
            t.get(..4)?.parse().ok()?,
            t.get(5..7)?.parse().ok()?,
            t.get(8..10)?.parse().ok()?,
        ))
    };
    let (Some(start), Some(end)) = (parse(first), parse(last)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    match width {
        10 => {
            let (Ok(mut at), Ok(end)) = (
                humantime::parse_rfc3339(&format!("{}T00:00:00Z", &first[..10])),
                humantime::parse_rfc3339(&format!("{}T00:00:00Z", &last[..10])),
            ) else {
                return out;
            };
            while at <= end {
                out.push(humantime::format_rfc3339_seconds(at).to_string()[..10].to_string());
                at += std::time::Duration::from_secs(86_400);
            }
        }
        7 => {
            let (mut year, mut month) = (start.0, start.1);
            while (year, month) <= (end.0, end.1) {
                out.push(format!("{year:04}-{month:02}"));
                (year, month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
            }
        }
        _ => out.extend((start.0..=end.0).map(|year| format!("{year:04}"))),
    }
    out
}

fn days_between(a: &str, b: &str) -> Option<u64> {
    let parse = |t: &str| humantime::parse_rfc3339_weak(t.get(..19)?).ok();
    let (a, b) = (parse(a)?, parse(b)?);
    Some(b.duration_since(a).ok()?.as_secs() / 86_400)
}

/// Sums actions by status into the summary's groups.
pub fn summarise_actions(actions: &[ActionFact]) -> ActionSummary {
    let mut summary = ActionSummary {
        by_status: top(actions.iter().map(|a| a.status.as_str()), usize::MAX),
        ..ActionSummary::default()
    };
    for action in actions {
        let slot = match action.status.as_str() {
            "succeeded" => &mut summary.taken,
            "pending_approval" | "accepted" | "running" => &mut summary.pending,
            "rejected" => &mut summary.rejected,
            "undone" => &mut summary.undone,
            "denied" => &mut summary.denied,
            "dry_run" => &mut summary.dry_run,
            "failed" => &mut summary.failed,
            _ => continue,
        };
        *slot += 1;
    }
    summary
}

/// Builds `report activity`.
///
/// # Errors
/// A read fails.
pub fn activity(db: &ReportDb, period: &Period, account: Option<&str>) -> Result<ActivityReport> {
    let findings = db.findings(period, account)?;
    let actions = db.actions(period, account)?;
    let volume = db.event_volume(period, account)?;
    let mut ingest: BTreeMap<&str, u64> = BTreeMap::new();
    for v in &volume {
        *ingest.entry(v.source.as_str()).or_default() += v.events;
    }
    let unknown = "unknown";
    Ok(ActivityReport {
        period: period.clone(),
        account: account.map(str::to_string),
        generated_at: crate::audit::now_rfc3339(),
        findings_total: findings.len() as u64,
        by_severity: by_severity(findings.iter().map(|f| f.finding.severity.as_str())),
        over_time: over_time(&findings),
        top_rules: top(findings.iter().map(|f| f.finding.rule_id.as_str()), TOP),
        top_principals: top(
            findings
                .iter()
                .filter(|f| !f.principal_is_service)
                .filter_map(|f| f.principal.as_deref()),
            TOP,
        ),
        accounts: top(
            findings
                .iter()
                .map(|f| f.account.as_deref().unwrap_or(unknown)),
            usize::MAX,
        ),
        regions: top(
            findings
                .iter()
                .map(|f| f.region.as_deref().unwrap_or(unknown)),
            usize::MAX,
        ),
        source_ips: top(findings.iter().filter_map(|f| f.source_ip.as_deref()), TOP),
        actions: summarise_actions(&actions),
        plugin_failures: db.plugin_failures(period)?,
        quarantines: db.quarantines(period)?,
        dead_letters: db.dead_letters(period)?,
        events_total: volume.iter().map(|v| v.events).sum(),
        ingest: ingest
            .into_iter()
            .map(|(name, count)| Counted {
                name: name.to_string(),
                count,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, context: Value, resources: Vec<&str>) -> StoredFinding {
        StoredFinding {
            plugin: "p".into(),
            plugin_version: "1".into(),
            plugin_sha256: "s".into(),
            rule_id: rule.into(),
            severity: "high".into(),
            title: "t".into(),
            description: "d".into(),
            resources: resources.into_iter().map(str::to_string).collect(),
            dedup_key: "k".into(),
            event_id: "e".into(),
            event_time: Some("2024-01-02T03:04:05Z".into()),
            context: context.into(),
            recorded_at: "2026-01-01T00:00:00Z".into(),
            suppressed_by: None,
        }
    }

    #[test]
    fn facts_come_from_the_context_else_the_resource_arns() {
        let facts = FindingFacts::of(
            1,
            finding(
                "r",
                serde_json::json!({"account": "111122223333", "region": "eu-west-1",
                    "principal_arn": "arn:aws:iam::111122223333:user/alice",
                    "source_ip": "203.0.113.9"}),
                vec![],
            ),
        );
        assert_eq!(facts.account.as_deref(), Some("111122223333"));
        assert_eq!(facts.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            facts.principal.as_deref(),
            Some("arn:aws:iam::111122223333:user/alice")
        );
        assert!(!facts.principal_is_service);
        let facts = FindingFacts::of(
            2,
            finding(
                "aws.root.usage",
                serde_json::json!({"principal_type": "Root"}),
                vec!["arn:aws:s3:us-east-2:444455556666:bucket/x"],
            ),
        );
        assert_eq!(facts.account.as_deref(), Some("444455556666"));
        assert_eq!(facts.region.as_deref(), Some("us-east-2"));
        assert_eq!(
            facts.principal.as_deref(),
            Some("arn:aws:iam::444455556666:root")
        );
        let service = FindingFacts::of(
            3,
            finding(
                "r",
                serde_json::json!({"caller_arn": "config.amazonaws.com", "caller_type": "AWSService"}),
                vec![],
            ),
        );
        assert!(service.principal_is_service);
    }

    #[test]
    fn time_buckets_include_the_empty_ones_between() {
        assert_eq!(
            labels_between("2024-01-30T10:00:00Z", "2024-02-02T00:00:00Z", 10),
            ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]
        );
        assert_eq!(
            labels_between("2023-11-05T00:00:00Z", "2024-02-01T00:00:00Z", 7),
            ["2023-11", "2023-12", "2024-01", "2024-02"]
        );
        assert_eq!(
            labels_between("...", "2024-02-01T00:00:00Z", 7),
            Vec::<String>::new()
        );
    }

    #[test]
    fn top_counts_most_frequent_first_then_by_name() {
        let counted = top(["b", "a", "b", "c", "a", "b"].into_iter(), 2);
        assert_eq!(
            counted,
            vec![
                Counted {
                    name: "b".into(),
                    count: 3
                },
                Counted {
                    name: "a".into(),
                    count: 2
                }
            ]
        );
    }
}
