//! `trailwarden suppress add|list|remove|log`: the database's suppressions (see `suppress`).
//! A change is read by a running daemon at its next batch; no reload is needed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::output::Format;
use crate::respond::commands::actor;
use crate::suppress::{conditions, now_s, Listed, SuppressionStore};

#[derive(Subcommand)]
pub enum SuppressCommand {
    /// Silence findings matching every condition given (at least one of rule, principal,
    /// account, source IP, user agent): still recorded and counted, never alerted, and their
    /// response requests recorded as `suppressed`, never executed.
    Add {
        /// Rule id glob (`*` any run, `?` one character).
        #[arg(long)]
        rule: Option<String>,
        /// Glob over the caller's ARN, or the issuing role's ARN for a role session.
        #[arg(long)]
        principal: Option<String>,
        /// The event's account id.
        #[arg(long)]
        account: Option<String>,
        /// The caller's network, e.g. 203.0.113.0/24 (a bare address is one host).
        #[arg(long)]
        source_ip: Option<String>,
        /// Glob over the user agent.
        #[arg(long)]
        user_agent: Option<String>,
        /// When it stops applying: RFC 3339, YYYY-MM-DD (UTC midnight) or a duration (30d).
        #[arg(long)]
        until: Option<String>,
        /// Why these findings are expected (required).
        #[arg(long)]
        reason: String,
        /// Who adds it (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Config file (default: ./trailwarden.toml): where the audit database is.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The config's suppressions (read-only here) and the database's, expired ones marked.
    List {
        /// A table, or JSON (every field in full).
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Config file (default: ./trailwarden.toml): its suppressions and the database.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Remove a suppression added with `suppress add` (config ones live in the config).
    Remove {
        /// Its id, as `suppress list` shows it.
        id: i64,
        /// Why (kept in the log).
        #[arg(long, default_value = "")]
        reason: String,
        /// Who removes it (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Config file (default: ./trailwarden.toml): where the audit database is.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Every change made with `suppress add|remove`: when, who, what.
    Log {
        /// Config file (default: ./trailwarden.toml): where the audit database is.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs a `suppress` command.
///
/// # Errors
/// The config or database cannot be read, a condition is invalid, or no such suppression.
pub fn run(command: SuppressCommand) -> Result<ExitCode> {
    let config_path = match &command {
        SuppressCommand::Add { config, .. }
        | SuppressCommand::List { config, .. }
        | SuppressCommand::Remove { config, .. }
        | SuppressCommand::Log { config } => config.clone(),
    };
    let config = crate::config::load_config(config_path.as_deref())?;
    let mut store = SuppressionStore::open(&config.database)?;
    let mut out = std::io::stdout().lock();
    match command {
        SuppressCommand::Add {
            rule,
            principal,
            account,
            source_ip,
            user_agent,
            until,
            reason,
            by,
            ..
        } => {
            let now = now_s();
            let conditions = conditions(
                rule,
                principal,
                account,
                source_ip.as_deref(),
                user_agent,
                until.as_deref(),
                now,
            )?;
            anyhow::ensure!(
                !conditions.expired(now),
                "--until is in the past: the suppression would never apply"
            );
            let reason = reason.trim();
            anyhow::ensure!(
                !reason.is_empty() && reason.chars().count() <= 1024,
                "--reason must say why (1 to 1024 characters)"
            );
            let id = store.add(&conditions, reason, &actor(by))?;
            writeln!(out, "suppression {id} added")?;
        }
        SuppressCommand::List { format, .. } => {
            let now = now_s();
            let listed: Vec<Listed> = config
                .response
                .suppressions
                .iter()
                .chain(store.active()?.iter())
                .map(|s| Listed::of(s, now))
                .collect();
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&listed)?)?,
                Format::Table => write_table(&mut out, &listed)?,
            }
        }
        SuppressCommand::Remove { id, reason, by, .. } => {
            store.remove(id, &actor(by), &reason)?;
            writeln!(out, "suppression {id} removed")?;
        }
        SuppressCommand::Log { .. } => {
            for (at, who, what, id, detail) in store.log()? {
                writeln!(out, "{at}  {who}  {what} {id}  {detail}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, listed: &[Listed]) -> Result<()> {
    if listed.is_empty() {
        writeln!(out, "no suppressions")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<9} {:<6} {:<24} {:<20} CONDITIONS / REASON",
        "ID", "SOURCE", "UNTIL", "BY"
    )?;
    for s in listed {
        let mut conditions = Vec::new();
        let mut push = |name: &str, value: &Option<String>| {
            if let Some(v) = value {
                conditions.push(format!("{name}={v}"));
            }
        };
        push("rule", &s.rule);
        push("principal", &s.principal);
        push("account", &s.account);
        push("source_ip", &s.source_ip);
        push("user_agent", &s.user_agent);
        let until = match (&s.until, s.expired) {
            (Some(until), true) => format!("{until} (expired)"),
            (Some(until), false) => until.clone(),
            (None, _) => "-".to_string(),
        };
        writeln!(
            out,
            "{:<9} {:<6} {:<24} {:<20} {}  ({})",
            s.id,
            s.source,
            until,
            crate::output::fit(&s.created_by, 20),
            conditions.join(" "),
            s.reason
        )?;
    }
    Ok(())
}
