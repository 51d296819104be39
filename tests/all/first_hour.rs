//! The command line as a new user meets it in the first hour: every argument explains itself
//! in `--help`, names match what the tables print, `plugin list` is where the plugins are
//! listed, a mistake gets one line of error, and the demo tells its story.

use std::process::Command;

use clap::CommandFactory;

/// Every argument of every (sub)command, with the path of commands leading to it.
fn arguments(command: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
    for arg in command.get_arguments() {
        out.push((path.to_string(), arg.clone()));
    }
    for sub in command.get_subcommands() {
        arguments(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

#[test]
fn every_argument_of_every_command_has_help_text() {
    let mut all = Vec::new();
    arguments(&trailwarden::cli::Cli::command(), "trailwarden", &mut all);
    assert!(
        all.len() > 40,
        "the walk found the arguments: {}",
        all.len()
    );
    let missing: Vec<String> = all
        .iter()
        .filter(|(_, arg)| !matches!(arg.get_id().as_str(), "help" | "version"))
        .filter(|(_, arg)| {
            arg.get_help()
                .is_none_or(|help| help.to_string().trim().is_empty())
        })
        .map(|(path, arg)| format!("{path}: {}", arg.get_id()))
        .collect();
    assert!(missing.is_empty(), "arguments without help: {missing:#?}");
}

fn trailwarden(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn plugin_list_is_the_name_and_plugins_a_hidden_alias() {
    let help = String::from_utf8(trailwarden(&["--help"]).stdout).unwrap();
    assert!(
        !help.lines().any(|l| l.trim_start().starts_with("plugins ")),
        "`plugins` is not offered beside `plugin`:\n{help}"
    );
    let plugin_help = String::from_utf8(trailwarden(&["plugin", "--help"]).stdout).unwrap();
    assert!(
        plugin_help
            .lines()
            .any(|l| l.trim_start().starts_with("list ")),
        "{plugin_help}"
    );
    // Both list the configured plugins, the same way.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trailwarden.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\ndatabase = \"{}\"\n[engine]\ncache_dir = \"{}\"\n[[plugins]]\npath = \"{}\"\n",
            dir.path().join("audit.db").display(),
            dir.path().join("cache").display(),
            crate::support::plugin("root-usage").display()
        ),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let list = trailwarden(&["plugin", "list", "--config", c]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let text = String::from_utf8(list.stdout.clone()).unwrap();
    assert!(text.contains("root-usage"), "{text}");
    assert_eq!(trailwarden(&["plugins", "--config", c]).stdout, list.stdout);
}

#[test]
fn plugin_inspect_says_whose_batches_may_run_side_by_side() {
    for (name, batches) in [
        ("sigma", "batches     side by side"),
        ("root-usage", "batches     one at a time"),
    ] {
        let path = crate::support::plugin(name);
        let inspect = trailwarden(&["plugin", "inspect", path.to_str().unwrap()]);
        // Without a config nothing is granted: root-usage's notify import is reported as
        // refused (and the command fails), after what it says of its batches.
        let text = String::from_utf8_lossy(&inspect.stdout);
        assert!(text.contains(batches), "{name}: {text}");
        let imports_state = text.contains("trailwarden:plugin/state@");
        assert_eq!(imports_state, name != "sigma", "{name}: {text}");
    }
}

#[test]
fn help_says_what_since_filters_on_and_statuses_are_the_table_names() {
    let help = String::from_utf8(trailwarden(&["audit", "findings", "--help"]).stdout).unwrap();
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("CloudTrail event time"), "{help}");
    assert!(flat.contains("--recorded-since"), "{help}");
    let help = String::from_utf8(trailwarden(&["actions", "list", "--help"]).stdout).unwrap();
    assert!(help.contains("pending_approval"), "{help}");
}

#[test]
fn findings_filter_on_event_time_or_recorded_time_and_statuses_by_table_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trailwarden.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\ndatabase = \"{}\"\n[engine]\ncache_dir = \"{}\"\n[[plugins]]\npath = \"{}\"\nungranted_imports = \"deny\"\n",
            dir.path().join("audit.db").display(),
            dir.path().join("cache").display(),
            crate::support::plugin("root-usage").display()
        ),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    // The example's logs are from 2026-11-20: old by event time, new by recorded time.
    let logs = crate::support::repo().join("examples/logs");
    let out = trailwarden(&["replay", "--config", c, logs.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let count = |args: &[&str]| -> usize {
        let mut all = vec!["audit", "findings", "--config", c, "--format", "json"];
        all.extend_from_slice(args);
        let out = trailwarden(&all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
            .unwrap()
            .len()
    };
    let total = count(&[]);
    assert!(total >= 3, "{total}");
    assert_eq!(count(&["--since", "2030-01-01T00:00:00Z"]), 0);
    assert_eq!(count(&["--recorded-since", "1h"]), total);
    assert_eq!(count(&["--recorded-since", "2099-01-01T00:00:00Z"]), 0);
    let bad = trailwarden(&[
        "audit",
        "findings",
        "--config",
        c,
        "--recorded-since",
        "soon",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--recorded-since"));
    // The names the actions table prints are accepted by --status.
    for status in ["pending_approval", "pending", "dry_run", "denied"] {
        let out = trailwarden(&["actions", "list", "--config", c, "--status", status]);
        assert!(
            out.status.success(),
            "{status}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_file_that_is_not_wasm_gets_one_line_and_keeps_the_plugin_table_whole() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.wasm");
    std::fs::write(&bad, "these are my notes, not a plugin\n").unwrap();
    let config = dir.path().join("trailwarden.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\ndatabase = \"{}\"\n[engine]\ncache_dir = \"{}\"\n\
             [[plugins]]\npath = \"{}\"\n[[plugins]]\npath = \"{}\"\n",
            dir.path().join("audit.db").display(),
            dir.path().join("cache").display(),
            bad.display(),
            crate::support::plugin("root-usage").display()
        ),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let list = trailwarden(&["plugin", "list", "--config", c]);
    let table = String::from_utf8(list.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "a header and one line per plugin:\n{table}");
    assert!(lines[1].contains("unloadable") && lines[1].contains("not a WebAssembly file"));
    assert!(lines[2].contains("root-usage") && lines[2].contains("active"));

    let events = dir.path().join("e.jsonl");
    std::fs::write(&events, "").unwrap();
    let replay = trailwarden(&["replay", "--config", c, events.to_str().unwrap()]);
    assert!(!replay.status.success());
    let stderr = String::from_utf8(replay.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("notes.wasm") && stderr.contains("not a WebAssembly file"),
        "{stderr}"
    );
}

/// The example config (`make demo`) with its database in `dir`, its plugins from this
/// checkout, and a compile cache shared by test runs.
fn demo_config(dir: &std::path::Path) -> std::path::PathBuf {
    let repo = crate::support::repo();
    let text = std::fs::read_to_string(repo.join("examples/trailwarden.toml"))
        .unwrap()
        .replace(
            "\"../plugins/dist/",
            &format!("\"{}/plugins/dist/", repo.display()),
        )
        .replace(
            "cache_dir = \".trailwarden/cache\"",
            &format!(
                "cache_dir = \"{}\"",
                repo.join("target/test-demo-cache").display()
            ),
        );
    let path = dir.join("trailwarden.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Every line has a space at each column boundary: no value ran into the next column.
fn assert_columns(table: &str, boundaries: &[usize]) {
    for line in table.lines().filter(|l| !l.is_empty()) {
        let chars: Vec<char> = line.chars().collect();
        for &at in boundaries {
            assert_eq!(
                chars.get(at),
                Some(&' '),
                "column boundary {at} in:\n{line}"
            );
        }
    }
}

#[test]
fn the_demo_says_what_was_found_why_and_what_to_type_next() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let c = config.to_str().unwrap();
    let logs = crate::support::repo().join("examples/logs");
    let replay = trailwarden(&[
        "replay",
        "--config",
        c,
        "--summary-only",
        logs.to_str().unwrap(),
    ]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(
        replay.stdout.is_empty(),
        "--summary-only prints no finding rows"
    );
    let summary = String::from_utf8(replay.stderr).unwrap();
    // The key lines a user reads: everything read is accounted for.
    for line in [
        "  events read      29",
        // The CloudTrail Insights event of the sample logs is an event of its own kind.
        "  normalised       28",
        "  rejected         1",
        "    invalid_json         1",
    ] {
        assert!(
            summary.lines().any(|l| l == line),
            "{line:?} in:\n{summary}"
        );
    }
    let findings: usize = summary
        .lines()
        .find_map(|l| l.strip_prefix("  findings         "))
        .unwrap_or_else(|| panic!("no findings line:\n{summary}"))
        .parse()
        .unwrap();
    let flagged: usize = summary
        .lines()
        .find_map(|l| l.strip_prefix("  flagged events   "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no flagged events line:\n{summary}"))
        .parse()
        .unwrap();
    assert!(flagged < findings, "{summary}");
    assert!(summary.contains("audit findings --by-event"), "{summary}");

    // One line per event: the root console sign-in without MFA is one event that four
    // detections flag (root use, no MFA, and two Sigma rules): shown once, most severe first.
    let out = trailwarden(&["audit", "findings", "--config", c, "--by-event"]);
    let by_event = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = by_event.lines().collect();
    assert_eq!(
        rows.len(),
        flagged + 2,
        "header, one line per event, footer:\n{by_event}"
    );
    assert_eq!(
        rows.last().unwrap(),
        &format!("{findings} findings on {flagged} events (`--format json` has each in full)")
    );
    let root = rows
        .iter()
        .find(|r| r.contains("3f1c0e5a-0001"))
        .unwrap_or_else(|| panic!("the root sign-in:\n{by_event}"));
    assert!(root.starts_with("CRITICAL"), "{root}");
    assert!(root.contains(" 111122223333:root "), "{root}");
    assert!(
        rows.iter().any(|r| r.contains(" 111122223333:user/alice ")),
        "principals keep their names:\n{by_event}"
    );
    assert!(
        root.contains("Console sign-in without MFA by the root user")
            && root.contains("[+3 more: root-usage, sigma: AWS Root Credentials, sigma: AWS Successful Console Login Without MFA]"),
        "{root}"
    );
    assert_columns(&rows[..rows.len() - 1].join("\n"), &[8, 29, 54, 89]);

    // The findings table: Sigma rules by their title, long ids cut with an ellipsis; JSON
    // has them in full.
    let out = trailwarden(&["audit", "findings", "--config", c]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("sigma: AWS Root Credentials"), "{table}");
    assert!(
        !table.contains("sigma.8ad1600d"),
        "no bare Sigma UUIDs:\n{table}"
    );
    assert!(table.contains('…'));
    assert_columns(&table, &[8, 45, 68, 89, 114]);
    let out = trailwarden(&["audit", "findings", "--config", c, "--format", "json"]);
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(json.contains("\"sigma.8ad1600d-e9dc-4251-b0ee-a65268f29add\""));
    assert!(json.contains("\"demo-idc-backdoor-role-panther\""));

    // Actions: each says which event and why, and the next command is printed.
    let out = trailwarden(&["actions", "list", "--config", c]);
    let actions = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = actions.lines().filter(|l| l.starts_with("act-")).collect();
    assert!(!rows.is_empty(), "{actions}");
    let reason_at = actions.lines().next().unwrap().find("REASON").unwrap();
    for row in &rows {
        assert!(
            row.chars().count() > reason_at + 5,
            "a reason for every action: {row}"
        );
    }
    assert_columns(&rows.join("\n"), &[16, 33, 60, 83, 124]);
    let pending = rows
        .iter()
        .find(|r| r.contains("pending_approval"))
        .unwrap_or_else(|| panic!("{actions}"));
    assert!(pending.contains("3f1c0e5a-0013"), "its event: {pending}");
    assert!(
        pending.contains("AdministratorAccess attached to IAM user alice"),
        "{pending}"
    );
    assert!(
        actions.contains(&format!(
            "approve with: trailwarden actions approve ID --config {c}"
        )),
        "{actions}"
    );
}
