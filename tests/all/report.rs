//! `trailwarden report` and `export findings` as a user runs them: the real binary over an
//! audit database that `trailwarden replay` filled from the corpus with shipped plugins.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};
use trailwarden::audit::{AuditStore, AuditTable};

use crate::moto::Moto;
use crate::support::{corpus_records, guest, plugin, repo};

/// Plugins replayed: Rust detections (quick to compile) and a guest that traps on every
/// batch, so failures and a quarantine are on record.
const PLUGINS: &[&str] = &[
    "root-usage",
    "cloudtrail-tampering",
    "console-no-mfa",
    "identity-changes",
    "access-key-other-user",
];

/// An account with no events anywhere in the corpus.
const SILENT_ACCOUNT: &str = "999999999999";

struct Fixture {
    config: String,
    database: PathBuf,
}

/// One replay of the whole corpus (plus two lines that are not CloudTrail), shared by the
/// tests of this module; they only read it.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // One folder per run; those of earlier runs are removed first.
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        for old in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            if old.file_name().to_string_lossy().starts_with("report-tests-") {
                let _ = std::fs::remove_dir_all(old.path());
            }
        }
        let dir = tmp.join(format!("report-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = format!(
            "[audit]\ndatabase = \"{}\"\n[engine]\ncache_dir = \"{}\"\nbatch_size = 16\nquarantine_after = 2\n",
            dir.join("audit.db").display(),
            dir.join("cache").display()
        );
        for name in PLUGINS {
            text += &format!(
                "[[plugins]]\npath = \"{}\"\nname = \"{name}\"\nungranted_imports = \"deny\"\n",
                plugin(name).display()
            );
        }
        text += &format!(
            "[[plugins]]\npath = \"{}\"\nname = \"trap\"\n",
            guest("trap").display()
        );
        let config = dir.join("trailwarden.toml");
        std::fs::write(&config, text).unwrap();
        let mut lines: String = corpus_records()
            .into_iter()
            .map(|(_, record)| format!("{record}\n"))
            .collect();
        lines += "{\"eventVersion\": \"1.08\", \"eventID\": \nnot json at all\n";
        let input = dir.join("corpus.jsonl");
        std::fs::write(&input, lines).unwrap();
        let out = trailwarden(&[
            "replay",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
            input.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        Fixture {
            config: config.display().to_string(),
            database: dir.join("audit.db"),
        }
    })
}

fn trailwarden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs a command over the fixture's config and returns its standard output.
fn run(args: &[&str]) -> String {
    let fixture = fixture();
    let mut all = args.to_vec();
    all.extend(["--config", &fixture.config]);
    let out = trailwarden(&all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn json_of(args: &[&str]) -> Value {
    serde_json::from_str(&run(args)).unwrap()
}

/// What `audit findings` shows: the reference every count is checked against.
fn audit_findings() -> Vec<Value> {
    serde_json::from_str(&run(&["audit", "findings", "--format", "json"])).unwrap()
}

fn tally<'a>(values: impl Iterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for v in values {
        *counts.entry(v.to_string()).or_default() += 1;
    }
    counts
}

fn counted(list: &Value) -> BTreeMap<String, u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A strict RFC 4180 reader: records end with CRLF, and every record must have the
/// header's number of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "bare CR in CSV");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("bare LF outside quotes: records end with CRLF"),
            c => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quote");
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record has no CRLF"
    );
    let width = records[0].len();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.len(), width, "record {i} has {} fields: {r:?}", r.len());
    }
    records
}

fn assert_self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80]);
    assert!(html.trim_end().ends_with("</html>"));
    let lower = html.to_ascii_lowercase();
    for external in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "url(http",
        "@import",
        "<script",
        "<link",
    ] {
        assert!(!lower.contains(external), "the HTML has {external}");
    }
    assert!(lower.contains("<style>") && lower.contains("@media print"));
}

const SINCE: &[&str] = &["--since", "2000-01-01"];

fn args<'a>(kind: &'a str, format: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["report", kind, "--format", format];
    all.extend_from_slice(SINCE);
    all.extend_from_slice(extra);
    all
}

#[test]
fn activity_counts_equal_what_audit_findings_shows() {
    let stored = audit_findings();
    assert!(
        stored.len() > 20,
        "the corpus raises findings: {}",
        stored.len()
    );
    let report = json_of(&args("activity", "json", &[]));
    assert_eq!(report["findings_total"], stored.len() as u64);
    assert_eq!(
        counted(&report["by_severity"]),
        tally(stored.iter().map(|f| f["severity"].as_str().unwrap()))
    );
    // The top rules are the most frequent rules, with their exact counts.
    let by_rule = tally(stored.iter().map(|f| f["rule_id"].as_str().unwrap()));
    let top = counted(&report["top_rules"]);
    assert!(!top.is_empty() && top.len() <= 10);
    for (rule, count) in &top {
        assert_eq!(by_rule[rule], *count, "{rule}");
    }
    let least_shown = top.values().min().unwrap();
    assert!(by_rule
        .iter()
        .filter(|(rule, _)| !top.contains_key(*rule))
        .all(|(_, count)| count <= least_shown));
    // Findings over time add up to the total, and accounts and regions too.
    let over_time: u64 = report["over_time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["total"].as_u64().unwrap())
        .sum();
    assert_eq!(over_time, stored.len() as u64);
    assert_eq!(
        counted(&report["accounts"]).values().sum::<u64>(),
        stored.len() as u64
    );
    // The account of a root-usage finding is among the accounts.
    let root = stored
        .iter()
        .find(|f| f["plugin"] == "root-usage")
        .expect("the corpus has root usage");
    let account = root["context"]["account"].as_str().unwrap();
    assert!(counted(&report["accounts"]).contains_key(account));
    // No AWS service among the principals.
    assert!(counted(&report["top_principals"])
        .keys()
        .all(|p| !p.ends_with(".amazonaws.com")));

    // Operational sections equal the audit store's own tables.
    let audit = AuditStore::open(&fixture().database).unwrap();
    let failures: u64 = audit
        .count_by(AuditTable::PluginFailures, "kind")
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert!(failures >= 2, "the trap guest fails every batch");
    let reported: u64 = report["plugin_failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(
                (f["plugin"].as_str(), f["kind"].as_str()),
                (Some("trap"), Some("trap"))
            );
            f["count"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(reported, failures);
    assert!(report["quarantines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["plugin"] == "trap" && q["event"] == "quarantined"));
    let dead: Vec<Value> =
        serde_json::from_str(&run(&["audit", "rejected", "--format", "json"])).unwrap();
    assert_eq!(dead.len(), 2);
    assert_eq!(
        counted(&report["dead_letters"]),
        tally(dead.iter().map(|d| d["reason"].as_str().unwrap()))
    );
    // Every event that arrived is counted once, by source.
    // Every record, the three Insights events included (events of their own kind).
    let normalised = corpus_records().len() as u64;
    assert_eq!(report["events_total"], normalised);
    assert_eq!(
        counted(&report["ingest"]),
        BTreeMap::from([("file".into(), normalised)])
    );
}

#[test]
fn activity_for_one_account_counts_only_its_findings() {
    let stored = audit_findings();
    let account = "493859302102";
    let expected = stored
        .iter()
        .filter(|f| f["context"]["account"] == account)
        .count() as u64;
    assert!(expected > 0);
    let report = json_of(&args("activity", "json", &["--account", account]));
    assert_eq!(report["findings_total"], expected);
    assert_eq!(
        counted(&report["accounts"]),
        BTreeMap::from([(account.to_string(), expected)])
    );
    // A period before any event: nothing.
    let none = json_of(&[
        "report",
        "activity",
        "--format",
        "json",
        "--since",
        "1990-01-01",
        "--until",
        "1990-12-31",
    ]);
    assert_eq!(none["findings_total"], 0);
    assert_eq!(none["events_total"], 0);
}

#[test]
fn activity_html_is_self_contained_and_csv_parses() {
    let html = run(&args("activity", "html", &[]));
    assert_self_contained(&html);
    assert!(html.contains("<svg") && html.contains("Findings over time"));
    let report = json_of(&args("activity", "json", &[]));
    let total = report["findings_total"].as_u64().unwrap();
    assert!(html.contains(&format!("<b>{total}</b>findings")));

    let rows = parse_csv(&run(&args("activity", "csv", &[])));
    assert_eq!(rows[0], ["section", "name", "detail", "count"]);
    let findings_row = rows
        .iter()
        .find(|r| r[0] == "findings" && r[1] == "total")
        .unwrap();
    assert_eq!(findings_row[3], total.to_string());
    let severity_sum: u64 = rows
        .iter()
        .filter(|r| r[0] == "severity")
        .map(|r| r[3].parse::<u64>().unwrap())
        .sum();
    assert_eq!(severity_sum, total);
}

#[test]
fn coverage_maps_claimed_techniques_to_tactics_with_what_fired() {
    let stored = audit_findings();
    let report = json_of(&args("coverage", "json", &[]));
    let rules: Vec<Value> =
        serde_json::from_str(&run(&["rules", "list", "--format", "json"])).unwrap();
    let active = rules.iter().filter(|r| r["status"] == "active").count();
    assert_eq!(report["rules_active"], active as u64);
    let tactics = report["tactics"].as_array().unwrap();
    let column = |short: &str| {
        tactics
            .iter()
            .find(|t| t["short_name"] == short)
            .unwrap_or_else(|| panic!("{short}"))
    };
    // Root usage claims T1078.004 (Valid Accounts: Cloud Accounts), which ATT&CK places
    // under initial access, persistence, privilege escalation and defense evasion.
    for short in [
        "initial-access",
        "persistence",
        "privilege-escalation",
        "defense-evasion",
    ] {
        let cell = column(short)["techniques"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "T1078.004")
            .unwrap_or_else(|| panic!("T1078.004 under {short}"));
        let root = cell["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "aws.root.usage")
            .unwrap();
        let fired = stored
            .iter()
            .filter(|f| f["rule_id"] == "aws.root.usage")
            .count();
        assert!(fired > 0);
        assert_eq!(root["fired"], fired as u64);
    }
    // CloudTrail tampering sits under defense evasion only.
    assert!(column("credential-access")["techniques"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != "T1562.008"));
    // A technique fired iff one of its rules raised a finding.
    let fired_rules: std::collections::BTreeSet<&str> = stored
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    for column in tactics {
        for cell in column["techniques"].as_array().unwrap() {
            let any = cell["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| fired_rules.contains(r["id"].as_str().unwrap()));
            assert_eq!(cell["fired"].as_u64().unwrap() > 0, any, "{}", cell["id"]);
        }
    }
    let html = run(&args("coverage", "html", &[]));
    assert_self_contained(&html);
    assert!(html.contains("T1078.004") && html.contains("Defense Evasion"));
    let rows = parse_csv(&run(&args("coverage", "csv", &[])));
    assert_eq!(rows[0][0], "tactic");
    assert!(rows
        .iter()
        .any(|r| r[1] == "T1078.004" && r[3] == "aws.root.usage"));
}

#[test]
fn cis_status_follows_rules_findings_and_events() {
    let stored = audit_findings();
    let report = json_of(&args("cis", "json", &[]));
    let controls = report["controls"].as_array().unwrap();
    assert_eq!(controls.len(), 15);
    let control = |id: &str| controls.iter().find(|c| c["id"] == id).unwrap();
    // 4.3 root usage: the corpus has root activity, root-usage is loaded -> alerts, with
    // the findings of its rules and evidence in the account that used root.
    let root = control("4.3");
    assert_eq!(root["v6"], "5.3");
    assert_eq!(root["v7"], "5.3");
    assert_eq!(control("4.15")["v7"], "5.15");
    assert_eq!(root["status"], "monitored-alerts");
    let root_rules = [
        "aws.root.usage",
        "aws.root.read-only-usage",
        "aws.root.console-signin-failed",
    ];
    let expected = stored
        .iter()
        .filter(|f| root_rules.contains(&f["rule_id"].as_str().unwrap()))
        .count() as u64;
    assert_eq!(root["findings"], expected);
    let evidence = root["evidence"].as_array().unwrap();
    let alerting = evidence
        .iter()
        .find(|e| e["account"] == "493859302102" && e["region"] == "us-east-1")
        .unwrap();
    assert_eq!(alerting["status"], "monitored-alerts");
    assert!(alerting["events"].as_u64().unwrap() > 0);
    // An account and region that sent events but raised no root finding: quiet.
    assert!(evidence
        .iter()
        .any(|e| e["status"] == "monitored-quiet" && e["events"].as_u64().unwrap() > 0));
    // 4.7 (KMS keys): keys-secrets is not loaded here -> not monitored.
    assert_eq!(control("4.7")["status"], "not-monitored");
    assert!(control("4.7")["implemented_by"]
        .as_array()
        .unwrap()
        .is_empty());
    // 4.12 (network gateways): no shipped rule; its pattern is shipped.
    let gateways = control("4.12");
    assert_eq!(gateways["status"], "not-monitored");
    assert_eq!(
        gateways["pattern"]["detail"]["eventName"][0],
        "CreateCustomerGateway"
    );
    // 4.1 follows v5.0: the exclusions are required, not alternatives.
    assert!(control("4.1")["metric_filter"]
        .as_str()
        .unwrap()
        .contains("&& ($.eventName != \"HeadBucket\")"));

    // An account with no events: every implemented control is no-data.
    let silent = json_of(&args("cis", "json", &["--account", SILENT_ACCOUNT]));
    for c in silent["controls"].as_array().unwrap() {
        let implemented = !c["implemented_by"].as_array().unwrap().is_empty();
        let expected = if implemented {
            "no-data"
        } else {
            "not-monitored"
        };
        assert_eq!(c["status"], expected, "{}", c["id"]);
        for e in c["evidence"].as_array().unwrap() {
            assert_eq!(e["account"], SILENT_ACCOUNT);
            assert_eq!(e["events"], 0);
        }
    }
    assert_eq!(silent["controls"][2]["status"], "no-data");

    let html = run(&args("cis", "html", &[]));
    assert_self_contained(&html);
    assert!(html.contains("monitored-alerts") && html.contains("4.15"));
    let rows = parse_csv(&run(&args("cis", "csv", &[])));
    assert_eq!(rows[0][0], "control");
    assert_eq!(rows[0][1..3], ["v6", "v7"]);
    assert!(rows.iter().any(|r| r[0] == "4.3"
        && r[2] == "5.3"
        && r[5] == "493859302102"
        && r[10] == "monitored-alerts"));
}

/// Checks one object against the required attributes of the schema excerpt.
fn check_required(value: &Value, required: &Value, what: &str) {
    for attribute in required.as_array().unwrap() {
        let name = attribute.as_str().unwrap();
        assert!(
            value.get(name).is_some_and(|v| !v.is_null()),
            "{what}: required attribute {name} is missing: {value}"
        );
    }
}

#[test]
fn ocsf_export_has_every_required_attribute_of_detection_finding() {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(repo().join("docs/ocsf/detection_finding_2004.json")).unwrap(),
    )
    .unwrap();
    let stored = audit_findings();
    let text = run(&["export", "findings", "--format", "ocsf"]);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), stored.len());
    let objects = &schema["objects"];
    let mut uids = std::collections::BTreeSet::new();
    for finding in &lines {
        check_required(finding, &schema["class"]["required"], "class 2004");
        assert_eq!(finding["class_uid"], schema["class"]["uid"]);
        assert_eq!(finding["category_uid"], schema["class"]["category_uid"]);
        let activity = finding["activity_id"].as_u64().unwrap();
        assert_eq!(finding["type_uid"].as_u64().unwrap(), 2004 * 100 + activity);
        for (attribute, allowed) in schema["enums"].as_object().unwrap() {
            if let Some(v) = finding.get(attribute) {
                assert!(allowed.as_array().unwrap().contains(v), "{attribute} = {v}");
            }
        }
        assert!(
            finding["time"].as_i64().unwrap() > 0,
            "time is epoch milliseconds"
        );
        check_required(
            &finding["metadata"],
            &objects["metadata"]["required"],
            "metadata",
        );
        assert_eq!(finding["metadata"]["version"], schema["version"]);
        check_required(
            &finding["finding_info"],
            &objects["finding_info"]["required"],
            "finding_info",
        );
        let analytic = &finding["finding_info"]["analytic"];
        check_required(analytic, &objects["analytic"]["required"], "analytic");
        assert!(objects["analytic"]["enums"]["type_id"]
            .as_array()
            .unwrap()
            .contains(&analytic["type_id"]));
        check_required(&finding["cloud"], &objects["cloud"]["required"], "cloud");
        for evidence in finding["evidences"].as_array().unwrap() {
            if let Some(api) = evidence.get("api") {
                check_required(api, &objects["api"]["required"], "api");
            }
        }
        uids.insert(finding["finding_info"]["uid"].as_str().unwrap().to_string());
    }
    assert_eq!(uids.len(), lines.len(), "finding uids are unique");
    // The root-usage findings carry their ATT&CK technique and the event's facts.
    let root = lines
        .iter()
        .find(|f| f["finding_info"]["analytic"]["uid"] == "aws.root.usage")
        .unwrap();
    assert!(root["finding_info"]["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["technique"]["uid"] == "T1078.004" && a["tactic"]["uid"] == "TA0001"));
    assert_eq!(root["cloud"]["provider"], "AWS");
    assert!(root["cloud"]["account"]["uid"].is_string());
    assert_eq!(root["severity_id"], 4);

    // --since keeps the findings from that time on: by event time, or, where the record's
    // time is a placeholder (the corpus has "..."), by the time recorded.
    let since = "2020-01-01T00:00:00Z";
    let later = stored
        .iter()
        .filter(|f| {
            let time = f["event_time"]
                .as_str()
                .filter(|t| humantime::parse_rfc3339_weak(&t[..t.len().min(19)]).is_ok())
                .unwrap_or_else(|| f["recorded_at"].as_str().unwrap());
            time >= since
        })
        .count();
    assert!(later > 0 && later < stored.len());
    let exported = run(&["export", "findings", "--format", "jsonl", "--since", since]);
    assert_eq!(exported.lines().count(), later);
    let rows = parse_csv(&run(&["export", "findings", "--format", "csv"]));
    assert_eq!(rows.len(), stored.len() + 1);
    assert_eq!(rows[0][2], "rule_id");
}

/// POSTs JSON to moto over plain HTTP and returns the status and body.
fn post_json(endpoint: &str, path: &str, body: &Value) -> (u16, Value) {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    let body = body.to_string();
    // moto reads the region from the signature's credential scope; it does not check it.
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/securityhub/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.push_str(&tail[..size]);
            rest = &tail[size + 2..];
        }
        out
    } else {
        body.to_string()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

#[test]
fn asff_export_has_the_required_fields_and_imports_into_security_hub() {
    let stored = audit_findings();
    let out = {
        let fixture = fixture();
        trailwarden(&[
            "export",
            "findings",
            "--format",
            "asff",
            "--config",
            &fixture.config,
        ])
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    // Findings whose records name no 12-digit account cannot go to Security Hub: they are
    // counted on stderr, and stay in the audit store.
    let without_account = stored
        .iter()
        .filter(|f| {
            !f["context"]["account"]
                .as_str()
                .is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    assert_eq!(findings.len() + without_account, stored.len());
    if without_account > 0 {
        assert!(stderr(&out).contains(&format!(
            "{without_account} findings name no 12-digit AWS account"
        )));
    }
    for finding in &findings {
        for field in trailwarden::report::asff::REQUIRED {
            assert!(finding.get(field).is_some(), "{field} missing: {finding}");
        }
        assert_eq!(finding["SchemaVersion"], "2018-10-08");
        let label = finding["Severity"]["Label"].as_str().unwrap();
        assert!(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&label));
        for time in ["CreatedAt", "UpdatedAt"] {
            let t = finding[time].as_str().unwrap();
            assert!(humantime::parse_rfc3339(t).is_ok(), "{time} = {t}");
        }
        assert!(finding["Title"].as_str().unwrap().chars().count() <= 256);
        assert!(finding["Description"].as_str().unwrap().chars().count() <= 1024);
        for t in finding["Types"].as_array().unwrap() {
            assert_eq!(t.as_str().unwrap().split('/').count(), 2, "{t}");
        }
        let resources = finding["Resources"].as_array().unwrap();
        assert!(!resources.is_empty());
        for r in resources {
            assert!(r["Type"].is_string() && r["Id"].is_string(), "{r}");
        }
        let account = finding["AwsAccountId"].as_str().unwrap();
        assert!(finding["ProductArn"].as_str().unwrap().contains(account));
    }
    // The API call that raised it, from the event.
    let created_user = findings
        .iter()
        .find(|f| f["Action"]["AwsApiCallAction"]["Api"] == "CreateUser")
        .expect("identity-changes flags the corpus's CreateUser");
    assert_eq!(created_user["Action"]["ActionType"], "AWS_API_CALL");
    assert_eq!(
        created_user["Action"]["AwsApiCallAction"]["ServiceName"],
        "iam.amazonaws.com"
    );

    // Imported into moto's Security Hub (BatchImportFindings takes 100 per call) and read
    // back. moto itself checks only that Resources is not empty; the fields are checked above.
    let moto = Moto::start();
    for batch in findings.chunks(trailwarden::report::asff::BATCH_MAX) {
        let (status, answer) = post_json(
            &moto.endpoint,
            "/findings/import",
            &json!({ "Findings": batch }),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["FailedCount"], 0, "{answer}");
        assert_eq!(answer["SuccessCount"], batch.len() as u64);
    }
    let (status, answer) = post_json(&moto.endpoint, "/findings", &json!({"MaxResults": 100}));
    assert_eq!(status, 200, "{answer}");
    let ids: std::collections::BTreeSet<&str> = answer["Findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["Id"].as_str().unwrap())
        .collect();
    let exported: std::collections::BTreeSet<&str> =
        findings.iter().map(|f| f["Id"].as_str().unwrap()).collect();
    assert_eq!(ids, exported);
}

#[test]
fn bad_arguments_are_refused_with_the_reason() {
    let fixture = fixture();
    let cases: &[(&[&str], &str)] = &[
        (&["report", "activity", "--since", "yesterday"], "--since"),
        (&["report", "cis", "--account", "12345"], "12-digit"),
        (
            &[
                "report",
                "activity",
                "--since",
                "2024-02-01",
                "--until",
                "2024-01-01",
            ],
            "is after",
        ),
        (
            &["export", "findings", "--format", "ocsf", "--until", "soon"],
            "--until",
        ),
    ];
    for (args, reason) in cases {
        let mut all = args.to_vec();
        all.extend(["--config", &fixture.config]);
        let out = trailwarden(&all);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr(&out).contains(reason), "{args:?}: {}", stderr(&out));
    }
    // No audit database: says where it looked.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trailwarden.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\ndatabase = \"{}\"\n",
            dir.path().join("none.db").display()
        ),
    )
    .unwrap();
    let out = trailwarden(&["report", "activity", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no audit database at"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.path().join("none.db").exists(),
        "a report never creates a database"
    );
}
