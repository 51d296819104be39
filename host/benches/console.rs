//! The console at 1,000,000 findings (`make bench-console`): fills a database, indexes it
//! for the console (once, as a daemon does on its first read), then times the findings list
//! with the filters a responder uses (text searches of several breadths among them) and the
//! overview for 24 h, 7 d and 30 d. Prints the median of five runs of each against the
//! 300 ms the console aims for; asserts nothing.

use std::time::{Duration, Instant};

use rusqlite::params;
use trailwarden::console::store::{ConsoleDb, FindingFilter};

const FINDINGS: usize = 1_000_000;
const REGIONS: [&str; 5] = [
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "ap-south-1",
    "eu-central-1",
];
const TARGET: Duration = Duration::from_millis(300);

fn main() {
    let findings = std::env::var("FINDINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(FINDINGS);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    drop(trailwarden::audit::AuditStore::open(&path).unwrap());
    let started = Instant::now();
    fill(&path, findings);
    println!(
        "filled {findings} findings in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let db = ConsoleDb::open(&path).unwrap();
    let started = Instant::now();
    let indexed = db.catch_up().unwrap();
    println!(
        "indexed {indexed} findings for the console in {:.1} s (once; then each new finding as it comes)",
        started.elapsed().as_secs_f64()
    );
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("database: {:.0} MB\n", size as f64 / 1e6);
    println!("{:<52} {:>10} {:>8}", "query", "median", "÷ 300ms");
    let filter = |f: fn(&mut FindingFilter)| {
        let mut filter = FindingFilter::default();
        f(&mut filter);
        filter
    };
    let lists: Vec<(&str, FindingFilter)> = vec![
        ("list: newest 50", FindingFilter::default()),
        (
            "list: severity=critical",
            filter(|f| f.severity = Some("critical".into())),
        ),
        ("list: rule", filter(|f| f.rule = Some("rule.7".into()))),
        (
            "list: principal",
            filter(|f| f.principal = Some(principal(42))),
        ),
        (
            "list: account + severity=high",
            filter(|f| {
                f.account = Some(account(3));
                f.severity = Some("high".into());
            }),
        ),
        (
            "list: status=new, one day",
            filter(|f| {
                f.status = Some("new".into());
                f.since = Some("2026-11-03T00:00:00Z".into());
                f.until = Some("2026-11-03T23:59:59Z".into());
            }),
        ),
        (
            "list: sorted by severity",
            filter(|f| f.sort = Some("severity".into())),
        ),
        ("list: page 200", filter(|f| f.page = Some(200))),
        (
            "list: text, no match (user-4242)",
            filter(|f| f.text = Some("user-4242".into())),
        ),
        (
            "list: text, one principal (user-1234, 500)",
            filter(|f| f.text = Some("USER-1234".into())),
        ),
        (
            "list: text, one event id (event-777777)",
            filter(|f| f.text = Some("event-777777".into())),
        ),
        (
            "list: text + severity=critical (user-12)",
            filter(|f| {
                f.text = Some("user-12".into());
                f.severity = Some("critical".into());
            }),
        ),
        (
            "list: text, broad (rule.4: 22% of rows)",
            filter(|f| f.text = Some("rule.4".into())),
        ),
        (
            "list: text, broad, sorted by severity",
            filter(|f| {
                f.text = Some("rule.4".into());
                f.sort = Some("severity".into());
            }),
        ),
        (
            "list: text, broad, sorted by severity, page 51",
            filter(|f| {
                f.text = Some("rule.4".into());
                f.sort = Some("severity".into());
                f.page = Some(51);
            }),
        ),
        (
            "list: text, 2 chars (scans)",
            filter(|f| f.text = Some("r-".into())),
        ),
    ];
    for (name, filter) in &lists {
        report(name, || {
            db.findings(filter).unwrap();
        });
    }
    // The same answers as the console gave before its text index and daily rollup, read
    // the way it read them then, for a ratio measured in the same run.
    let before = rusqlite::Connection::open(&path).unwrap();
    report("before: text scan (user-4242), count + page", || {
        scan_search(&before, "user-4242");
    });
    report("before: overview 7 d breakdowns from hourly", || {
        hourly_breakdowns(&before, "2026-11-01T00", "2026-11-08T00");
    });
    report("overview: last 24 h", || {
        db.overview("2026-11-06T00:00:00Z", "2026-11-07T00:00:00Z")
            .unwrap();
    });
    report("overview: last 7 d", || {
        db.overview("2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z")
            .unwrap();
    });
    report("overview: 30 d (7 with findings)", || {
        db.overview("2026-10-09T00:00:00Z", "2026-11-08T00:00:00Z")
            .unwrap();
    });
    report("finding page (detail, related, actions)", || {
        db.finding(500_000.min(findings as i64)).unwrap();
    });
}

/// The text search as a scan of every finding (the console's before its index).
fn scan_search(conn: &rusqlite::Connection, text: &str) {
    let like = "title LIKE ?1 ESCAPE '\\' OR rule_id LIKE ?1 ESCAPE '\\'
                OR principal LIKE ?1 ESCAPE '\\' OR event_id LIKE ?1 ESCAPE '\\'";
    let pattern = format!("%{text}%");
    let _total: i64 = conn
        .query_row(
            &format!("SELECT COUNT(*) FROM console_findings WHERE {like}"),
            [&pattern],
            |r| r.get(0),
        )
        .unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT finding_id FROM console_findings WHERE {like}
             ORDER BY time DESC, finding_id DESC LIMIT 50"
        ))
        .unwrap();
    let _page: Vec<i64> = stmt
        .query_map([&pattern], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
}

/// The overview's breakdowns from the hourly table (the console's before its daily rollup).
fn hourly_breakdowns(conn: &rusqlite::Connection, from: &str, to: &str) {
    let mut stmt = conn
        .prepare(
            "SELECT value, SUM(n) FROM console_hourly
             WHERE dimension = ?1 AND hour >= ?2 AND hour <= ?3
             GROUP BY value ORDER BY 2 DESC, 1 LIMIT 10",
        )
        .unwrap();
    for dimension in trailwarden::console::store::DIMENSIONS {
        let _top: Vec<(String, i64)> = stmt
            .query_map(params![dimension, from, to], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    }
}

fn report(name: &str, mut run: impl FnMut()) {
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    times.sort();
    let median = times[2];
    println!(
        "{name:<52} {:>8.1}ms {:>8.2}",
        median.as_secs_f64() * 1000.0,
        median.as_secs_f64() / TARGET.as_secs_f64()
    );
}

fn principal(i: usize) -> String {
    format!("arn:aws:iam::1111111111{:02}:user/user-{i}", i % 20)
}

fn account(i: usize) -> String {
    format!("1111111111{:02}", i % 20)
}

/// Findings spread over a week of event time: 50 rules, 2,000 principals, 20 accounts,
/// 5 regions, 5,000 source IPs, severities weighted towards the low end.
fn fill(path: &std::path::Path, n: usize) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO findings (recorded_at, plugin, plugin_version, plugin_sha256, rule_id,
                    severity, title, description, resources, dedup_key, event_id, event_time, context)
                 VALUES (?1, ?2, '1.0.0', 'sha', ?3, ?4, ?5, '', '[]', ?6, ?7, ?8, ?9)",
            )
            .unwrap();
        let start = humantime::parse_rfc3339("2026-11-01T00:00:00Z").unwrap();
        let week = 7 * 86_400;
        for i in 0..n {
            let severity = match i % 20 {
                0 => "critical",
                1..=3 => "high",
                4..=8 => "medium",
                9..=14 => "low",
                _ => "info",
            };
            let rule = format!("rule.{}", i % 50);
            let who = (i * 7919) % 2000;
            let time = start + Duration::from_secs((i as u64 * 604_800 / n as u64) % week);
            let time = humantime::format_rfc3339_seconds(time).to_string();
            let region = REGIONS[i % REGIONS.len()];
            let context = serde_json::json!({
                "account": account(who),
                "region": region,
                "caller_arn": principal(who),
                "source_ip": format!("203.0.{}.{}", (i / 256) % 20, i % 250),
            })
            .to_string();
            insert
                .execute(params![
                    time,
                    format!("plugin-{}", i % 10),
                    rule,
                    severity,
                    format!("{rule} by user-{who}"),
                    format!("user-{who}"),
                    format!("event-{i}"),
                    time,
                    context
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}
