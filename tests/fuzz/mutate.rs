//! A small mutational fuzzer shared by the fuzz targets (each includes this file with
//! `#[path]`; it needs no crate): it mutates real seed inputs (records, patterns, rules,
//! configs) with byte edits, dictionary tokens, splices and deep nesting, runs the target on
//! each, and reports every panic and every input slower than [`SLOW_INPUT`].
//!
//! Time-bounded, not case-bounded: `FUZZ_SECONDS` per target (default 10; `make fuzz
//! FUZZ_SECONDS=600` for a long run). The RNG seed is printed; `FUZZ_SEED=N` replays a run.
//! A failing input is written to `target/fuzz-failures/TARGET-N.bin` (the input that crashed
//! the process, a stack overflow, stays as `TARGET-running.bin`) to become a regression
//! test (see each target's `regressions`).

#![allow(dead_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An input taking longer than this is a failure (a hang): every input must be bounded in
/// time. Far above any honest input, so that a loaded machine does not fail the run.
pub const SLOW_INPUT: Duration = Duration::from_secs(10);

/// An input taking longer than this is printed (and written out) as worth a look, without
/// failing the run: timings are benchmarks, not assertions.
pub const NOTABLE_INPUT: Duration = Duration::from_secs(1);

/// The default time budget per target, in seconds.
const DEFAULT_SECONDS: u64 = 10;

/// What one run did.
#[derive(Debug)]
pub struct Report {
    pub target: String,
    pub seed: u64,
    pub executions: u64,
    pub elapsed: Duration,
    /// Each failure: why, and where its input was written.
    pub failures: Vec<(String, PathBuf)>,
    /// Inputs slower than [`NOTABLE_INPUT`] (not failures).
    pub slow: u64,
}

/// Time budget for one target: `FUZZ_SECONDS`, else the default.
pub fn budget() -> Duration {
    let seconds = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(DEFAULT_SECONDS);
    Duration::from_secs(seconds)
}

/// `FUZZ_SEED`, else one from the clock.
fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        })
}

/// SplitMix64: small, fast, and enough for choosing mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to JSON, YAML and TOML parsers.
const INTERESTING: &[u8] = b"{}[]\":,\\\n\r\t #'-=*?|&!<>/0.eE+\x00\xff\xc3";

/// Tokens inserted whole: what parsers branch on.
const COMMON_TOKENS: &[&str] = &[
    "null",
    "true",
    "false",
    "-0",
    "1e309",
    "-1e309",
    "18446744073709551616",
    "0.0000001",
    "\"\"",
    "[]",
    "{}",
    "\\u0000",
    "\\ud800",
    "\"\\",
    "\u{feff}",
    "\u{202e}",
    "é",
    "\n",
    "*",
    "**",
    "?",
    "\\*",
];

/// One mutation of `input` (in place), using `seeds` for splices and `tokens` as a dictionary.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>], tokens: &[&str]) {
    let len = input.len();
    match rng.below(11) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(16)).min(len);
            input.drain(start..end);
        }
        3 if len > 0 => {
            // Duplicate a slice where it is.
            let start = rng.below(len);
            let end = (start + 1 + rng.below(64)).min(len);
            let slice = input[start..end].to_vec();
            let at = rng.below(input.len() + 1);
            input.splice(at..at, slice);
        }
        4 | 5 => {
            let token = if !tokens.is_empty() && rng.below(3) > 0 {
                tokens[rng.below(tokens.len())]
            } else {
                COMMON_TOKENS[rng.below(COMMON_TOKENS.len())]
            };
            let at = rng.below(len + 1);
            input.splice(at..at, token.bytes());
        }
        6 if !seeds.is_empty() => {
            // Splice: our head, another seed's tail.
            let other = &seeds[rng.below(seeds.len())];
            let at = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
        7 => {
            // Deep nesting: a run of openers (and sometimes their closers).
            let depth = 1 + rng.below(5000);
            let (open, close): (&[u8], &[u8]) = match rng.below(4) {
                0 => (b"[", b"]"),
                1 => (b"{\"a\":", b"}"),
                2 => (b"- ", b""),
                _ => (b"(", b")"),
            };
            let at = rng.below(len + 1);
            let mut nested = open.repeat(depth);
            if rng.below(2) == 0 {
                nested.extend(close.repeat(depth));
            }
            input.splice(at..at, nested);
        }
        8 if len > 0 => {
            // Repeat a slice many times (long strings, many keys, many items).
            let start = rng.below(len);
            let end = (start + 1 + rng.below(32)).min(len);
            let slice = input[start..end].repeat(1 + rng.below(2000));
            let at = rng.below(input.len() + 1);
            input.splice(at..at, slice);
        }
        9 => input.truncate(rng.below(len + 1)),
        _ if len > 1 => {
            // Swap two bytes.
            let (i, j) = (rng.below(len), rng.below(len));
            input.swap(i, j);
        }
        _ => input.push(INTERESTING[rng.below(INTERESTING.len())]),
    }
}

/// Runs `target` on mutations of `seeds` (each input 1-8 mutations away from a seed) for
/// [`budget`]; every panic and every slow input is written to `failures_dir` and reported.
pub fn fuzz(
    name: &str,
    seeds: &[Vec<u8>],
    tokens: &[&str],
    failures_dir: &Path,
    mut target: impl FnMut(&[u8]),
) -> Report {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let seed = seed();
    let budget = budget();
    println!("fuzz {name}: seed {seed} (FUZZ_SEED={seed} replays it), {budget:?}");
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut report = Report {
        target: name.to_string(),
        seed,
        executions: 0,
        elapsed: Duration::ZERO,
        failures: Vec::new(),
        slow: 0,
    };
    // The seeds themselves first: they must pass.
    let mut queue: Vec<Vec<u8>> = seeds.to_vec();
    std::fs::create_dir_all(failures_dir).unwrap();
    let current = failures_dir.join(format!("{name}-running.bin"));
    // The hook would print every panic caught here; they are reported at the end. Other
    // threads' panics (other tests of the same binary) still reach it.
    let hook = std::sync::Arc::new(std::panic::take_hook());
    let fuzzing = std::thread::current().id();
    {
        let hook = hook.clone();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() != fuzzing {
                hook(info);
            }
        }));
    }
    while started.elapsed() < budget || !queue.is_empty() {
        let input = queue.pop().unwrap_or_else(|| {
            let mut input = seeds[rng.below(seeds.len())].clone();
            for _ in 0..1 + rng.below(8) {
                mutate(&mut rng, &mut input, seeds, tokens);
            }
            input
        });
        // A stack overflow aborts the process before it can be reported: the input being
        // run is kept on disk, so the abort leaves it behind.
        std::fs::write(&current, &input).unwrap();
        let began = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let took = began.elapsed();
        report.executions += 1;
        let failure = match outcome {
            Err(panic) => Some(format!(
                "panic: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(not a string)")
            )),
            Ok(()) if took > SLOW_INPUT => {
                Some(format!("slow: {took:?} for {} bytes", input.len()))
            }
            Ok(()) => {
                if took > NOTABLE_INPUT {
                    let path = failures_dir.join(format!("{name}-slow-{}.bin", report.slow));
                    std::fs::write(&path, &input).unwrap();
                    println!(
                        "fuzz {name}: {took:?} for {} bytes -> {}",
                        input.len(),
                        path.display()
                    );
                    report.slow += 1;
                }
                None
            }
        };
        if let Some(why) = failure {
            std::fs::create_dir_all(failures_dir).unwrap();
            let path = failures_dir.join(format!("{name}-{}.bin", report.failures.len()));
            std::fs::write(&path, &input).unwrap();
            report.failures.push((why, path));
            if report.failures.len() >= 20 {
                break;
            }
        }
    }
    let _ = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| hook(info)));
    let _ = std::fs::remove_file(&current);
    report.elapsed = started.elapsed();
    println!(
        "fuzz {name}: {} inputs in {:.1} s, {} failures, {} slower than {NOTABLE_INPUT:?}",
        report.executions,
        report.elapsed.as_secs_f64(),
        report.failures.len(),
        report.slow
    );
    report
}

/// Panics listing the failures, if any.
pub fn assert_clean(report: &Report) {
    assert!(
        report.failures.is_empty(),
        "fuzz {} (seed {}): {} failures:\n{}",
        report.target,
        report.seed,
        report.failures.len(),
        report
            .failures
            .iter()
            .map(|(why, path)| format!("  {why} -> {}", path.display()))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
