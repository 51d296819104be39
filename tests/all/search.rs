//! `trailwarden search` and `summary` as a user runs them: the real binary over the corpus
//! written as log files (plain, gzip, JSON lines), stdin, bad input, and S3 on moto.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::daemon::{gzip, put_log_file};
use crate::moto::{Moto, ACCOUNT};
use crate::support::{config, corpus_records, pipeline, plugin, plugin_config};

fn trailwarden(args: &[&str], stdin: Option<&[u8]>, env: &[(&'static str, String)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Runs a search that must succeed; its stdout.
fn search(args: &[&str]) -> String {
    let out = trailwarden(args, None, &[]);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn count(args: &[&str]) -> u64 {
    let mut all = vec!["search", "--count"];
    all.extend_from_slice(args);
    search(&all).trim().parse().unwrap()
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The corpus's CloudTrail records, unwrapped from their delivered forms (its Insights
/// events included: events of their own kind, without an `eventSource`), to count against
/// directly.
fn corpus_calls() -> Vec<Value> {
    corpus_records()
        .into_iter()
        .filter_map(|(form, record)| match form.as_str() {
            "record" | "logstash_record" | "insight" => Some(record),
            "eventbridge" => Some(record["detail"].clone()),
            "lookup_events" => {
                serde_json::from_str(record["CloudTrailEvent"].as_str().unwrap()).ok()
            }
            _ => None,
        })
        .collect()
}

/// The event time as the normaliser reads it: `eventTime`, else logstash's `@timestamp`.
fn time_of(call: &Value) -> Option<&str> {
    call["eventTime"]
        .as_str()
        .or_else(|| call["@timestamp"].as_str())
}

/// The corpus in its raw forms as three inputs: JSON lines, the same gzip-compressed, and a
/// `{"Records": [...]}` log file of the bare records; returns the folder.
fn write_corpus(dir: &Path) -> std::path::PathBuf {
    let logs = dir.join("logs");
    std::fs::create_dir_all(logs.join("nested")).unwrap();
    let records = corpus_records();
    let third = records.len() / 3;
    let lines = |part: &[(String, Value)]| {
        part.iter()
            .map(|(_, r)| r.to_string() + "\n")
            .collect::<String>()
    };
    std::fs::write(logs.join("a.jsonl"), lines(&records[..third])).unwrap();
    std::fs::write(
        logs.join("nested/b.json.gz"),
        gzip(lines(&records[third..2 * third]).as_bytes()),
    )
    .unwrap();
    std::fs::write(logs.join("c.jsonl"), lines(&records[2 * third..])).unwrap();
    logs
}

#[test]
fn search_counts_equal_replay_routing_through_the_plugins_and_direct_counts() {
    let dir = tempfile::tempdir().unwrap();
    let logs = write_corpus(dir.path());
    let logs = logs.to_str().unwrap();
    let names = ["root-usage", "cloudtrail-tampering", "console-no-mfa"];
    let plugins: Vec<_> = names.iter().map(|n| plugin_config(plugin(n))).collect();
    let config = config(dir.path(), plugins);
    let mut text = format!(
        "[audit]\ndatabase = \"{}\"\n[engine]\ncache_dir = \"{}\"\n",
        config.database.display(),
        config.cache_dir.display()
    );
    for name in names {
        text += &format!(
            "[[plugins]]\npath = \"{}\"\nname = \"{name}\"\nungranted_imports = \"deny\"\n",
            plugin(name).display()
        );
    }
    let config_path = dir.path().join("trailwarden.toml");
    std::fs::write(&config_path, text).unwrap();
    let stats_path = dir.path().join("stats.json");
    let out = trailwarden(
        &[
            "replay",
            "--config",
            config_path.to_str().unwrap(),
            "--summary-only",
            "--stats-json",
            stats_path.to_str().unwrap(),
            logs,
        ],
        None,
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value = serde_json::from_slice(&std::fs::read(&stats_path).unwrap()).unwrap();

    // Each plugin's own patterns, given to search: the same events, with 1 thread or 3.
    let loaded = pipeline(&config);
    for loaded in loaded.plugins() {
        let mut args: Vec<&str> = Vec::new();
        for pattern in &loaded.patterns {
            args.extend(["--pattern", pattern.as_str()]);
        }
        let routed = stats["matched"][&*loaded.name].as_u64().unwrap_or(0);
        assert!(
            routed > 0,
            "{}: the corpus has events for it: {stats}",
            loaded.name
        );
        for threads in ["1", "3"] {
            let mut all = vec!["--threads", threads, logs];
            all.extend_from_slice(&args);
            assert_eq!(
                count(&all),
                routed,
                "{} with {threads} threads",
                loaded.name
            );
        }
    }

    // Everything, and --where, against counts over the records themselves.
    let calls = corpus_calls();
    assert_eq!(count(&[logs]), stats["normalised"].as_u64().unwrap());
    assert_eq!(count(&[logs]) as usize, calls.len());
    let console = calls
        .iter()
        .filter(|r| r["eventName"] == "ConsoleLogin")
        .count() as u64;
    assert!(console > 0);
    assert_eq!(
        count(&["--where", "detail.eventName=ConsoleLogin", logs]),
        console
    );
    assert_eq!(count(&["--where", "eventName=ConsoleLogin", logs]), console);
    let failed_console = calls
        .iter()
        .filter(|r| {
            r["eventName"] == "ConsoleLogin" && r["responseElements"]["ConsoleLogin"] == "Failure"
        })
        .count() as u64;
    assert_eq!(
        count(&[
            "--where",
            "eventName=ConsoleLogin",
            "--where",
            "responseElements.ConsoleLogin=Failure",
            logs
        ]),
        failed_console
    );
    // --pattern and --where together: both must hold.
    assert_eq!(
        count(&[
            "--pattern",
            r#"{"detail":{"eventName":["ConsoleLogin"]}}"#,
            "--where",
            "eventName=CreateUser",
            logs
        ]),
        0
    );

    // JSON lines with fields: one object per matching event, the addressed values.
    let rows = jsonl(&search(&[
        "search",
        "--where",
        "eventName=ConsoleLogin",
        "--format",
        "jsonl",
        "--fields",
        "detail.eventID,account,detail.userIdentity.type",
        "--threads",
        "1",
        logs,
    ]));
    assert_eq!(rows.len() as u64, console);
    let mut ids: Vec<&str> = rows
        .iter()
        .map(|r| r["detail.eventID"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = calls
        .iter()
        .filter(|r| r["eventName"] == "ConsoleLogin")
        .map(|r| r["eventID"].as_str().unwrap())
        .collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
    // Without fields, JSON lines are the records themselves: searchable again from stdin.
    let records = search(&[
        "search",
        "--format",
        "jsonl",
        "--where",
        "eventName=ConsoleLogin",
        logs,
    ]);
    let again = trailwarden(&["search", "--count", "-"], Some(records.as_bytes()), &[]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        console.to_string()
    );
}

#[test]
fn group_by_timeline_and_time_bounds_over_the_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let logs = write_corpus(dir.path());
    let logs = logs.to_str().unwrap();
    let calls = corpus_calls();

    // --group-by: the counts per event source, all of them.
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for call in &calls {
        let source = call["eventSource"].as_str().unwrap_or("-").to_string();
        *expected.entry(source).or_default() += 1;
    }
    let rows = jsonl(&search(&[
        "search",
        "--group-by",
        "eventSource",
        "--top",
        "0",
        "--format",
        "jsonl",
        logs,
    ]));
    let got: BTreeMap<String, u64> = rows
        .iter()
        .map(|r| {
            (
                r["eventSource"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Largest first, and --top cuts.
    let counts: Vec<u64> = rows.iter().map(|r| r["count"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    let top = jsonl(&search(&[
        "search",
        "--group-by",
        "eventSource,awsRegion",
        "--top",
        "3",
        "--format",
        "jsonl",
        logs,
    ]));
    let all = jsonl(&search(&[
        "search",
        "--group-by",
        "eventSource,awsRegion",
        "--top",
        "0",
        "--format",
        "jsonl",
        logs,
    ]));
    assert_eq!(top.len(), 3);
    assert_eq!(top, all[..3]);

    // --timeline 1d: events per UTC day of eventTime.
    let mut days: BTreeMap<String, u64> = BTreeMap::new();
    for call in &calls {
        let day = time_of(call)
            .filter(|t| t.len() >= 10)
            .map_or("-".to_string(), |t| format!("{}T00:00:00Z", &t[..10]));
        *days.entry(day).or_default() += 1;
    }
    let rows = jsonl(&search(&[
        "search",
        "--timeline",
        "1d",
        "--format",
        "jsonl",
        logs,
    ]));
    let got: BTreeMap<String, u64> = rows
        .iter()
        .map(|r| {
            (
                r["from"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, days);

    // --since/--until on event time: the split at a day adds up, and matches the records.
    let dated: Vec<&str> = calls
        .iter()
        .filter_map(time_of)
        .filter(|t| humantime::parse_rfc3339_weak(t).is_ok())
        .collect();
    let mut sorted = dated.clone();
    sorted.sort();
    let middle = &sorted[sorted.len() / 2][..10];
    let before = dated.iter().filter(|t| &t[..10] < middle).count() as u64;
    let from = dated.iter().filter(|t| &t[..10] >= middle).count() as u64;
    let day_before = {
        let day = humantime::parse_rfc3339_weak(&format!("{middle}T00:00:00Z")).unwrap()
            - std::time::Duration::from_secs(86_400);
        humantime::format_rfc3339_seconds(day).to_string()[..10].to_string()
    };
    assert_eq!(count(&["--until", &day_before, logs]), before);
    assert_eq!(count(&["--since", middle, logs]), from);

    // --account and --region.
    let account = calls
        .iter()
        .find_map(|c| c["recipientAccountId"].as_str())
        .unwrap()
        .to_string();
    let rows = jsonl(&search(&[
        "search",
        "--group-by",
        "account",
        "--top",
        "0",
        "--format",
        "jsonl",
        logs,
    ]));
    let expected = rows
        .iter()
        .find(|r| r["account"] == account.as_str())
        .unwrap()["count"]
        .as_u64()
        .unwrap();
    assert_eq!(count(&["--account", &account, logs]), expected);
    let us_east = calls
        .iter()
        .filter(|c| c["awsRegion"] == "us-east-1")
        .count() as u64;
    assert_eq!(count(&["--region", "us-east-1", logs]), us_east);

    // CSV: a header, then one line per event.
    let csv = search(&[
        "search",
        "--format",
        "csv",
        "--fields",
        "eventName,account",
        "--where",
        "eventName=ConsoleLogin",
        logs,
    ]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("eventName,account"));
    assert!(lines.all(|l| l.starts_with("ConsoleLogin,")));

    // summary: the same totals, as JSON.
    let out = search(&["summary", "--format", "json", "--top", "100", logs]);
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["events"].as_u64().unwrap() as usize, calls.len());
    let section = |title: &str| -> BTreeMap<String, u64> {
        summary["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["title"] == title)
            .unwrap()["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["key"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| k.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join("|"),
                    r["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(section("timeline"), days);
    let root = calls
        .iter()
        .filter(|c| c["userIdentity"]["type"] == "Root")
        .count() as u64;
    assert!(root > 0);
    assert_eq!(section("root use").values().sum::<u64>(), root);
    let sign_ins: u64 = section("console sign-ins").values().sum();
    assert_eq!(
        sign_ins as usize,
        calls
            .iter()
            .filter(|c| c["eventName"] == "ConsoleLogin")
            .count()
    );
    let errors: u64 = section("top error codes").values().sum();
    assert_eq!(
        errors as usize,
        calls.iter().filter(|c| c["errorCode"].is_string()).count()
    );
    let table = search(&["summary", logs]);
    for title in [
        "events per account",
        "top principals",
        "console sign-ins",
        "root use",
        "timeline",
    ] {
        assert!(table.contains(title), "{table}");
    }
}

#[test]
fn bad_input_is_counted_named_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let good = json!({"Records": [
        {"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "DeleteTrail",
         "eventID": "good-1", "eventTime": "2024-05-01T00:00:00Z"},
        {"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
         "eventID": "good-2", "eventTime": "2024-05-01T00:00:00Z"}
    ]});
    std::fs::write(logs.join("a.json.gz"), gzip(good.to_string().as_bytes())).unwrap();
    // A gzip stream cut short, broken JSON lines, a link to nothing.
    let mut cut = gzip(good.to_string().as_bytes());
    cut.truncate(cut.len() / 2);
    std::fs::write(logs.join("b.json.gz"), cut).unwrap();
    std::fs::write(
        logs.join("c.jsonl"),
        "{\"eventVersion\":\"1.08\",\"eventName\":\"DeleteTrail\",\"eventID\":\"good-3\"}\n{not json\n[1,2\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone.json"), logs.join("d.json")).unwrap();

    let out = trailwarden(
        &[
            "search",
            "--count",
            "--where",
            "eventName=DeleteTrail",
            logs.to_str().unwrap(),
        ],
        None,
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Exit 2 as grep does: something could not be read, the rest was searched.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2", "{stderr}");
    assert!(stderr.contains("3 events, 2 matched"), "{stderr}");
    assert!(stderr.contains("invalid_gzip"), "{stderr}");
    assert!(stderr.contains("invalid_json"), "{stderr}");
    assert!(stderr.contains("c.jsonl: invalid_json: line 2"), "{stderr}");
    assert!(stderr.contains("unreadable inputs 1"), "{stderr}");
    assert!(stderr.contains("d.json"), "{stderr}");

    // Arguments that cannot work are refused with one clear line.
    for (args, says) in [
        (vec!["search", "--where", "eventName", "x"], "FIELD=VALUE"),
        (
            vec!["search", "--pattern", "{\"detail\":1}", "x"],
            "--pattern",
        ),
        (
            vec!["search", "--count", "--timeline", "1h", "x"],
            "alternatives",
        ),
        (vec!["search", "--timeline", "soon", "x"], "--timeline"),
        (vec!["search", "--since", "yesterday", "x"], "--since"),
        (vec!["search", "/no/such/trail"], "no such file"),
    ] {
        let out = trailwarden(&args, None, &[]);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn search_reads_cloudtrail_s3_layout_on_moto_pruned_by_day_and_account() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = rt.block_on(moto.s3());
    let other = "210987654321";
    let record = |id: &str, account: &str, day: &str, name: &str| {
        json!({"eventVersion": "1.08", "eventSource": "cloudtrail.amazonaws.com",
               "eventName": name, "eventID": id, "awsRegion": "us-east-1",
               "eventTime": format!("{day}T10:00:00Z"), "recipientAccountId": account,
               "userIdentity": {"type": "IAMUser", "accountId": account,
                                "arn": format!("arn:aws:iam::{account}:user/ops")}})
    };
    rt.block_on(async {
        s3.create_bucket().bucket("org-trail").send().await.unwrap();
        for (account, day) in [(ACCOUNT, "2024-05-01"), (ACCOUNT, "2024-05-02"), (other, "2024-05-02"), (other, "2024-05-03")] {
            let key = format!(
                "AWSLogs/o-exampleorg1/{account}/CloudTrail/us-east-1/{}/{account}_CloudTrail_us-east-1_{day}.json.gz",
                day.replace('-', "/")
            );
            let records = [
                record(&format!("{account}-{day}-stop"), account, day, "StopLogging"),
                record(&format!("{account}-{day}-read"), account, day, "LookupEvents"),
            ];
            put_log_file(&s3, "org-trail", &key, &records).await;
        }
        // A digest file is not searched.
        s3.put_object()
            .bucket("org-trail")
            .key(format!("AWSLogs/o-exampleorg1/{ACCOUNT}/CloudTrail-Digest/us-east-1/2024/05/02/x.json.gz"))
            .body(gzip(b"{\"digestStartTime\":\"x\"}").into())
            .send()
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trailwarden.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\ndatabase = \"{}\"\n{}",
            dir.path().join("audit.db").display(),
            moto.aws_toml()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let run = |extra: &[&str]| -> String {
        let mut args = vec!["search", "--config", config];
        args.extend_from_slice(extra);
        let out = trailwarden(&args, None, &moto.env());
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run(&["--count", "s3://org-trail/"]).trim(), "8");
    assert_eq!(
        run(&[
            "--count",
            "--where",
            "eventName=StopLogging",
            "s3://org-trail/AWSLogs/"
        ])
        .trim(),
        "4"
    );
    // Days out of range are not even listed; the rest filtered on event time.
    let rows = jsonl(&run(&[
        "--since",
        "2024-05-02",
        "--until",
        "2024-05-02",
        "--where",
        "eventName=StopLogging",
        "--format",
        "jsonl",
        "--fields",
        "eventID",
        "--threads",
        "1",
        "s3://org-trail/",
    ]));
    let mut ids: Vec<&str> = rows
        .iter()
        .map(|r| r["eventID"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            format!("{ACCOUNT}-2024-05-02-stop"),
            format!("{other}-2024-05-02-stop")
        ]
    );
    assert_eq!(
        run(&["--count", "--account", other, "s3://org-trail/"]).trim(),
        "4"
    );
    let groups = jsonl(&run(&[
        "--group-by",
        "account",
        "--format",
        "jsonl",
        "s3://org-trail/",
    ]));
    assert_eq!(groups.len(), 2);
    assert!(groups.iter().all(|g| g["count"] == 4), "{groups:?}");
}

#[test]
fn the_literal_precheck_gives_the_same_answers_as_parsing_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let calls = corpus_calls();
    // CloudTrail's S3 shape, one gzip log file per chunk of records.
    for (i, chunk) in calls.chunks(60).enumerate() {
        let body = json!({ "Records": chunk }).to_string();
        std::fs::write(
            logs.join(format!("part-{i}.json.gz")),
            gzip(body.as_bytes()),
        )
        .unwrap();
    }
    // Records the pre-check must not get wrong: the name spelled with an escape, the
    // wanted value in another field only; and a file with a record that is not valid JSON
    // (rejected whole either way).
    let record = |id: &str, name: &str, extra: &str| {
        format!(
            r#"{{"eventVersion":"1.08","eventID":"{id}","eventTime":"2026-01-01T00:00:00Z","eventSource":"signin.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","recipientAccountId":"111122223333"{extra}}}"#
        )
    };
    let crafted = format!(
        r#"{{"Records":[{},{}]}}"#,
        record("escaped", r"Console\u004cogin", ""),
        record(
            "elsewhere",
            "GetObject",
            r#","errorMessage":"ConsoleLogin""#
        )
    );
    std::fs::write(logs.join("crafted.json"), crafted).unwrap();
    let broken = format!(
        r#"{{"Records":[{},{{"eventName":"ConsoleLogin",}}]}}"#,
        record("lost", "ConsoleLogin", "")
    );
    std::fs::write(logs.join("broken.json"), broken).unwrap();
    let logs = logs.to_str().unwrap();
    let queries: [&[&str]; 3] = [
        &["--where", "eventName=ConsoleLogin"],
        &[
            "--pattern",
            r#"{"detail": {"eventSource": ["iam.amazonaws.com", "cloudtrail.amazonaws.com"]}}"#,
            "--pattern",
            r#"{"detail": {"eventName": ["ConsoleLogin"]}}"#,
        ],
        &[
            "--where",
            "eventSource=iam.amazonaws.com",
            "--where",
            "awsRegion=us-east-1",
        ],
    ];
    for query in queries {
        let run = |extra: &[&str]| {
            let mut args = vec!["search", "--format", "jsonl", "--threads", "1"];
            args.extend_from_slice(query);
            args.extend_from_slice(extra);
            args.push(logs);
            trailwarden(&args, None, &[])
        };
        let (fast, full) = (run(&[]), run(&["--no-prefilter"]));
        let fast_err = String::from_utf8_lossy(&fast.stderr).to_string();
        let full_err = String::from_utf8_lossy(&full.stderr).to_string();
        assert_eq!(
            fast.status.code(),
            full.status.code(),
            "{fast_err}\n{full_err}"
        );
        let ids = |out: Vec<u8>| -> Vec<String> {
            jsonl(&String::from_utf8(out).unwrap())
                .iter()
                .map(|r| r["eventID"].to_string())
                .collect()
        };
        let kept = ids(fast.stdout);
        assert!(!kept.is_empty(), "{query:?} found nothing");
        assert_eq!(kept, ids(full.stdout), "{query:?}");
        assert!(fast_err.contains("ruled out unparsed"), "{fast_err}");
        assert!(!full_err.contains("ruled out unparsed"), "{full_err}");
        // The same events counted, and the same broken record named, either way.
        let first = |text: &str| text.lines().next().unwrap_or("").to_string();
        let events = |line: String| line.split(": ").nth(1).map(str::to_string);
        assert_eq!(
            events(first(&fast_err)).map(|e| e.split(',').next().unwrap().to_string()),
            events(first(&full_err)).map(|e| e.split(',').next().unwrap().to_string()),
            "{fast_err}\n{full_err}"
        );
        assert!(fast_err.contains("invalid_json"), "{fast_err}");
    }
    // The escaped spelling is found by both.
    let escaped = search(&["search", "--count", "--where", "eventID=escaped", logs]);
    assert_eq!(escaped.trim(), "1");
    let by_name = search(&[
        "search",
        "--format",
        "jsonl",
        "--where",
        "eventName=ConsoleLogin",
        logs,
    ]);
    assert!(by_name.contains("\"escaped\""), "{by_name}");
}
