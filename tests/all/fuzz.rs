//! Fuzzing the config parser (`Config::parse`: TOML, then every table's validation):
//! mutations of the example config and of a config using every table, for `FUZZ_SECONDS`
//! (default 10). It never panics nor takes longer than ten seconds (a hang), and a refused config
//! says why. The other targets live beside their parsers: `crates/cloudtrail-normalize`
//! and `crates/event-pattern` (`tests/fuzz*.rs`), `plugins/sigma/tests/fuzz.rs`; the
//! mutator is `tests/fuzz/mutate.rs`. `make fuzz FUZZ_SECONDS=600` runs them all longer.

#[path = "../fuzz/mutate.rs"]
mod mutate;

use trailwarden::config::Config;

use crate::support::repo;

/// A config with every table the daemon reads.
const FULL: &str = r#"
[audit]
database = "audit.db"
[engine]
cache_dir = "cache"
batch_size = 64
workers = 2
max_batch_bytes = 1048576
[aws]
region = "us-east-1"
platform_account = "111122223333"
self_principals = ["arn:aws:iam::*:role/trailwarden-*"]
[aws.assume_role]
"444455556666" = "arn:aws:iam::444455556666:role/trailwarden-responder"
[daemon]
listen = "127.0.0.1:8787"
max_body_bytes = 10485760
queue_events = 10000
stall_after_s = 60
exit_on_stall = true
stall_exit_grace_s = 60
[sqs]
queue_url = "https://sqs.eu-west-1.amazonaws.com/111122223333/cloudtrail"
buckets = ["org-trail-logs"]
[dedup]
enabled = true
window = "24h"
[executor]
backoff_ms = 100
[[plugins]]
path = "plugins/dist/root-usage.wasm"
name = "root-usage"
mode = "enforce"
cpu_deadline_ms = 100
[[plugins.grants]]
capability = "iam.disable-access-key"
accounts = ["111122223333"]
resources = ["arn:aws:iam::*:user/*"]
"#;

const TOKENS: &[&str] = &[
    "[[plugins]]\n",
    "[daemon]\n",
    "[aws]\n",
    "[[plugins.grants]]\n",
    "[dedup]\n",
    "[sqs]\n",
    " = ",
    "\"\"\"",
    "'''",
    "inf",
    "nan",
    "-9223372036854775808",
    "18446744073709551616",
    "0x7fffffff",
    "1979-05-27T07:32:00Z",
    "config_files = [\"/\"]\n",
    "path = \"/dev/zero\"\n",
    "window = \"0s\"\n",
    "window = \"99999999999d\"\n",
    "listen = \"0.0.0.0:0\"\n",
    "max_body_bytes = 0\n",
    "stall_after_s = 0\n",
    "workers = 0\n",
    "\\u0000",
];

#[test]
fn fuzzed_configs_never_panic_or_hang_and_a_refusal_says_why() {
    let base = tempfile::tempdir().unwrap();
    let example = std::fs::read(repo().join("examples/trailwarden.toml")).unwrap();
    let seeds = vec![example, FULL.as_bytes().to_vec()];
    for seed in &seeds {
        let text = std::str::from_utf8(seed).unwrap();
        if let Err(e) = Config::parse(text, base.path()) {
            // A seed may name files that are not there; it must still be understood TOML.
            assert!(!format!("{e:#}").contains("TOML parse error"), "{e:#}");
        }
    }
    let dir = repo().join("target/fuzz-failures");
    let parsed = std::cell::Cell::new(0u64);
    let report = mutate::fuzz("config", &seeds, TOKENS, &dir, |input| {
        let text = String::from_utf8_lossy(input);
        match Config::parse(&text, base.path()) {
            Ok(_) => parsed.set(parsed.get() + 1),
            Err(e) => assert!(!format!("{e:#}").trim().is_empty(), "an empty error"),
        }
    });
    mutate::assert_clean(&report);
    println!("config: {} mutated configs accepted", parsed.get());
}
