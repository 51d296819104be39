//! Test fixture, not a plugin: for every batch, `handle` tries what a guest could reach
//! through WASI (Rust's std on `wasm32-wasip2`) and returns one finding [`RULE_ID`] whose
//! `context` is a JSON object of what each attempt got. A failed attempt is recorded, never
//! a trap.
//!
//! The keys of the context (see [`probe`]): strings are `"ok: ..."` or `"error: <error>"`.
//!
//! | key | attempt | under a deny-all host |
//! |---|---|---|
//! | `env_count` | `std::env::vars_os().count()` | `0` |
//! | `home` | `std::env::var_os("HOME")`, lossy text | `null` |
//! | `args_count` | `std::env::args_os().count()` | `0` |
//! | `cwd` | `std::env::current_dir()` | `"error: ..."` |
//! | `passwd` | `std::fs::read("/etc/passwd")` | `"error: ..."` |
//! | `dot` | `std::fs::File::open(".")` | `"error: ..."` |
//! | `root` | `std::fs::read_dir("/")`, entries counted | `"error: ..."` |
//! | `tcp` | `TcpStream::connect(127.0.0.1:1)` | `"error: ..."` |
//! | `stdout` | a line written to `std::io::stdout()` (not `println!`, which panics on failure) | either; never seen by anyone |
//! | `clock_unix_s` | `SystemTime::now()` since the Unix epoch, in seconds (or `"error: ..."`) | a number |
//! | `random_ok`, `random_hash` | `RandomState::new().hash_one(0)` (std seeds it from `wasi:random`) | `true`, 16 hex digits |

use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{SystemTime, UNIX_EPOCH};

use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError, Severity};

/// The hostile guest.
pub struct WasiProbe;

/// The rule id of its finding.
pub const RULE_ID: &str = "test.wasi-probe";

impl Plugin for WasiProbe {
    fn describe() -> Descriptor {
        Descriptor::every_event(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn handle(events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
        let event_id = events.first().map_or("none", |e| e.id.as_str());
        Ok(vec![Finding {
            rule_id: RULE_ID.to_owned(),
            severity: Severity::Info,
            title: "what WASI gave this guest".to_owned(),
            description: format!("WASI probe over a batch of {} event(s)", events.len()),
            resources: Vec::new(),
            dedup_key: format!("{RULE_ID}:{event_id}"),
            event_id: event_id.to_owned(),
            context: probe().to_string(),
        }])
    }
}

/// `"ok: <what>"` or `"error: <error>"`.
fn outcome<E: std::fmt::Display>(result: Result<String, E>) -> String {
    match result {
        Ok(what) => format!("ok: {what}"),
        Err(e) => format!("error: {e}"),
    }
}

/// Every attempt, as the JSON object described in the crate's documentation.
pub fn probe() -> Value {
    let env_count = std::env::vars_os().count();
    let home = std::env::var_os("HOME").map(|v| v.to_string_lossy().into_owned());
    let args_count = std::env::args_os().count();
    let cwd = outcome(std::env::current_dir().map(|p| p.display().to_string()));
    let passwd = outcome(std::fs::read("/etc/passwd").map(|b| format!("read {} bytes", b.len())));
    let dot = outcome(std::fs::File::open(".").map(|_| "opened".to_owned()));
    let root = outcome(std::fs::read_dir("/").map(|dir| format!("{} entries", dir.count())));
    let tcp = outcome(
        TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], 1)))
            .map(|s| format!("connected to {:?}", s.peer_addr().ok())),
    );
    let stdout = outcome(
        writeln!(std::io::stdout(), "wasi-probe: hello from the guest")
            .and_then(|()| std::io::stdout().flush())
            .map(|()| "written".to_owned()),
    );
    let clock_unix_s = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => json!(since.as_secs()),
        Err(e) => json!(format!("error: {e}")),
    };
    let random_hash = RandomState::new().hash_one(0u64);
    json!({
        "env_count": env_count,
        "home": home,
        "args_count": args_count,
        "cwd": cwd,
        "passwd": passwd,
        "dot": dot,
        "root": root,
        "tcp": tcp,
        "stdout": stdout,
        "clock_unix_s": clock_unix_s,
        "random_ok": true,
        "random_hash": format!("{random_hash:016x}"),
    })
}

trailwarden_plugin_sdk::export_plugin!(WasiProbe);

#[cfg(test)]
mod tests {
    #[test]
    fn probes_natively_without_failing() {
        let v = super::probe();
        for key in [
            "env_count",
            "home",
            "args_count",
            "cwd",
            "passwd",
            "dot",
            "root",
            "tcp",
            "stdout",
            "clock_unix_s",
            "random_ok",
            "random_hash",
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
        assert!(v["clock_unix_s"].as_u64().unwrap() > 1_600_000_000);
    }
}
