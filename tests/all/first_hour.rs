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
