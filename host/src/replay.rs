//! `trailwarden replay`: recorded CloudTrail from files, folders, stdin or S3
//! (`s3://bucket/prefix`, CloudTrail's `AWSLogs/` layout, pruned by day with
//! `--since`/`--until`), through the same pipeline as live events.
//!
//! Dedup by eventID is off unless asked for (`--dedup`): a replay is usually meant to see
//! every event again (e.g. after changing a plugin), and findings are recorded once per
//! plugin version anyway. With `--dedup` it shares the daemon's window in the audit
//! database, so a backfill skips what the daemon already handled, and the reverse.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cloudtrail_normalize::{normalize_bytes_each, Item, Options};
use indicatif::{ProgressBar, ProgressStyle};

use crate::aws::{fetch_object, list_log_files, AwsTarget, DayRange, FetchError, S3Url};
use crate::dedup::Dedup;
use crate::intake::{ingest_delivery, Outcome};
use crate::pipeline::Pipeline;

/// Largest S3 object a replay reads (CloudTrail log files are far smaller).
pub const MAX_S3_OBJECT_BYTES: u64 = 1024 * 1024 * 1024;

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
    S3(S3Url),
}

impl Input {
    /// How the input is named in messages: a path, `stdin` or an `s3://` URL.
    pub fn origin(&self) -> String {
        match self {
            Input::Stdin => "stdin".to_string(),
            Input::File(path) => path.display().to_string(),
            Input::S3(url) => url.to_string(),
        }
    }
}

/// Reads S3 for a replay: the SDK on a small runtime of its own.
pub struct S3Reader {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

impl S3Reader {
    /// An S3 client for `target` (the config's `[aws]` table, else the environment).
    ///
    /// # Errors
    /// The async runtime cannot start.
    pub fn new(target: &AwsTarget) -> Result<S3Reader> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let sdk = runtime.block_on(target.sdk_config());
        let client = target.s3(&sdk);
        Ok(S3Reader { runtime, client })
    }

    /// Every log file under `url` in `range`, in key order.
    ///
    /// # Errors
    /// A listing fails.
    pub fn list(&self, url: &S3Url, range: &DayRange) -> Result<Vec<S3Url>> {
        self.runtime
            .block_on(list_log_files(&self.client, url, range))
    }

    /// Reads one object (at most [`MAX_S3_OBJECT_BYTES`]).
    ///
    /// # Errors
    /// The object is missing, too large, or cannot be read.
    pub fn read(&self, url: &S3Url) -> Result<Vec<u8>> {
        match self
            .runtime
            .block_on(fetch_object(&self.client, url, MAX_S3_OBJECT_BYTES))
        {
            Ok(bytes) => Ok(bytes),
            Err(FetchError::Missing) => anyhow::bail!("{url}: no such object"),
            Err(FetchError::TooLarge(n)) => anyhow::bail!("{url}: {n} bytes is too large"),
            Err(FetchError::Other(e)) => Err(e),
        }
    }
}

/// Replay settings beyond the inputs.
#[derive(Default)]
pub struct ReplayOptions {
    /// Needed for `Input::S3`.
    pub s3: Option<S3Reader>,
    /// Skip events already seen within the dedup window, and remember the new ones.
    pub dedup: Option<Dedup>,
    /// What normalising one input may cost (decompressed bytes, items, rejects).
    pub limits: Options,
}

/// Expands paths like [`expand_inputs`], and `s3://bucket/prefix` into the log files under
/// it (in `range`), read with `s3`.
///
/// # Errors
/// A local path does not exist, an `s3://` path is given without `s3`, or a listing fails.
pub fn expand_all(paths: &[String], s3: Option<&S3Reader>, range: &DayRange) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for path in paths {
        if let Some(url) = S3Url::parse(path) {
            let reader = s3.context("s3:// inputs need AWS access")?;
            let found = reader.list(&url, range)?;
            if found.is_empty() {
                tracing::warn!("{url}: no CloudTrail log files there");
            }
            inputs.extend(found.into_iter().map(Input::S3));
        } else {
            inputs.extend(expand_inputs(std::slice::from_ref(path))?);
        }
    }
    Ok(inputs)
}

/// Expands the command line's paths: `-` is stdin, a folder is searched recursively for
/// `.json`, `.json.gz` and `.jsonl` files (in name order, so runs are repeatable).
///
/// # Errors
/// A path does not exist or a folder cannot be listed.
pub fn expand_inputs(paths: &[String]) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for path in paths {
        if path == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(path);
        if path.is_dir() {
            let mut files = Vec::new();
            collect_files(&path, &mut files)?;
            files.sort();
            inputs.extend(files.into_iter().map(Input::File));
        } else if path.is_file() {
            inputs.push(Input::File(path));
        } else {
            anyhow::bail!("{}: no such file or folder", path.display());
        }
    }
    Ok(inputs)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else if is_cloudtrail_file(&path) {
            files.push(path);
        }
    }
    Ok(())
}

fn is_cloudtrail_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".json") || name.ends_with(".json.gz") || name.ends_with(".jsonl")
}

/// Items handed to the pipeline at a time while an input is normalised.
const INGEST_CHUNK: usize = 1024;

/// Reads every input into the pipeline and flushes it.
///
/// # Errors
/// An input cannot be read, or the audit store cannot be written. Bad *content* is never
/// an error: it is counted and dead-lettered.
pub fn run(pipeline: &mut Pipeline, inputs: &[Input]) -> Result<()> {
    run_with(pipeline, inputs, &mut ReplayOptions::default()).map(|_| ())
}

/// [`run`], reading S3 inputs and deduplicating as `options` say; returns the counts as the
/// daemon would answer them (with `duplicate` among the skips).
///
/// # Errors
/// As [`run`]; also an S3 object cannot be read, or the dedup table written.
pub fn run_with(
    pipeline: &mut Pipeline,
    inputs: &[Input],
    options: &mut ReplayOptions,
) -> Result<Outcome> {
    let normalize = options.limits.clone();
    let progress = progress_bar(inputs);
    let mut outcome = Outcome::default();
    for input in inputs {
        let bytes = read_input(input, options.s3.as_ref())?;
        let origin = input.origin();
        let hint = match input {
            Input::S3(url) => Some(url.key.as_str()),
            _ => None,
        };
        // Items are taken in as the normaliser finds them, a chunk at a time, so memory
        // holds the input and one chunk, not every event of a large file at once.
        let mut chunk: Vec<Item> = Vec::with_capacity(INGEST_CHUNK);
        let mut failed: Option<anyhow::Error> = None;
        let dedup = &mut options.dedup;
        let mut take = |chunk: &mut Vec<Item>, failed: &mut Option<anyhow::Error>| {
            if failed.is_some() || chunk.is_empty() {
                chunk.clear();
                return;
            }
            match ingest_delivery(pipeline, dedup.as_mut(), std::mem::take(chunk), &origin) {
                Ok(taken) => outcome.add(&taken),
                Err(e) => *failed = Some(e),
            }
        };
        normalize_bytes_each(&bytes, &normalize, hint, &mut |item| {
            chunk.push(item);
            if chunk.len() >= INGEST_CHUNK {
                take(&mut chunk, &mut failed);
            }
        });
        take(&mut chunk, &mut failed);
        if let Some(e) = failed {
            return Err(e);
        }
        progress.inc(bytes.len() as u64);
    }
    pipeline.flush()?;
    if let Some(dedup) = options.dedup.as_mut() {
        // Only now are the events handled: remember them.
        dedup.commit()?;
    }
    progress.finish_and_clear();
    Ok(outcome)
}

fn read_input(input: &Input, s3: Option<&S3Reader>) -> Result<Vec<u8>> {
    match input {
        Input::S3(url) => s3.context("s3:// inputs need AWS access")?.read(url),
        Input::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read stdin")?;
            Ok(bytes)
        }
        Input::File(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        }
    }
}

/// A byte-count progress bar on a terminal, for runs big enough to want one.
fn progress_bar(inputs: &[Input]) -> ProgressBar {
    const WORTH_SHOWING: u64 = 8 * 1024 * 1024;
    let total: u64 = inputs
        .iter()
        .filter_map(|i| match i {
            Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin | Input::S3(_) => None,
        })
        .sum();
    if !std::io::stderr().is_terminal() || total < WORTH_SHOWING {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_expand_to_cloudtrail_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("AWSLogs/1/CloudTrail/eu-west-1");
        std::fs::create_dir_all(&nested).unwrap();
        for name in ["b.json.gz", "a.json", "c.jsonl", "notes.txt"] {
            std::fs::write(nested.join(name), b"{}").unwrap();
        }
        let inputs = expand_inputs(&[dir.path().display().to_string(), "-".into()]).unwrap();
        let names: Vec<String> = inputs
            .iter()
            .map(|i| match i {
                Input::File(p) => p.file_name().unwrap().to_string_lossy().into_owned(),
                Input::Stdin => "-".into(),
                Input::S3(url) => url.to_string(),
            })
            .collect();
        assert_eq!(names, ["a.json", "b.json.gz", "c.jsonl", "-"]);
    }

    #[test]
    fn a_missing_path_is_a_clear_error() {
        let err = expand_inputs(&["/no/such/trail".into()]).unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
    }
}
