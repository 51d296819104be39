//! The throughput yardstick of `make bench-shipped`: how fast `serde_json` alone parses a
//! JSON-lines file into `Value`s, one line at a time, doing nothing else. The replay of the
//! same file through every plugin is reported as a fraction of this rate.
//!
//! usage: json_parse_rate FILE  (prints `{"events": N, "seconds": S, "events_per_s": R}`)

use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: json_parse_rate FILE");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    // Best of three passes: the file is in memory, so this is parsing alone.
    let mut best = f64::MAX;
    let mut events = 0usize;
    for _ in 0..3 {
        let started = Instant::now();
        events = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            std::hint::black_box(&value);
            events += 1;
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "{{\"events\": {events}, \"seconds\": {best:.6}, \"events_per_s\": {:.1}}}",
        events as f64 / best
    );
}
