//! The command line: parsed by clap, then each command validated and run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::audit::{AuditStore, FindingQuery};
use crate::aws::{parse_day, AwsTarget, DayRange, S3Url};
use crate::config::{load_config, Config};
use crate::dedup::Dedup;
use crate::intake::DUPLICATE;
use crate::output::{
    event_findings_header, event_findings_row, finding_header, finding_row, group_by_event,
    rejected_header, rejected_row, write_summary, Format,
};
use crate::pipeline::Pipeline;
use crate::replay::{ReplayOptions, S3Reader};
use crate::state::StateStore;

#[derive(Parser)]
#[command(
    name = "trailwarden",
    version,
    about = "CloudTrail threat detection and response with sandboxed WebAssembly plugins"
)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run recorded CloudTrail (files, folders, `-` for stdin) through the plugins.
    Replay {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Findings as a table, or one JSON object per line.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Also write the closing summary as JSON to this file.
        #[arg(long)]
        stats_json: Option<PathBuf>,
        /// For s3:// inputs: only days from this one (YYYY-MM-DD or RFC 3339, UTC).
        #[arg(long)]
        since: Option<String>,
        /// For s3:// inputs: only days up to this one, inclusive.
        #[arg(long)]
        until: Option<String>,
        /// Skip events the daemon (or an earlier --dedup replay) already handled within the
        /// dedup window, and remember these.
        #[arg(long)]
        dedup: bool,
        /// Print only the closing summary, not each finding (they are in the audit store:
        /// `trailwarden audit findings --by-event`).
        #[arg(long)]
        summary_only: bool,
        /// Files, folders, - for stdin, or s3://bucket/prefix.
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Search CloudTrail logs (files, folders, -, s3://) with an event pattern or --where:
    /// matching events as a table, JSON lines or CSV, or counted (--count, --group-by, --timeline).
    Search(crate::search::command::SearchArgs),
    /// What CloudTrail logs hold: events per account, region and service, top principals and
    /// error codes, console sign-ins, root use, a timeline.
    Summary(crate::search::command::SummaryArgs),
    /// The daemon: HTTP endpoint, SQS consumer, until SIGTERM/SIGINT.
    Run {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (default 127.0.0.1:8787, or the config's daemon.listen).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// The web console (served by `run`): make a password hash for a `[console]` user.
    Console {
        #[command(subcommand)]
        command: crate::console::cli::ConsoleCommand,
    },
    /// Set AWS up: the CloudTrail trail (and --check), delivery to the daemon, the responder role.
    Setup {
        #[command(subcommand)]
        command: crate::setup::cli::SetupCommand,
    },
    /// Read the audit store.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// EventBridge event patterns.
    Pattern {
        #[command(subcommand)]
        command: PatternCommand,
    },
    /// Response actions: list, approve, reject, retry, undo, run what is due.
    Actions {
        #[command(subcommand)]
        command: crate::actions_cli::ActionsCommand,
    },
    /// Notification targets: send a test message, resolve a finding's PagerDuty incidents.
    Notify {
        #[command(subcommand)]
        command: crate::notify_cli::NotifyCommand,
    },
    /// Run a plugin against fixtures (capabilities recorded, never executed).
    Test {
        /// The plugin component (a .wasm file).
        plugin: PathBuf,
        /// Fixture files or folders; default: the fixtures the plugin ships.
        fixtures: Vec<PathBuf>,
        /// Config whose entry for this plugin (its config and grants) is used, if any.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Same as `plugin list` (kept for scripts written against it).
    #[command(hide = true)]
    Plugins {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Plugins: the configured ones (list), create one from a template (new), build it
    /// (build), inspect a component.
    Plugin {
        #[command(subcommand)]
        command: crate::plugin_cli::PluginCommand,
    },
    /// The detections of the configured plugins.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Reports over the audit database (HTML, JSON, CSV): activity, coverage, cis.
    Report {
        #[command(subcommand)]
        command: crate::report_cli::ReportCommand,
    },
    /// Findings in other tools' formats: OCSF, ASFF (Security Hub), CSV, JSON lines.
    Export {
        #[command(subcommand)]
        command: crate::report_cli::ExportCommand,
    },
    /// Suppressions: silence expected findings (add, list, remove, log); hot, no reload.
    Suppress {
        #[command(subcommand)]
        command: crate::suppress_cli::SuppressCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Every rule of every configured plugin: id, plugin, severity, ATT&CK technique and
    /// the paired response with its mode; refused rules are listed with the reason.
    List {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
        /// A table, or JSON.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Findings, newest first (by event time).
    Findings {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only this plugin's findings.
        #[arg(long)]
        plugin: Option<String>,
        /// Only events that happened since: an RFC 3339 time (2024-05-01T00:00:00Z) or an
        /// age (24h, 7d). This is the CloudTrail event time, so a replay of old logs shows
        /// nothing for `--since 24h`; see --recorded-since.
        #[arg(long)]
        since: Option<String>,
        /// Only findings recorded since (RFC 3339 or an age), whatever their event time.
        #[arg(long)]
        recorded_since: Option<String>,
        /// At most this many findings.
        #[arg(long)]
        limit: Option<usize>,
        /// One line per event: its most severe finding, and what else flagged it.
        #[arg(long)]
        by_event: bool,
        /// A table (long ids shortened with …), or JSON (everything, in full).
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Check the hash chains of findings, action decisions and the action log: names the
    /// first row deleted or altered behind the stores' backs (exit 1), else "ok: N rows".
    Verify {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Rejected inputs (dead letters), newest first.
    Rejected {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
        /// At most this many inputs.
        #[arg(long)]
        limit: Option<usize>,
        /// A table (raw text cut short), or JSON (everything, in full).
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Subcommand)]
enum PatternCommand {
    /// Like `aws events test-event-pattern`: prints {"Result": true|false}.
    Test {
        /// Pattern JSON text, or @FILE.
        #[arg(long)]
        pattern: String,
        /// Event JSON text, or @FILE.
        #[arg(long)]
        event: String,
    },
    /// Checks every pattern of a config's plugins.
    Check {
        /// A trailwarden.toml.
        file: PathBuf,
    },
}

/// The log filter without RUST_LOG. The AWS SDK's credential and region chains log every
/// provider they try (instance metadata first of all, with multi-line dumps) at warn level
/// on any machine without AWS configured; their outcome is reported by our own messages,
/// so their internals are shown from `-vv` only. The daemon logs at info from the start:
/// each finding, plugin loading, the periodic summary.
pub fn default_log_filter(verbose: u8, daemon: bool) -> &'static str {
    match (verbose, daemon) {
        (0, false) => "warn,aws_config=error,aws_smithy_runtime=error",
        (0, true) => "warn,trailwarden=info,aws_config=error,aws_smithy_runtime=error",
        (1, _) => "info,aws_config=error,aws_smithy_runtime=error",
        _ => "debug",
    }
}

/// Sets up logging to stderr, coloured only when stderr is a terminal; secrets never reach
/// the log (nothing logs raw credentials).
pub fn init_logging(cli: &Cli) {
    use std::io::IsTerminal;
    let daemon = matches!(cli.command, Command::Run { .. });
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(default_log_filter(cli.verbose, daemon))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a parsed command line.
///
/// # Errors
/// The command failed; the message says why.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Actions { command } => crate::actions_cli::run(command),
        Command::Notify { command } => crate::notify_cli::run(command),
        Command::Plugin { command } => crate::plugin_cli::run(command),
        Command::Plugins { config } => crate::plugin_cli::list(config),
        Command::Report { command } => crate::report_cli::run_report(command),
        Command::Export { command } => crate::report_cli::run_export(command),
        Command::Suppress { command } => crate::suppress_cli::run(command),
        Command::Rules {
            command: RulesCommand::List { config, format },
        } => crate::rules_cli::list(config, format),
        Command::Test {
            plugin,
            fixtures,
            config,
        } => crate::plugin_cli::test(plugin, fixtures, config),
        Command::Replay {
            config,
            format,
            stats_json,
            since,
            until,
            dedup,
            summary_only,
            paths,
        } => replay(
            config.as_deref(),
            format,
            stats_json.as_deref(),
            &ReplayFilter {
                since: since.as_deref(),
                until: until.as_deref(),
                dedup,
                summary_only,
            },
            &paths,
        ),
        Command::Search(args) => crate::search::command::search(args),
        Command::Summary(args) => crate::search::command::summary(args),
        Command::Run { config, listen } => {
            let loaded = load_config(config.as_deref())?;
            crate::daemon::run(&loaded, config.as_deref(), listen)
        }
        Command::Setup { command } => crate::setup::cli::run(command),
        Command::Console { command } => crate::console::cli::run(command),
        Command::Audit {
            command: AuditCommand::Verify { config },
        } => audit_verify(config.as_deref()),
        Command::Audit {
            command:
                AuditCommand::Rejected {
                    config,
                    limit,
                    format,
                },
        } => audit_rejected(config.as_deref(), limit, format),
        Command::Audit {
            command:
                AuditCommand::Findings {
                    config,
                    plugin,
                    since,
                    recorded_since,
                    limit,
                    by_event,
                    format,
                },
        } => audit_findings(
            config.as_deref(),
            FindingQuery {
                plugin,
                since: since
                    .as_deref()
                    .map(parse_since)
                    .transpose()
                    .context("--since")?,
                recorded_since: recorded_since
                    .as_deref()
                    .map(parse_since)
                    .transpose()
                    .context("--recorded-since")?,
                limit,
            },
            by_event,
            format,
        ),
        Command::Pattern { command } => match command {
            PatternCommand::Test { pattern, event } => pattern_test(&pattern, &event),
            PatternCommand::Check { file } => pattern_check(&file),
        },
    }
}

/// `replay`'s S3 day range and dedup choice.
struct ReplayFilter<'a> {
    since: Option<&'a str>,
    until: Option<&'a str>,
    dedup: bool,
    summary_only: bool,
}

fn replay(
    config: Option<&Path>,
    format: Format,
    stats_json: Option<&Path>,
    filter: &ReplayFilter<'_>,
    paths: &[String],
) -> Result<ExitCode> {
    let config = load_config(config)?;
    let range = DayRange {
        since: filter.since.map(parse_day).transpose().context("--since")?,
        until: filter.until.map(parse_day).transpose().context("--until")?,
    };
    let mut options = ReplayOptions {
        limits: config.intake.replay_limits(),
        ..ReplayOptions::default()
    };
    if paths.iter().any(|p| S3Url::parse(p).is_some()) {
        options.s3 = Some(S3Reader::new(&AwsTarget::of(&config))?);
    } else if range != DayRange::default() {
        anyhow::bail!("--since and --until select days of s3:// inputs; there are none");
    }
    let inputs = crate::replay::expand_all(paths, options.s3.as_ref(), &range)?;
    if filter.dedup {
        options.dedup = Some(Dedup::open(&config.database, config.intake.dedup.window)?);
    }
    let audit = AuditStore::open(&config.database)?;
    let state = StateStore::open(&config.database)?;
    let mut pipeline = Pipeline::new(&config, audit, state)?;
    if pipeline.plugins().is_empty() {
        tracing::warn!("no plugins configured: events are read and counted only");
    }
    let mut printed_header = false;
    // The flagged events, counted by a keyed 64-bit hash of their ids rather than the ids
    // themselves: a long replay flags hundreds of thousands of events (a million-event replay
    // kept about 50 MB of ids), and the count only needs them told apart.
    let flagged = std::rc::Rc::new(std::cell::RefCell::new(std::collections::HashSet::new()));
    let flagged_events = flagged.clone();
    let id_hasher = std::collections::hash_map::RandomState::new();
    let summary_only = filter.summary_only;
    // One write a buffer-full, not one a finding (a replay prints tens of thousands of
    // lines); flushed when the replay ends.
    let out = std::rc::Rc::new(std::cell::RefCell::new(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::io::stdout(),
    )));
    let findings_out = out.clone();
    pipeline.on_finding(move |finding| {
        use std::hash::BuildHasher;
        flagged_events
            .borrow_mut()
            .insert(id_hasher.hash_one(finding.event_id.as_str()));
        if summary_only {
            return;
        }
        let mut out = findings_out.borrow_mut();
        let _ = match format {
            Format::Table => {
                if !printed_header {
                    printed_header = true;
                    let _ = writeln!(out, "{}", finding_header());
                }
                writeln!(out, "{}", finding_row(finding))
            }
            Format::Json => serde_json::to_writer(&mut *out, finding)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n")),
        };
    });
    let outcome = crate::replay::run_with(&mut pipeline, &inputs, &mut options);
    // What was found is printed even when the replay stops on an error.
    let _ = out.borrow_mut().flush();
    let outcome = outcome?;
    let mut stats = pipeline.stats().clone();
    // Duplicates never reach the pipeline; count them so every input is accounted for.
    if outcome.duplicates() > 0 {
        stats.events_read += outcome.duplicates();
        stats
            .skipped
            .insert(DUPLICATE.to_string(), outcome.duplicates());
    }
    let stats = &stats;
    write_summary(&mut std::io::stderr().lock(), stats)?;
    let flagged = flagged.borrow().len();
    if flagged > 0 {
        // Several plugins (and Sigma's generic rules) can flag the same event.
        eprintln!(
            "  flagged events   {flagged} (an event can raise findings in several plugins: \
             `trailwarden audit findings --by-event` shows one line per event)"
        );
    }
    if let Some(path) = stats_json {
        std::fs::write(path, serde_json::to_vec_pretty(stats)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    crate::respond::execute_outstanding(pipeline.outbox(), &config.response)?;
    Ok(ExitCode::SUCCESS)
}

fn audit_findings(
    config: Option<&Path>,
    query: FindingQuery,
    by_event: bool,
    format: Format,
) -> Result<ExitCode> {
    let config = load_config(config)?;
    anyhow::ensure!(
        config.database.is_file(),
        "no audit database at {} (run `trailwarden replay` first, or pass --config)",
        config.database.display()
    );
    let audit = AuditStore::open(&config.database)?;
    let findings = audit.findings(&query)?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json if by_event => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&group_by_event(&findings))?
        )?,
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&findings)?)?,
        Format::Table if by_event => {
            let groups = group_by_event(&findings);
            writeln!(out, "{}", event_findings_header())?;
            for group in &groups {
                writeln!(out, "{}", event_findings_row(group))?;
            }
            writeln!(
                out,
                "{} findings on {} events (`--format json` has each in full)",
                findings.len(),
                groups.len()
            )?;
        }
        Format::Table => {
            writeln!(out, "{}", finding_header())?;
            for finding in &findings {
                writeln!(out, "{}", finding_row(finding))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_verify(config: Option<&Path>) -> Result<ExitCode> {
    use crate::chain::Verdict;
    let config = load_config(config)?;
    anyhow::ensure!(
        config.database.is_file(),
        "no audit database at {} (pass --config)",
        config.database.display()
    );
    let audit = AuditStore::open(&config.database)?;
    let outbox = crate::respond::outbox::Outbox::open(&config.database)?;
    let mut verdicts = vec![("findings", audit.verify_chain()?)];
    let [actions, log]: [Verdict; 2] = outbox
        .verify_chains()?
        .try_into()
        .map_err(|_| anyhow::anyhow!("the outbox has two chains"))?;
    verdicts.push(("actions", actions));
    verdicts.push(("action_log", log));
    let mut out = std::io::stdout().lock();
    let mut total = 0;
    let mut broken = false;
    for (_, verdict) in &verdicts {
        match verdict {
            Verdict::Intact { rows, .. } => total += rows,
            Verdict::Broken(why) => {
                broken = true;
                writeln!(out, "TAMPERED: {why}")?;
            }
        }
    }
    if broken {
        return Ok(ExitCode::FAILURE);
    }
    writeln!(out, "ok: {total} rows")?;
    for (chain, verdict) in &verdicts {
        if let Verdict::Intact { rows, head } = verdict {
            let head = if head.is_empty() { "-" } else { head.as_str() };
            writeln!(out, "{chain}: {rows} rows, head {head}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_rejected(config: Option<&Path>, limit: Option<usize>, format: Format) -> Result<ExitCode> {
    let config = load_config(config)?;
    anyhow::ensure!(
        config.database.is_file(),
        "no audit database at {} (pass --config)",
        config.database.display()
    );
    let audit = AuditStore::open(&config.database)?;
    let rejected = audit.rejected_inputs(limit)?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rejected)?)?,
        Format::Table => {
            writeln!(out, "{}", rejected_header())?;
            for input in &rejected {
                writeln!(out, "{}", rejected_row(input))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: an RFC 3339 time, or an age such as `24h` counted back from now.
fn parse_since(text: &str) -> Result<String> {
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Ok(humantime::format_rfc3339_seconds(at).to_string());
    }
    let age: Duration = humantime::parse_duration(text).with_context(|| {
        format!("{text:?}: expected an RFC 3339 time (2024-05-01T00:00:00Z) or an age (24h)")
    })?;
    let at = SystemTime::now()
        .checked_sub(age)
        .with_context(|| format!("{text:?} is too far back"))?;
    Ok(humantime::format_rfc3339_seconds(at).to_string())
}

fn read_arg(text: &str) -> Result<String> {
    match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}")),
        None => Ok(text.to_string()),
    }
}

fn pattern_test(pattern: &str, event: &str) -> Result<ExitCode> {
    let pattern = event_pattern::Pattern::parse(&read_arg(pattern)?)
        .map_err(|e| anyhow::anyhow!("invalid event pattern: {e}"))?;
    let event: serde_json::Value =
        serde_json::from_str(&read_arg(event)?).context("the event is not valid JSON")?;
    // The same text as `aws events test-event-pattern`.
    println!("{{\"Result\": {}}}", pattern.matches(&event));
    Ok(ExitCode::SUCCESS)
}

fn pattern_check(file: &Path) -> Result<ExitCode> {
    // Config::load refuses an invalid override pattern with its reason; each plugin's own
    // patterns (from `describe`) are checked by loading it, as the daemon would.
    let config = Config::load(file)?;
    let runtime = crate::runtime::PluginRuntime::new(
        &config.cache_dir,
        crate::runtime::HostStores::in_memory()?,
    )?;
    let mut total = 0;
    for plugin in &config.plugins {
        let mut plugin = plugin.clone();
        plugin.grants.ungranted_imports = crate::respond::grants::UngrantedImports::Deny;
        let loaded = runtime.load(&plugin)?;
        let origin = if plugin.patterns_override.is_some() {
            "config"
        } else {
            "plugin"
        };
        println!(
            "{:<24} {} patterns ({origin}): valid",
            loaded.name,
            loaded.patterns.len()
        );
        total += loaded.patterns.len();
    }
    println!("{}: {total} patterns, all valid", file.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_accepts_times_and_ages() {
        assert_eq!(
            parse_since("2024-05-01T00:00:00Z").unwrap(),
            "2024-05-01T00:00:00Z"
        );
        assert!(parse_since("24h").unwrap().ends_with('Z'));
        assert!(parse_since("yesterday").is_err());
    }
}
