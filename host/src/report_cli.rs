//! `trailwarden report activity|coverage|cis` and `trailwarden export findings`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use crate::config::Config;
use crate::report::queries::{self, ReportDb};
use crate::report::{asff, cis, coverage, csv, html, ocsf, Period, ReportFormat};
use crate::rules_cli::RuleRow;

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Findings over time, top rules, principals, accounts, regions and source IPs; actions;
    /// plugin failures and quarantines; dead letters; ingest volume.
    Activity(ReportArgs),
    /// The ATT&CK techniques the loaded rules claim, by tactic, and which fired.
    Coverage(ReportArgs),
    /// CIS AWS Foundations monitoring controls 4.1-4.15: rules, findings, status per
    /// account and region.
    Cis(ReportArgs),
}

#[derive(Args)]
pub struct ReportArgs {
    /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start: RFC 3339 time, a day (YYYY-MM-DD) or an age (24h, 30d).
    #[arg(long, default_value = "30d")]
    since: String,
    /// End, included: RFC 3339 time or a day (its end); default now.
    #[arg(long)]
    until: Option<String>,
    /// Only this AWS account (12 digits).
    #[arg(long)]
    account: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "html")]
    format: ReportFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Findings as OCSF Detection Findings (JSON lines), ASFF (a JSON array for Security
    /// Hub BatchImportFindings), CSV or JSON lines as stored.
    Findings {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Start: RFC 3339 time, a day or an age; default: every finding.
        #[arg(long)]
        since: Option<String>,
        /// End, included; default now.
        #[arg(long)]
        until: Option<String>,
        /// Only this AWS account (12 digits).
        #[arg(long)]
        account: Option<String>,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Ocsf,
    Asff,
    Csv,
    Jsonl,
}

/// Runs a `report` command.
///
/// # Errors
/// Bad arguments, no audit database, or the output cannot be written.
pub fn run_report(command: ReportCommand) -> Result<ExitCode> {
    let (kind, args) = match command {
        ReportCommand::Activity(args) => ("activity", args),
        ReportCommand::Coverage(args) => ("coverage", args),
        ReportCommand::Cis(args) => ("cis", args),
    };
    let config = crate::config::load_config(args.config.as_deref())?;
    let period = period(Some(&args.since), args.until.as_deref())?;
    let account = args.account.as_deref().map(checked_account).transpose()?;
    let db = ReportDb::open(&config.database)?;
    let text = match kind {
        "activity" => {
            let report = queries::activity(&db, &period, account)?;
            match args.format {
                ReportFormat::Html => html::activity(&report),
                ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
                ReportFormat::Csv => csv::activity(&report),
            }
        }
        "coverage" => {
            let (rules, missing) = catalog(&config)?;
            let findings = db.findings(&period, account)?;
            let report = coverage::build(&period, account, &rules, missing, &findings);
            match args.format {
                ReportFormat::Html => html::coverage(&report),
                ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
                ReportFormat::Csv => csv::coverage(&report),
            }
        }
        _ => {
            let (rules, _) = catalog(&config)?;
            let report = cis::build(
                &period,
                account,
                &rules,
                &db.findings(&period, account)?,
                &db.actions(&period, account)?,
                &db.event_volume(&period, account)?,
            );
            match args.format {
                ReportFormat::Html => html::cis(&report),
                ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
                ReportFormat::Csv => csv::cis(&report),
            }
        }
    };
    write_out(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `export findings`.
///
/// # Errors
/// Bad arguments, no audit database, or the output cannot be written.
pub fn run_export(command: ExportCommand) -> Result<ExitCode> {
    let ExportCommand::Findings {
        config,
        format,
        since,
        until,
        account,
        output,
    } = command;
    let config = crate::config::load_config(config.as_deref())?;
    let period = period(since.as_deref(), until.as_deref())?;
    let account = account.as_deref().map(checked_account).transpose()?;
    let db = ReportDb::open(&config.database)?;
    let findings = db.findings(&period, account)?;
    let techniques = || -> Result<HashMap<String, Vec<String>>> {
        let (rules, _) = catalog(&config)?;
        Ok(rules
            .iter()
            .map(|r| (r.id.clone(), coverage::techniques_of(r)))
            .collect())
    };
    // Written as it is rendered: an export of every finding is not held twice in memory.
    let mut out = open_out(output.as_deref())?;
    let mut written = findings.len();
    match format {
        ExportFormat::Jsonl => {
            for f in &findings {
                serde_json::to_writer(&mut out, &f.finding)?;
                out.write_all(b"\n")?;
            }
        }
        ExportFormat::Csv => out.write_all(csv::findings(&findings).as_bytes())?,
        ExportFormat::Ocsf => {
            let techniques = techniques()?;
            for f in &findings {
                serde_json::to_writer(&mut out, &ocsf::detection_finding(f, &techniques))?;
                out.write_all(b"\n")?;
            }
        }
        ExportFormat::Asff => {
            let techniques = techniques()?;
            let mut exported = 0;
            out.write_all(b"[")?;
            for asff in findings
                .iter()
                .filter_map(|f| asff::finding(f, &techniques))
            {
                out.write_all(if exported == 0 { b"\n" } else { b",\n" })?;
                serde_json::to_writer_pretty(&mut out, &asff)?;
                exported += 1;
            }
            out.write_all(b"\n]\n")?;
            written = exported;
            let left_out = findings.len() - exported;
            if left_out > 0 {
                eprintln!(
                    "warning: {left_out} findings name no 12-digit AWS account and were left out \
                     (Security Hub requires AwsAccountId); they stay in the audit store"
                );
            }
        }
    }
    out.flush()?;
    eprintln!("exported {written} findings");
    Ok(ExitCode::SUCCESS)
}

/// A buffered writer to the file named, else to standard output.
fn open_out(path: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

fn write_out(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// The rule catalogs of the configured plugins; plugins without one are named on stderr.
fn catalog(config: &Config) -> Result<(Vec<RuleRow>, Vec<String>)> {
    let (rows, missing) = crate::rules_cli::catalog(config)?;
    for m in &missing {
        eprintln!("warning: plugin {}: {}", m.plugin, m.why);
    }
    Ok((rows, missing.into_iter().map(|m| m.plugin).collect()))
}

fn checked_account(account: &str) -> Result<&str> {
    anyhow::ensure!(
        account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()),
        "--account {account:?}: expected a 12-digit AWS account id"
    );
    Ok(account)
}

/// The period from `--since` and `--until` (both optional: since the epoch, until now).
///
/// # Errors
/// A time is neither RFC 3339, a day, nor an age; or since is after until.
pub fn period(since: Option<&str>, until: Option<&str>) -> Result<Period> {
    let since = match since {
        Some(text) => parse_time(text, false).with_context(|| format!("--since {text:?}"))?,
        None => "1970-01-01T00:00:00Z".to_string(),
    };
    let until = match until {
        Some(text) => parse_time(text, true).with_context(|| format!("--until {text:?}"))?,
        None => crate::audit::now_rfc3339(),
    };
    anyhow::ensure!(since <= until, "--since {since} is after --until {until}");
    Ok(Period { since, until })
}

/// An RFC 3339 time, a day (its start, or its end when `end_of_day`), or an age back
/// from now, as RFC 3339 UTC with seconds.
fn parse_time(text: &str, end_of_day: bool) -> Result<String> {
    let text = text.trim();
    if text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-' {
        let time = if end_of_day { "23:59:59" } else { "00:00:00" };
        let full = format!("{text}T{time}Z");
        humantime::parse_rfc3339(&full).context("not a valid day (YYYY-MM-DD)")?;
        return Ok(full);
    }
    if let Ok(at) = humantime::parse_rfc3339_weak(text.trim_end_matches('Z')) {
        return Ok(humantime::format_rfc3339_seconds(at).to_string());
    }
    if let Ok(at) = humantime::parse_rfc3339(text) {
        return Ok(humantime::format_rfc3339_seconds(at).to_string());
    }
    let age: Duration = humantime::parse_duration(text).context(
        "expected an RFC 3339 time (2024-05-01T00:00:00Z), a day (2024-05-01) or an age (30d)",
    )?;
    let at = SystemTime::now().checked_sub(age).context("too far back")?;
    Ok(humantime::format_rfc3339_seconds(at).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_days_and_ages_are_accepted_and_nonsense_refused() {
        let p = period(Some("2024-05-01"), Some("2024-05-31")).unwrap();
        assert_eq!(p.since, "2024-05-01T00:00:00Z");
        assert_eq!(p.until, "2024-05-31T23:59:59Z");
        let p = period(Some("2024-05-01T10:00:00Z"), None).unwrap();
        assert_eq!(p.since, "2024-05-01T10:00:00Z");
        assert!(period(Some("7d"), None).unwrap().since.ends_with('Z'));
        assert!(period(Some("yesterday"), None).is_err());
        assert!(period(Some("2024-05-02"), Some("2024-05-01")).is_err());
        assert!(checked_account("12345").is_err());
        assert!(checked_account("123456789012").is_ok());
    }
}
