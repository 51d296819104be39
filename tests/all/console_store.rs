//! The console's store on its own (real SQLite): the indexed text search answers what a
//! scan of every finding answers, and the overview's daily rollup counts what the findings
//! hold, also for a database indexed before the search index and the rollup existed; a
//! finding's answer carries its event's record as the pipeline kept it.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{params, Connection};
use serde_json::{json, Value};
use trailwarden::console::store::{ConsoleDb, FindingFilter};

/// (title, rule, principal ARN, event id): punctuation, ARNs, IPs, mixed case, LIKE's and
/// FTS5's special characters, non-ASCII text.
const FINDINGS: [(&str, &str, &str, &str); 16] = [
    (
        "Root user signed in from 203.0.113.7",
        "aws.root.console-login",
        "arn:aws:iam::111122223333:root",
        "0b7f9a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b",
    ),
    (
        "Access key created for user/Bob by Mallory",
        "iam.access-key-other-user",
        "arn:aws:iam::111122223333:user/Mallory",
        "key-event-1",
    ),
    (
        "50% of buckets made_public (s3:PutBucketPolicy)",
        "s3.public_bucket",
        "arn:aws:sts::444455556666:assumed-role/Admin/session_1",
        "evt_50%",
    ),
    (
        "Trail \"main\" stopped in us-east-1",
        "cloudtrail.stop-logging",
        "arn:aws:iam::111122223333:user/ops.bot",
        "trail-\"main\"",
    ),
    (
        "Path C:\\temp\\x seen; ' OR 1=1 --",
        "sigma.odd-input",
        "arn:aws:iam::111122223333:user/o'brien",
        "odd-1",
    ),
    (
        "ÉVÉNEMENT signalé par Zoë",
        "sigma.unicode",
        "arn:aws:iam::111122223333:user/zoë",
        "événement-1",
    ),
    (
        "Kelvin sign \u{212A} beside k",
        "sigma.unicode",
        "arn:aws:iam::111122223333:user/kelvin",
        "unicode-2",
    ),
    (
        "GuardDuty finding from 198.51.100.23 (NEAR(a b) AND c*)",
        "guardduty.forward",
        "arn:aws:iam::222233334444:user/analyst",
        "gd-1",
    ),
    (
        "Console sign-in without MFA",
        "aws.console.no-mfa",
        "arn:aws:iam::111122223333:user/Bob",
        "signin-1",
    ),
    (
        "Console sign-in without MFA",
        "aws.console.no-mfa",
        "arn:aws:iam::111122223333:user/bob.smith",
        "signin-2",
    ),
    (
        "Config recorder stopped",
        "config.stop-recorder",
        "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForConfig/config",
        "cfg-1",
    ),
    (
        "Security group opened to 0.0.0.0/0 on port 22",
        "ec2.open-ssh",
        "arn:aws:iam::111122223333:user/Mallory",
        "sg-1",
    ),
    (
        "Security group opened to ::/0 on port 3389",
        "ec2.open-rdp",
        "arn:aws:iam::111122223333:user/mallory",
        "sg-2",
    ),
    (
        "tab\tand  double  space",
        "sigma.whitespace",
        "arn:aws:iam::111122223333:user/ws",
        "ws-1",
    ),
    (
        "KMS key scheduled for deletion",
        "kms.schedule-deletion",
        "arn:aws:iam::111122223333:user/Mallory",
        "kms-1",
    ),
    (
        "IAM policy attached: arn:aws:iam::aws:policy/AdministratorAccess",
        "iam.admin-policy",
        "arn:aws:iam::111122223333:user/ops.bot",
        "pol-1",
    ),
];

/// Texts searched: matching one, some, all or no findings; with case, punctuation and
/// characters that mean something to LIKE or to FTS5's query syntax.
const SEARCHES: [&str; 44] = [
    "root",
    "ROOT USER",
    "203.0.113.7",
    "113.7",
    "198.51.100",
    "0.0.0.0/0",
    "::/0",
    "arn:aws:iam::111122223333",
    "arn:aws:iam::111122223333:user/bob",
    "user/Bob",
    "user/bob",
    "mallory",
    "MALLORY",
    "assumed-role/",
    "50%",
    "%",
    "_",
    "made_public",
    "s3:",
    "\"main\"",
    "\"",
    "\\temp",
    "C:\\",
    "' OR 1=1 --",
    "o'brien",
    "NEAR(a b)",
    "AND c*",
    "*",
    "événement",
    "ÉVÉNEMENT",
    "évé",
    "zoë",
    "ZOË",
    "kelvin",
    "k",
    "\u{212A}",
    "sign-in",
    "without mfa",
    "tab\tand",
    "double  space",
    "ab",
    "  console  ",
    "no finding holds this",
    "aws.",
];

fn fill(path: &Path) {
    drop(trailwarden::audit::AuditStore::open(path).unwrap());
    let conn = Connection::open(path).unwrap();
    let severities = ["critical", "high", "medium", "low", "info"];
    for (i, (title, rule, principal, event_id)) in FINDINGS.iter().enumerate() {
        // Four days of event time, a finding every six hours.
        let time = format!("2026-11-{:02}T{:02}:15:00Z", 10 + i / 4, (i % 4) * 6);
        let service = principal.contains("AWSServiceRole");
        let context = json!({
            "account": principal.split(':').nth(4).unwrap(),
            "region": if i % 2 == 0 { "us-east-1" } else { "eu-west-1" },
            "caller_arn": principal,
            "principal_type": if service { "AWSService" } else { "IAMUser" },
            "source_ip": format!("203.0.113.{}", i % 3),
        });
        conn.execute(
            "INSERT INTO findings (recorded_at, plugin, plugin_version, plugin_sha256, rule_id,
                severity, title, description, resources, dedup_key, event_id, event_time, context)
             VALUES (?1, 'plugin', '1.0.0', 'sha', ?2, ?3, ?4, '', '[]', ?5, ?6, ?1, ?7)",
            params![
                time,
                rule,
                severities[i % 5],
                title,
                format!("dedup-{i}"),
                event_id,
                context.to_string()
            ],
        )
        .unwrap();
    }
}

/// Finding ids matching `text` as the console found them before it had a text index: a
/// LIKE over title, rule, principal and event id of every row, newest first.
fn scanned(path: &Path, text: &str) -> Vec<i64> {
    let conn = Connection::open(path).unwrap();
    let escaped = text
        .trim()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let mut stmt = conn
        .prepare(
            "SELECT finding_id FROM console_findings
             WHERE title LIKE ?1 ESCAPE '\\' OR rule_id LIKE ?1 ESCAPE '\\'
                OR principal LIKE ?1 ESCAPE '\\' OR event_id LIKE ?1 ESCAPE '\\'
             ORDER BY time DESC, finding_id DESC",
        )
        .unwrap();
    let ids = stmt
        .query_map([format!("%{escaped}%")], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    ids
}

fn searched(db: &ConsoleDb, text: &str) -> (u64, Vec<i64>) {
    let page = db
        .findings(&FindingFilter {
            text: Some(text.to_string()),
            per_page: Some(200),
            ..FindingFilter::default()
        })
        .unwrap();
    (page.total, page.findings.iter().map(|f| f.id).collect())
}

/// Every search answers what the scan answers (the total, and the first page of 200);
/// returns how many searches found something.
fn assert_searches_match_the_scan(path: &Path, db: &ConsoleDb, searches: &[&str]) -> usize {
    let mut found = 0;
    for text in searches {
        let expected = scanned(path, text);
        let (total, ids) = searched(db, text);
        assert_eq!(total, expected.len() as u64, "total of search {text:?}");
        assert_eq!(ids, expected[..expected.len().min(200)], "search {text:?}");
        found += usize::from(!ids.is_empty());
    }
    found
}

#[test]
fn the_indexed_text_search_finds_exactly_what_a_scan_finds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    fill(&path);
    let db = ConsoleDb::open(&path).unwrap();
    assert_eq!(db.catch_up().unwrap(), FINDINGS.len() as u64);
    let found = assert_searches_match_the_scan(&path, &db, &SEARCHES);
    // The comparison means something: most searches find findings, some several.
    assert!(found >= 36, "only {found} searches found anything");
    assert_eq!(searched(&db, "mallory").1.len(), 4);
    assert_eq!(searched(&db, "\"main\"").1.len(), 1);
    assert_eq!(searched(&db, "50%").1.len(), 1);
    // ASCII case folds, as LIKE does; other letters must match as written.
    assert_eq!(searched(&db, "ÉVÉNEMENT").1.len(), 1);
    assert_eq!(searched(&db, "événement").1.len(), 1);
    assert!(searched(&db, "no finding holds this").1.is_empty());

    // Text over 256 bytes is refused, not searched.
    let long = "a".repeat(257);
    let refused = db.findings(&FindingFilter {
        text: Some(long),
        ..FindingFilter::default()
    });
    assert!(refused.is_err());

    // Findings recorded later are searchable at the next read.
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO findings (recorded_at, plugin, plugin_version, plugin_sha256, rule_id,
            severity, title, description, resources, dedup_key, event_id, event_time, context)
         VALUES ('2026-11-14T00:00:00Z', 'plugin', '1.0.0', 'sha', 'late.rule', 'high',
                 'Late MALLORY finding', '', '[]', 'late', 'late-1', '2026-11-14T00:00:00Z', '{}')",
        [],
    )
    .unwrap();
    assert_eq!(searched(&db, "mallory").1.len(), 5);
    assert_searches_match_the_scan(&path, &db, &SEARCHES);
}

#[test]
fn a_database_indexed_before_the_text_index_and_daily_rollup_gets_both_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    fill(&path);
    let db = ConsoleDb::open(&path).unwrap();
    db.catch_up().unwrap();
    let week = db
        .overview("2026-11-09T12:00:00Z", "2026-11-14T12:00:00Z")
        .unwrap();
    drop(db);
    // As a console of the previous version left it: its tables, not the two new ones, and
    // no version recorded (those releases had no per-store versions).
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE console_text; DROP TABLE console_daily;
         DELETE FROM schema_versions WHERE store = 'console';",
    )
    .unwrap();
    drop(conn);
    let db = ConsoleDb::open(&path).unwrap();
    assert_eq!(db.catch_up().unwrap(), 0, "nothing is indexed twice");
    assert!(assert_searches_match_the_scan(&path, &db, &SEARCHES) >= 36);
    // The index was filled from the findings already indexed.
    let conn = Connection::open(&path).unwrap();
    let indexed: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM console_text WHERE console_text MATCH '\"mallory\"'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexed, 4);
    let again = db
        .overview("2026-11-09T12:00:00Z", "2026-11-14T12:00:00Z")
        .unwrap();
    assert_eq!(again, week);
}

/// Counts per value of `column` over whole days, from the findings themselves.
fn counted(path: &Path, column: &str, since: &str, until: &str) -> BTreeMap<String, i64> {
    let conn = Connection::open(path).unwrap();
    let service = if column == "principal" {
        "AND principal_is_service = 0"
    } else {
        ""
    };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {column}, COUNT(*) FROM console_findings
             WHERE time >= ?1 AND time <= ?2 AND {column} IS NOT NULL {service}
             GROUP BY 1"
        ))
        .unwrap();
    let counts = stmt
        .query_map([since, until], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    counts
}

#[test]
fn an_overview_over_48_hours_counts_whole_days_from_the_daily_rollup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    fill(&path);
    let db = ConsoleDb::open(&path).unwrap();
    // Three days and a half: counted from the start of the first day to the end of the last.
    let overview = db
        .overview("2026-11-10T13:00:00Z", "2026-11-13T01:00:00Z")
        .unwrap();
    assert_eq!(overview["bucket"], "day");
    assert_eq!(overview["since"], "2026-11-10T00:00:00Z");
    assert_eq!(overview["until"], "2026-11-13T23:59:59Z");
    let (since, until) = ("2026-11-10T00:00:00Z", "2026-11-13T23:59:59Z");
    let days: Vec<&str> = overview["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["bucket"].as_str().unwrap())
        .collect();
    assert_eq!(
        days,
        ["2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13"]
    );
    let per_day: i64 = overview["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["counts"].as_object().unwrap().values())
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(per_day, FINDINGS.len() as i64);
    assert_eq!(overview["total"], json!(FINDINGS.len()));
    for (dimension, column) in [
        ("rule", "rule_id"),
        ("principal", "principal"),
        ("account", "account"),
        ("region", "region"),
        ("source_ip", "source_ip"),
    ] {
        let expected = counted(&path, column, since, until);
        let shown: BTreeMap<String, i64> = overview["breakdowns"][dimension]
            .as_array()
            .unwrap()
            .iter()
            .map(|v: &Value| {
                (
                    v["value"].as_str().unwrap().to_string(),
                    v["count"].as_i64().unwrap(),
                )
            })
            .collect();
        // At most ten values are shown, the largest counts.
        let mut largest: Vec<i64> = expected.values().copied().collect();
        largest.sort_unstable_by(|a, b| b.cmp(a));
        largest.truncate(10);
        let mut shown_counts: Vec<i64> = shown.values().copied().collect();
        shown_counts.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(shown_counts, largest, "{dimension}");
        for (value, n) in &shown {
            assert_eq!(expected.get(value), Some(n), "{dimension} {value}");
        }
    }
    // The AWS service role is left out of the principals.
    assert!(!overview["breakdowns"]["principal"]
        .to_string()
        .contains("AWSServiceRole"));
    // One day only: by the hour, from the hourly table, as before.
    let day = db
        .overview("2026-11-11T00:00:00Z", "2026-11-11T23:00:00Z")
        .unwrap();
    assert_eq!(day["bucket"], "hour");
    assert_eq!(day["total"], json!(4));
}

#[test]
fn a_search_for_common_text_reads_the_index_as_a_phrase_and_still_matches_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    fill(&path);
    // Enough findings that every trigram of "filler finding" is common (in 5,000 or more).
    let mut conn = Connection::open(&path).unwrap();
    let tx = conn.transaction().unwrap();
    for i in 0..6000 {
        tx.execute(
            "INSERT INTO findings (recorded_at, plugin, plugin_version, plugin_sha256, rule_id,
                severity, title, description, resources, dedup_key, event_id, event_time, context)
             VALUES ('2026-11-15T00:00:00Z', 'plugin', '1.0.0', 'sha', 'filler.rule', 'low',
                     ?1, '', '[]', 'filler', ?2, '2026-11-15T00:00:00Z', '{}')",
            params![
                format!("Filler finding {i} by user-{}", i % 7),
                format!("filler-{i}")
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let db = ConsoleDb::open(&path).unwrap();
    assert_eq!(db.catch_up().unwrap(), FINDINGS.len() as u64 + 6000);
    let searches = [
        "filler finding",
        "FILLER FINDING 12",
        "finding",
        "by user-3",
        "iller",
        "filler-599",
        "mallory",
        "sign-in",
    ];
    assert_eq!(
        assert_searches_match_the_scan(&path, &db, &searches),
        searches.len()
    );
    assert_eq!(searched(&db, "filler finding").0, 6000);
    // Past the last page: no rows, and the total still counted.
    let past = db
        .findings(&FindingFilter {
            text: Some("filler finding".into()),
            page: Some(1000),
            ..FindingFilter::default()
        })
        .unwrap();
    assert!(past.findings.is_empty());
    assert_eq!(past.total, 6000);
}

/// Finding ids matching `text`, by a scan, in the order of `order_by`.
fn scanned_in(path: &Path, text: &str, order_by: &str) -> Vec<i64> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT finding_id FROM console_findings
             WHERE title LIKE ?1 OR rule_id LIKE ?1 OR principal LIKE ?1 OR event_id LIKE ?1
             ORDER BY {order_by}"
        ))
        .unwrap();
    let ids = stmt
        .query_map([format!("%{text}%")], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    ids
}

#[test]
fn a_broad_search_counts_to_ten_thousand_and_shows_the_rows_a_scan_shows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    fill(&path);
    // 12,000 matches of "filler finding", their event times out of id order and often
    // equal (the id breaks ties), their severities mixed.
    let mut conn = Connection::open(&path).unwrap();
    let tx = conn.transaction().unwrap();
    for i in 0..12_000u64 {
        let second = (i * 7919) % 5000;
        let time = format!(
            "2026-11-15T{:02}:{:02}:{:02}Z",
            second / 3600,
            second / 60 % 60,
            second % 60
        );
        tx.execute(
            "INSERT INTO findings (recorded_at, plugin, plugin_version, plugin_sha256, rule_id,
                severity, title, description, resources, dedup_key, event_id, event_time, context)
             VALUES (?1, 'plugin', '1.0.0', 'sha', 'filler.rule', ?2, ?3, '', '[]', 'filler',
                     ?4, ?1, '{}')",
            params![
                time,
                ["critical", "high", "medium", "low", "info"][(i % 5) as usize],
                format!("Filler finding {i}"),
                format!("filler-{i}")
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let db = ConsoleDb::open(&path).unwrap();
    db.catch_up().unwrap();
    let newest_first = "time DESC, finding_id DESC";
    let list = |text: &str, sort: Option<&str>, page: usize| {
        db.findings(&FindingFilter {
            text: Some(text.into()),
            sort: sort.map(str::to_string),
            page: Some(page),
            per_page: Some(200),
            ..FindingFilter::default()
        })
        .unwrap()
    };
    let ids = |page: &trailwarden::console::store::FindingPage| -> Vec<i64> {
        page.findings.iter().map(|f| f.id).collect()
    };

    // Through the index (every trigram common) and without it (two characters): the count
    // stops at the cap and says so; each page holds what the scan's holds.
    for text in ["filler finding", "FINDING", "fi"] {
        let expected = scanned_in(&path, text, newest_first);
        assert!(expected.len() >= 12_000, "{text}: {}", expected.len());
        for page in [1, 3, 51] {
            let got = list(text, None, page);
            assert_eq!(got.total, 10_000, "{text}");
            assert!(got.total_is_lower_bound, "{text}");
            let from = (page - 1) * 200;
            assert_eq!(ids(&got), expected[from..from + 200], "{text}, page {page}");
        }
        // Past the matches: an empty page, the count still capped.
        let past = list(text, None, 100);
        assert!(past.findings.is_empty() && past.total_is_lower_bound);
    }
    // Sorted by severity (read a rank at a time), most or least severe first, through the
    // index and without it: each page holds the scan's rows, across the ranks' boundaries
    // ("filler finding" matches 2,400 a rank: page 13 starts at the first high one; "fi"
    // matches a few more, so its page 13 holds critical and high ones).
    for (order, scan_order) in [
        (None, "severity_rank ASC, time DESC, finding_id DESC"),
        (
            Some("asc"),
            "severity_rank DESC, time DESC, finding_id DESC",
        ),
    ] {
        for text in ["filler finding", "fi"] {
            let by_severity = scanned_in(&path, text, scan_order);
            for page in [1, 2, 3, 13, 51] {
                let got = db
                    .findings(&FindingFilter {
                        text: Some(text.into()),
                        sort: Some("severity".into()),
                        order: order.map(str::to_string),
                        page: Some(page),
                        per_page: Some(200),
                        ..FindingFilter::default()
                    })
                    .unwrap();
                assert!(got.total_is_lower_bound, "{text}");
                let from = (page - 1) * 200;
                assert_eq!(
                    ids(&got),
                    by_severity[from..from + 200],
                    "{text}, {order:?}, page {page}"
                );
            }
        }
    }
    // Without a text, and past the last finding, the same.
    let everything = scanned_in(&path, "", "severity_rank ASC, time DESC, finding_id DESC");
    let unfiltered = |page: usize| {
        db.findings(&FindingFilter {
            sort: Some("severity".into()),
            page: Some(page),
            per_page: Some(200),
            ..FindingFilter::default()
        })
        .unwrap()
    };
    assert_eq!(ids(&unfiltered(14)), everything[2600..2800]);
    let last = everything.len().div_ceil(200);
    assert_eq!(ids(&unfiltered(last)), everything[(last - 1) * 200..]);
    assert!(unfiltered(last + 1).findings.is_empty());
    let by_rule = scanned_in(&path, "finding", "rule_id DESC, time DESC, finding_id DESC");
    assert_eq!(ids(&list("finding", Some("rule"), 1)), by_rule[..200]);

    // Under the cap the count is exact: "filler finding 11" is 1 + 10 + 100 + 1,000 findings.
    let narrower = list("filler finding 11", None, 1);
    assert_eq!(narrower.total, 1111);
    assert!(!narrower.total_is_lower_bound);
    assert_eq!(
        ids(&narrower),
        scanned_in(&path, "filler finding 11", newest_first)[..200]
    );
    // A filter besides the text counts what both match.
    let critical = db
        .findings(&FindingFilter {
            text: Some("filler finding".into()),
            severity: Some("critical".into()),
            ..FindingFilter::default()
        })
        .unwrap();
    assert_eq!(critical.total, 2400);
    assert!(!critical.total_is_lower_bound);
}

/// The root user creating a key for another user: both `root-usage` and
/// `access-key-other-user` raise a finding on it.
fn root_creates_key() -> Value {
    json!({
        "eventVersion": "1.09", "eventID": "root-key", "eventTime": "2026-11-20T09:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333", "readOnly": false,
        "userIdentity": {"type": "Root", "principalId": "111122223333",
            "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333",
            "accessKeyId": "AKIAROOTEXAMPLE0001"},
        "requestParameters": {"userName": "bob"},
        "responseElements": {"accessKey": {"accessKeyId": "AKIANEWKEYEXAMPLE01",
            "status": "Active", "userName": "bob"}}
    })
}

#[test]
fn a_findings_answer_carries_its_events_record_kept_once_per_event_and_only_for_findings() {
    use crate::support::{config, pipeline, plugin, plugin_config};
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        vec![
            plugin_config(plugin("root-usage")),
            plugin_config(plugin("access-key-other-user")),
        ],
    );
    let two_findings = root_creates_key();
    let root_write = crate::daemon::root_record("root-write");
    // A copy under the same event id with other content (a sender chooses ids).
    let mut forged = root_write.clone();
    forged["sourceIPAddress"] = json!("192.0.2.66");
    // Read by an IAM user: neither plugin has a finding on it.
    let mut quiet = root_write.clone();
    quiet["eventID"] = json!("quiet");
    quiet["userIdentity"] = json!({"type": "IAMUser", "accountId": "111122223333",
        "arn": "arn:aws:iam::111122223333:user/ops", "userName": "ops"});
    let mut pipeline = pipeline(&config);
    let options = cloudtrail_normalize::Options::default();
    for event in [&two_findings, &root_write, &quiet, &forged] {
        for item in cloudtrail_normalize::normalize_value(event.clone(), &options) {
            pipeline.ingest(item, "test").unwrap();
        }
    }
    pipeline.flush().unwrap();
    drop(pipeline);

    // One record per event id and content; none for the event without findings.
    let conn = Connection::open(&config.database).unwrap();
    let mut stmt = conn
        .prepare("SELECT event_id, COUNT(*) FROM event_records GROUP BY event_id")
        .unwrap();
    let kept: BTreeMap<String, i64> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        kept,
        BTreeMap::from([("root-key".to_string(), 1), ("root-write".to_string(), 2)])
    );

    // Each finding's answer holds the exact record replayed.
    let db = ConsoleDb::open(&config.database).unwrap();
    let listed = db.findings(&FindingFilter::default()).unwrap().findings;
    let on = |event_id: &str| -> Vec<Value> {
        listed
            .iter()
            .filter(|f| f.event_id == event_id)
            .map(|f| db.finding(f.id).unwrap().unwrap())
            .collect()
    };
    let on_key = on("root-key");
    assert_eq!(on_key.len(), 2, "two plugins, two findings");
    for detail in &on_key {
        assert_eq!(detail["records_total"], 1, "{detail}");
        assert_eq!(detail["records"][0]["record"], two_findings, "{detail}");
        assert_eq!(detail["records"][0]["truncated"], false);
        assert_eq!(
            detail["records"][0]["bytes"],
            two_findings.to_string().len(),
            "{detail}"
        );
    }
    // The real event and its forged copy are both shown, in the order they came.
    let on_write = on("root-write");
    assert_eq!(on_write.len(), 2);
    for detail in &on_write {
        assert_eq!(detail["records_total"], 2, "{detail}");
        assert_eq!(detail["records"][0]["record"], root_write);
        assert_eq!(detail["records"][1]["record"], forged);
    }
}

#[test]
fn an_oversized_record_is_shown_cut_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let audit = trailwarden::audit::AuditStore::open(&path).unwrap();
    let big = json!({"eventID": "big", "requestParameters": {"policy": "x".repeat(300_000)}});
    let text = big.to_string();
    audit
        .record_finding(&trailwarden::audit::StoredFinding {
            plugin: "p".into(),
            plugin_version: "1.0.0".into(),
            plugin_sha256: "sha".into(),
            rule_id: "r".into(),
            severity: "high".into(),
            title: "A big policy".into(),
            description: String::new(),
            resources: vec![],
            dedup_key: "k".into(),
            event_id: "big".into(),
            event_time: Some("2026-11-20T09:00:00Z".into()),
            context: json!({}).into(),
            recorded_at: "2026-11-20T09:00:01Z".into(),
            suppressed_by: None,
        })
        .unwrap();
    audit.record_event_records(&[("big", &text)]).unwrap();
    let db = ConsoleDb::open(&path).unwrap();
    let id = db.findings(&FindingFilter::default()).unwrap().findings[0].id;
    let detail = db.finding(id).unwrap().unwrap();
    let shown = &detail["records"][0];
    assert_eq!(shown["truncated"], true, "{shown}");
    assert_eq!(shown["bytes"], text.len());
    assert!(shown.get("record").is_none(), "a cut record is not JSON");
    let kept = shown["text"].as_str().unwrap();
    assert_eq!(kept.len(), trailwarden::audit::MAX_STORED_RECORD_BYTES);
    assert!(text.starts_with(kept));
}
