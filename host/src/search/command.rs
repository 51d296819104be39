//! The `search` and `summary` command lines: arguments, input expansion, output.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::fields::FieldPath;
use super::output::{header, write_counts, RowFormat, DEFAULT_FIELDS};
use super::summary::Summary;
use super::{scan, Accounting, Filter, Mode, Reading, Tally};
use crate::aws::{parse_day, AwsTarget, DayRange, S3Url};
use crate::replay::{expand_all, S3Reader};

/// What both commands read, and which events they keep.
#[derive(clap::Args, Debug)]
pub struct Selection {
    /// An EventBridge event pattern (JSON text, or @FILE); repeat for alternatives.
    #[arg(long)]
    pattern: Vec<String>,
    /// FIELD=VALUE, a dotted path of the event's envelope (detail.eventName=DeleteTrail;
    /// a path not starting with an envelope key is read under detail). Repeat: all must hold.
    #[arg(long = "where", value_name = "FIELD=VALUE")]
    conditions: Vec<String>,
    /// Only events from this time on (YYYY-MM-DD or RFC 3339, UTC); s3:// days before it are not listed.
    #[arg(long)]
    since: Option<String>,
    /// Only events up to this time (a date includes its whole day).
    #[arg(long)]
    until: Option<String>,
    /// Only events of this account (recipientAccountId).
    #[arg(long)]
    account: Option<String>,
    /// Only events of this region.
    #[arg(long)]
    region: Option<String>,
    /// Inputs read at once (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Parse every record, even those whose text holds none of the values the patterns
    /// require (for comparison: the answers are the same, only slower).
    #[arg(long)]
    no_prefilter: bool,
    /// Config file, for [aws] (s3:// inputs) and the intake limits (default: ./trailwarden.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Files, folders, - for stdin, or s3://bucket/prefix (CloudTrail's AWSLogs/ layout).
    #[arg(required = true)]
    paths: Vec<String>,
}

/// `trailwarden search`.
#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    selection: Selection,
    /// Output: a table, JSON lines (the record itself without --fields) or CSV.
    #[arg(long, value_enum, default_value = "table")]
    format: RowFormat,
    /// Comma-separated dotted paths to print (detail.userIdentity.arn,account,eventName).
    #[arg(long)]
    fields: Option<String>,
    /// Print only the number of matching events.
    #[arg(long)]
    count: bool,
    /// Count matching events per value of these fields (comma-separated).
    #[arg(long, value_name = "FIELDS")]
    group_by: Option<String>,
    /// With --group-by: only the N largest groups (default 20; 0 for all).
    #[arg(long, value_name = "N", requires = "group_by")]
    top: Option<usize>,
    /// Count matching events per interval of event time (1h, 15m, 1d).
    #[arg(long, value_name = "INTERVAL")]
    timeline: Option<String>,
}

/// `trailwarden summary`.
#[derive(clap::Args, Debug)]
pub struct SummaryArgs {
    #[command(flatten)]
    selection: Selection,
    /// Tables, or one JSON document.
    #[arg(long, value_enum, default_value = "table")]
    format: crate::output::Format,
    /// Rows per section (the timeline is always whole).
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// The timeline's interval (1h, 1d ...).
    #[arg(long, default_value = "1d")]
    interval: String,
}

/// Everything ready to scan.
struct Prepared {
    filter: Filter,
    limits: cloudtrail_normalize::Options,
    s3: Option<S3Reader>,
    inputs: Vec<crate::replay::Input>,
    threads: usize,
}

fn prepare(selection: &Selection) -> Result<Prepared> {
    let config = crate::config::load_config(selection.config.as_deref())?;
    let patterns = selection
        .pattern
        .iter()
        .map(|p| read_arg(p))
        .collect::<Result<Vec<_>>>()?;
    let filter = Filter::new(
        &patterns,
        &selection.conditions,
        selection.account.clone(),
        selection.region.clone(),
        selection.since.as_deref(),
        selection.until.as_deref(),
    )?;
    let filter = if selection.no_prefilter {
        filter.without_prefilter()
    } else {
        filter
    };
    let range = DayRange {
        since: selection
            .since
            .as_deref()
            .map(parse_day)
            .transpose()
            .context("--since")?,
        until: selection
            .until
            .as_deref()
            .map(parse_day)
            .transpose()
            .context("--until")?,
    };
    let s3 = if selection.paths.iter().any(|p| S3Url::parse(p).is_some()) {
        Some(S3Reader::new(&AwsTarget::of(&config))?)
    } else {
        None
    };
    let mut inputs = expand_all(&selection.paths, s3.as_ref(), &range)?;
    if let Some(account) = &selection.account {
        // Log files of other accounts in CloudTrail's layout are not even fetched.
        inputs.retain(|input| match input {
            crate::replay::Input::S3(url) => layout_account(&url.key).is_none_or(|a| a == account),
            _ => true,
        });
    }
    let threads = match selection.threads {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    Ok(Prepared {
        filter,
        limits: config.intake.replay_limits(),
        s3,
        inputs,
        threads,
    })
}

/// The account a key names in `AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/...`, if it has that layout.
fn layout_account(key: &str) -> Option<&str> {
    let segments: Vec<&str> = key.split('/').collect();
    let at = segments.iter().position(|s| *s == "CloudTrail")?;
    let account = *segments.get(at.checked_sub(1)?)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

fn read_arg(text: &str) -> Result<String> {
    match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}")),
        None => Ok(text.to_string()),
    }
}

/// Exit 2 (as grep does) when an input could not be read; the rest was still searched.
fn exit_code(accounting: &Accounting) -> ExitCode {
    if accounting.unreadable_count > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs `trailwarden search`.
///
/// # Errors
/// Bad arguments, an input path that does not exist, an S3 listing that fails, or stdout
/// closing. Unreadable inputs and bad records are counted and named, not errors.
pub fn search(args: SearchArgs) -> Result<ExitCode> {
    let modes = [args.count, args.group_by.is_some(), args.timeline.is_some()];
    anyhow::ensure!(
        modes.iter().filter(|m| **m).count() <= 1,
        "--count, --group-by and --timeline are alternatives: give one"
    );
    let mode = if args.count {
        Mode::Count
    } else if let Some(fields) = &args.group_by {
        Mode::GroupBy(FieldPath::parse_list(fields).context("--group-by")?)
    } else if let Some(interval) = &args.timeline {
        let interval: Duration = humantime::parse_duration(interval)
            .with_context(|| format!("--timeline {interval:?}: expected an interval like 1h"))?;
        anyhow::ensure!(interval.as_secs() >= 1, "--timeline: at least 1s");
        Mode::Timeline(interval)
    } else {
        let fields = match (&args.fields, args.format) {
            (Some(fields), _) => Some(FieldPath::parse_list(fields).context("--fields")?),
            (None, RowFormat::Jsonl) => None,
            (None, _) => Some(FieldPath::parse_list(DEFAULT_FIELDS)?),
        };
        Mode::Rows {
            fields,
            format: args.format,
        }
    };
    let prepared = prepare(&args.selection)?;
    let started = Instant::now();
    let out: Mutex<Box<dyn Write + Send>> =
        Mutex::new(Box::new(std::io::BufWriter::new(std::io::stdout())));
    if let Mode::Rows {
        fields: Some(fields),
        format,
    } = &mode
    {
        if let Some(line) = header(fields, *format) {
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            writeln!(out, "{line}")?;
        }
    }
    let reading = Reading {
        inputs: &prepared.inputs,
        s3: prepared.s3.as_ref(),
        limits: prepared.limits.clone(),
        threads: prepared.threads,
    };
    let (tally, accounting) = scan(&reading, &prepared.filter, || Tally::new(&mode, &out))?;
    let (kept, groups, write_error) = (tally.kept, tally.groups, tally.write_error);
    let mut out = out.into_inner().unwrap_or_else(|e| e.into_inner());
    match &mode {
        Mode::Count => writeln!(out, "{kept}")?,
        Mode::GroupBy(fields) => {
            let top = match args.top {
                Some(0) => None,
                Some(n) => Some(n),
                None => Some(20),
            };
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            write_counts(&mut out, &names, &groups.top(top), args.format)?;
        }
        Mode::Timeline(_) => {
            write_counts(
                &mut out,
                &["from".to_string()],
                &groups.by_key(),
                args.format,
            )?;
        }
        Mode::Rows { .. } => {}
    }
    let flushed = out.flush();
    match write_error.map_or(flushed, Err) {
        // The reader went away (`| head`): what it wanted was written.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("cannot write the output"),
        Ok(()) => {}
    }
    accounting.write(&mut std::io::stderr().lock(), kept, started.elapsed())?;
    Ok(exit_code(&accounting))
}

/// Runs `trailwarden summary`.
///
/// # Errors
/// As [`search`].
pub fn summary(args: SummaryArgs) -> Result<ExitCode> {
    let interval: Duration = humantime::parse_duration(&args.interval).with_context(|| {
        format!(
            "--interval {:?}: expected an interval like 1d",
            args.interval
        )
    })?;
    anyhow::ensure!(interval.as_secs() >= 1, "--interval: at least 1s");
    let prepared = prepare(&args.selection)?;
    let started = Instant::now();
    let reading = Reading {
        inputs: &prepared.inputs,
        s3: prepared.s3.as_ref(),
        limits: prepared.limits.clone(),
        threads: prepared.threads,
    };
    let (summary, accounting) = scan(&reading, &prepared.filter, || Summary::new(interval))?;
    let json = args.format == crate::output::Format::Json;
    let mut out = std::io::stdout().lock();
    summary.write(&mut out, args.top, json)?;
    out.flush()?;
    accounting.write(
        &mut std::io::stderr().lock(),
        summary.events,
        started.elapsed(),
    )?;
    Ok(exit_code(&accounting))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_read_from_both_layouts() {
        let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/x.json.gz";
        assert_eq!(layout_account(key), Some("111122223333"));
        let org = "p/AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2024/05/01/x.json.gz";
        assert_eq!(layout_account(org), Some("111122223333"));
        assert_eq!(layout_account("exports/events.jsonl"), None);
        assert_eq!(layout_account("CloudTrail/x.json"), None);
    }
}
