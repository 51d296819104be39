//! `trailwarden rules list` over the example configuration, as an admin runs it: every
//! shipped plugin's catalog, the paired responses in the modes the config grants, and the
//! Sigma rules loaded or refused with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

use crate::support::{guest, repo};

fn trailwarden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(args)
        .output()
        .unwrap()
}

/// The example config, with its relative paths made absolute and its cache in `dir`.
fn example_config(dir: &Path) -> String {
    let text = std::fs::read_to_string(repo().join("examples/trailwarden.toml")).unwrap();
    let examples = repo().join("examples");
    let text = text
        .replace("\"../", &format!("\"{}/../", examples.display()))
        .replace(
            "cache_dir = \".trailwarden/cache\"",
            &format!("cache_dir = \"{}\"", dir.join("cache").display()),
        )
        .replace(
            "database = \"demo.db\"",
            &format!("database = \"{}\"", dir.join("demo.db").display()),
        );
    let path = dir.join("trailwarden.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn configured_plugins(config: &str) -> BTreeSet<String> {
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    table["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("enabled").and_then(toml::Value::as_bool) != Some(false))
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// `rules list --format json` over the example config (run once for the tests of this
/// module: loading every shipped plugin compiles them), and the config's path.
fn example_rules() -> &'static (String, Vec<Value>) {
    static RULES: OnceLock<(String, Vec<Value>)> = OnceLock::new();
    RULES.get_or_init(|| {
        // Kept for the whole test run (the config and its cache live there), replaced by the
        // next run.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rules-example-config");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = example_config(&dir);
        let out = trailwarden(&["rules", "list", "--config", &config, "--format", "json"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            !stderr.contains("warning"),
            "every plugin has a catalog: {stderr}"
        );
        (config, serde_json::from_slice(&out.stdout).unwrap())
    })
}

#[test]
fn rules_list_shows_every_detection_with_its_response_in_the_granted_mode() {
    let (config, rows) = example_rules();
    let config = config.as_str();

    let mut ids = BTreeSet::new();
    let mut by_plugin: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for row in rows {
        for key in [
            "id",
            "plugin",
            "severity",
            "technique",
            "response",
            "title",
            "status",
        ] {
            assert!(row[key].is_string(), "{key} missing in {row}");
        }
        for key in ["panther", "cis"] {
            assert!(
                row[key]
                    .as_array()
                    .is_some_and(|l| l.iter().all(Value::is_string)),
                "{key} is a list of ids in {row}"
            );
        }
        assert!(
            ids.insert(row["id"].as_str().unwrap()),
            "duplicate rule id in {row}"
        );
        by_plugin
            .entry(row["plugin"].as_str().unwrap().to_string())
            .or_default()
            .push(row);
        if row["plugin"] != "sigma" {
            assert!(
                row["technique"].as_str().unwrap().starts_with('T'),
                "an ATT&CK technique: {row}"
            );
            assert_eq!(row["status"], "active", "{row}");
        }
    }
    let plugins: BTreeSet<String> = by_plugin.keys().cloned().collect();
    assert_eq!(
        plugins,
        configured_plugins(config),
        "every configured plugin lists its rules"
    );

    let rule = |id: &str| {
        rows.iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed"))
    };
    assert_eq!(rule("aws.root.usage")["plugin"], "root-usage");
    assert_eq!(rule("aws.root.usage")["response"], "notify.send (dry-run)");
    assert_eq!(
        rule("aws.iam.access-key-created-for-other-user")["response"],
        "iam.disable-access-key (dry-run)"
    );
    assert!(
        rule("aws.iam.admin-policy-attached")["response"]
            .as_str()
            .unwrap()
            .contains("(approve)"),
        "the example asks a person to confirm each detach"
    );

    // The Sigma rules shipped in rules/sigma/cloudtrail: each loaded or refused with a reason.
    let shipped = std::fs::read_dir(repo().join("rules/sigma/cloudtrail"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yml")
        })
        .count();
    let sigma = &by_plugin["sigma"];
    assert_eq!(
        sigma.len(),
        shipped,
        "one catalog entry per Sigma rule file"
    );
    let refused: Vec<&&Value> = sigma.iter().filter(|r| r["status"] == "refused").collect();
    for r in &refused {
        assert!(
            r["reason"].as_str().is_some_and(|s| !s.is_empty()),
            "a refused rule says why: {r}"
        );
    }
    assert!(
        refused.len() * 4 < sigma.len(),
        "most Sigma rules load ({} of {} refused)",
        refused.len(),
        sigma.len()
    );
    println!(
        "rules list: {} rules in {} plugins; sigma {} loaded, {} refused",
        rows.len(),
        plugins.len(),
        sigma.len() - refused.len(),
        refused.len()
    );

    // Panther's rules from each plugin's panther.json, CIS controls from `report cis`.
    assert_eq!(
        rule("aws.kms.key-policy-public")["panther"],
        serde_json::json!(["AWS.CloudTrail.ResourceMadePublic"])
    );
    assert_eq!(
        rule("aws.s3.bucket-policy-public")["cis"],
        serde_json::json!(["4.8"])
    );
    assert_eq!(rule("aws.root.usage")["cis"], serde_json::json!(["4.3"]));
    let mapped: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r["plugin"] != "sigma")
        .flat_map(|r| r["panther"].as_array().unwrap())
        .map(|p| p.as_str().unwrap())
        .collect();
    println!(
        "rules list: {} Panther rules mapped to our own rules",
        mapped.len()
    );
    assert!(mapped.len() >= 100, "{} Panther rules mapped", mapped.len());

    let table = trailwarden(&["rules", "list", "--config", config]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success());
    assert!(text.starts_with("ID "), "{text}");
    assert!(text.contains("rules active in"), "{text}");
}

const TABLE_START: &str = "<!-- rule table: generated by `make rules-doc`";
const TABLE_END: &str = "<!-- end of rule table -->";

/// The rule table of docs/plugins.md, rendered from `rules list --format json` rows: one
/// line per active rule of our own, in the config's order, and one line for the Sigma rules.
fn rule_table(rows: &[Value]) -> String {
    let list = |v: &Value, quote: bool| {
        let items: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|s| {
                if quote {
                    format!("`{s}`")
                } else {
                    s.to_owned()
                }
            })
            .collect();
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let (sigma, ours): (Vec<&Value>, Vec<&Value>) =
        rows.iter().partition(|r| r["plugin"] == "sigma");
    let ours: Vec<&Value> = ours
        .into_iter()
        .filter(|r| r["status"] == "active")
        .collect();
    let plugins: BTreeSet<&str> = ours.iter().map(|r| r["plugin"].as_str().unwrap()).collect();
    let mapped: BTreeSet<&str> = ours
        .iter()
        .flat_map(|r| r["panther"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    let sigma_active: Vec<&&Value> = sigma.iter().filter(|r| r["status"] == "active").collect();
    let mut out = format!(
        "{TABLE_START} from `trailwarden rules list --format json` over examples/trailwarden.toml; \
         a test checks it is current -->\n{} rules of our own in {} plugins, mapped to {} Panther \
         rules, and {} Sigma rules ({} loaded):\n\n\
         | plugin | rule id | severity | ATT&CK | Panther | CIS | paired response (mode in the example config) |\n\
         |---|---|---|---|---|---|---|\n",
        ours.len(),
        plugins.len(),
        mapped.len(),
        sigma.len(),
        sigma_active.len()
    );
    for r in &ours {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} |\n",
            text(&r["plugin"]),
            text(&r["id"]),
            text(&r["severity"]),
            text(&r["technique"]),
            list(&r["panther"], true),
            list(&r["cis"], false),
            text(&r["response"])
        ));
    }
    if !sigma.is_empty() {
        let panther: BTreeSet<&str> = sigma_active
            .iter()
            .flat_map(|r| r["panther"].as_array().unwrap())
            .filter_map(Value::as_str)
            .collect();
        let cis: BTreeSet<&str> = sigma_active
            .iter()
            .flat_map(|r| r["cis"].as_array().unwrap())
            .filter_map(Value::as_str)
            .collect();
        let responses: BTreeSet<&str> = sigma_active
            .iter()
            .filter_map(|r| r["response"].as_str())
            .collect();
        out.push_str(&format!(
            "| sigma | `sigma.<Sigma id>` × {} | from `level` | from `attack.t*` tags | {} (`plugins/sigma/panther.json`) | {} | {} |\n",
            sigma_active.len(),
            panther.len(),
            if cis.is_empty() { "-".to_owned() } else { cis.into_iter().collect::<Vec<_>>().join(", ") },
            responses.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    out.push_str(TABLE_END);
    out
}

/// docs/plugins.md's rule table is what `rules list` says today. `make rules-doc` rewrites
/// it (this test with `UPDATE_RULE_TABLE=1`).
#[test]
fn the_rule_table_in_the_docs_is_generated_from_rules_list() {
    let (_, rows) = example_rules();
    let path = repo().join("docs/plugins.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let start = doc
        .find(TABLE_START)
        .expect("docs/plugins.md has the table's start marker");
    let end = doc[start..].find(TABLE_END).expect("and its end marker") + start + TABLE_END.len();
    let generated = rule_table(rows);
    if std::env::var_os("UPDATE_RULE_TABLE").is_some() {
        std::fs::write(
            &path,
            format!("{}{generated}{}", &doc[..start], &doc[end..]),
        )
        .unwrap();
        return;
    }
    assert!(
        doc[start..end] == generated,
        "docs/plugins.md's rule table is out of date: run `make rules-doc`\n--- generated:\n{generated}"
    );
}

#[test]
fn a_component_without_a_catalog_is_named_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trailwarden.toml");
    std::fs::write(
        &config,
        format!(
            "[engine]\ncache_dir = \"{}\"\n[[plugins]]\npath = \"{}\"\n",
            dir.path().join("cache").display(),
            guest("legacy-v010").display()
        ),
    )
    .unwrap();
    let out = trailwarden(&["rules", "list", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("contract 0.1.0 has no rule catalog"),
        "{stderr}"
    );
}

/// Sigma rules an admin gives through `config_files`: a supported one raises findings with
/// the rule's id, title, level and tags; an unsupported one is listed as refused, with why.
#[test]
fn sigma_rules_from_config_files_load_or_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("sigma");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("good.yml"),
        "title: Trail logging stopped by anyone\n\
         id: 11111111-2222-3333-4444-555555555555\n\
         level: high\n\
         tags:\n  - attack.t1562.008\n\
         logsource:\n  product: aws\n  service: cloudtrail\n\
         detection:\n  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName|startswith: 'stopl'\n  condition: selection\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("counting.yml"),
        "title: Many sign-ins\n\
         id: 66666666-7777-8888-9999-000000000000\n\
         level: low\n\
         logsource:\n  product: aws\n  service: cloudtrail\n\
         detection:\n  selection:\n    eventName: ConsoleLogin\n  condition: selection | count() > 10\n",
    )
    .unwrap();
    let config = dir.path().join("trailwarden.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\ndatabase = \"{}\"\n[engine]\ncache_dir = \"{}\"\n\
             [[plugins]]\npath = \"{}\"\nname = \"sigma\"\nconfig_files = {{ rules = \"sigma\" }}\n",
            dir.path().join("audit.db").display(),
            dir.path().join("cache").display(),
            crate::support::plugin("sigma").display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let out = trailwarden(&["rules", "list", "--config", config, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows.len(),
        2,
        "only the configured rules replace the shipped set: {rows:?}"
    );
    let good = rows
        .iter()
        .find(|r| r["id"] == "sigma.11111111-2222-3333-4444-555555555555")
        .unwrap();
    assert_eq!(good["status"], "active");
    assert_eq!(good["severity"], "high");
    assert_eq!(good["technique"], "T1562.008");
    let counting = rows
        .iter()
        .find(|r| r["id"] == "sigma.66666666-7777-8888-9999-000000000000")
        .unwrap();
    assert_eq!(counting["status"], "refused");
    let reason = counting["reason"].as_str().unwrap();
    assert!(
        reason.contains("count"),
        "the reason names the aggregation: {reason}"
    );

    // The supported rule fires through the real pipeline, with the Sigma metadata.
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        concat!(
            r#"{"eventVersion":"1.08","eventID":"sigma-1","eventTime":"2026-11-20T10:00:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/eve","accountId":"111122223333","userName":"eve"},"requestParameters":{"name":"main"}}"#,
            "\n",
            r#"{"eventVersion":"1.08","eventID":"sigma-2","eventTime":"2026-11-20T10:00:01Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StartLogging","awsRegion":"us-east-1","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/eve","accountId":"111122223333","userName":"eve"},"requestParameters":{"name":"main"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = trailwarden(&["replay", "--config", config, events.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = trailwarden(&["audit", "findings", "--config", config, "--format", "json"]);
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    let finding = &findings[0];
    assert_eq!(
        finding["rule_id"],
        "sigma.11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(finding["event_id"], "sigma-1");
    assert_eq!(finding["title"], "Trail logging stopped by anyone");
    let context = &finding["context"];
    let context: Value = match context {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    assert_eq!(context["level"], "high");
    assert!(
        context["tags"].to_string().contains("attack.t1562.008"),
        "{context}"
    );
}
