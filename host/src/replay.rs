//! `trailwarden replay`: recorded CloudTrail from files, folders or stdin, through the same
//! pipeline as live events.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cloudtrail_normalize::{normalize_bytes, Options};
use indicatif::{ProgressBar, ProgressStyle};

use crate::pipeline::Pipeline;

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    fn origin(&self) -> String {
        match self {
            Input::Stdin => "stdin".to_string(),
            Input::File(path) => path.display().to_string(),
        }
    }
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

/// Reads every input into the pipeline and flushes it.
///
/// # Errors
/// An input cannot be read, or the audit store cannot be written. Bad *content* is never
/// an error: it is counted and dead-lettered.
pub fn run(pipeline: &mut Pipeline, inputs: &[Input]) -> Result<()> {
    let options = Options::default();
    let progress = progress_bar(inputs);
    for input in inputs {
        let bytes = read_input(input)?;
        let origin = input.origin();
        for item in normalize_bytes(&bytes, &options) {
            pipeline.ingest(item, &origin)?;
        }
        progress.inc(bytes.len() as u64);
    }
    pipeline.flush()?;
    progress.finish_and_clear();
    Ok(())
}

fn read_input(input: &Input) -> Result<Vec<u8>> {
    match input {
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
            Input::Stdin => None,
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
