//! `trailwarden actions ...`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;

use crate::output::Format;
use crate::respond::commands;
use crate::respond::outbox::{Outbox, Status};

#[derive(Subcommand)]
pub enum ActionsCommand {
    /// Actions, newest first.
    List {
        /// Config file (default: ./trailwarden.toml): where the audit database is.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only this status, as the table shows it: pending_approval (or pending), accepted,
        /// running, succeeded, failed, dry_run, denied, rejected, undone.
        #[arg(long)]
        status: Option<String>,
        /// At most this many actions.
        #[arg(long)]
        limit: Option<usize>,
        /// A table (long values shortened with …), or JSON (everything, in full).
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Approve an action waiting for approval; it runs at once.
    Approve {
        /// The action's id (`act-…`, as `actions list` shows it).
        id: String,
        /// Config file (default: ./trailwarden.toml): where the audit database is.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Who approves (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Reject an action waiting for approval; it never runs.
    Reject {
        /// The action's id (`act-…`, as `actions list` shows it).
        id: String,
        /// Config file (default: ./trailwarden.toml): where the audit database is.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Who rejects (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Why, kept in the action's log.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Run a failed action again (after fixing what made it fail, e.g. credentials).
    Retry {
        /// The action's id (`act-…`, as `actions list` shows it).
        id: String,
        /// Config file (default: ./trailwarden.toml): where the audit database is.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Who retries (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Run the recorded inverse of a succeeded action.
    Undo {
        /// The action's id (`act-…`, as `actions list` shows it).
        id: String,
        /// Config file (default: ./trailwarden.toml): where the audit database is.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Who undoes it (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Run every action that is due (after a crash, or without a daemon).
    Run {
        /// Config file (default: ./trailwarden.toml): where the audit database is.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Wait this long for retries before giving up (e.g. 30s).
        #[arg(long, default_value = "30s")]
        wait: humantime::Duration,
    },
}

/// Runs an `actions` command.
///
/// # Errors
/// The config or outbox cannot be read, or the action is in the wrong state.
pub fn run(command: ActionsCommand) -> Result<ExitCode> {
    let config_path = match &command {
        ActionsCommand::List { config, .. }
        | ActionsCommand::Approve { config, .. }
        | ActionsCommand::Reject { config, .. }
        | ActionsCommand::Retry { config, .. }
        | ActionsCommand::Undo { config, .. }
        | ActionsCommand::Run { config, .. } => config.clone(),
    };
    let config = crate::config::load_config(config_path.as_deref())?;
    anyhow::ensure!(
        config.database.is_file(),
        "no audit database at {} (nothing has run yet, or pass --config)",
        config.database.display()
    );
    let outbox = Outbox::open(&config.database)?;
    let settings = Arc::new(config.response.clone());
    let runtime = tokio::runtime::Runtime::new()?;
    let show = |record: &crate::respond::outbox::ActionRecord| {
        println!(
            "{} {} {}{}",
            record.id,
            record.status,
            record.capability,
            record
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    };
    match command {
        ActionsCommand::List {
            status,
            limit,
            format,
            ..
        } => {
            let audit = crate::audit::AuditStore::open(&config.database)?;
            let query = crate::actions_list::ListQuery {
                status: status.as_deref().map(Status::parse).transpose()?,
                limit,
                format,
                config: config_path.as_deref(),
            };
            crate::actions_list::list(
                &outbox,
                Some(&audit),
                &query,
                &mut std::io::stdout().lock(),
            )?;
        }
        ActionsCommand::Approve { id, by, .. } => {
            let record = runtime.block_on(commands::approve(
                &outbox,
                settings,
                &id,
                &commands::actor(by),
            ))?;
            show(&record);
            return Ok(exit_code(&record));
        }
        ActionsCommand::Retry { id, by, .. } => {
            let record = runtime.block_on(commands::retry(
                &outbox,
                settings,
                &id,
                &commands::actor(by),
            ))?;
            show(&record);
            return Ok(exit_code(&record));
        }
        ActionsCommand::Reject { id, by, reason, .. } => {
            show(&commands::reject(
                &outbox,
                &id,
                &commands::actor(by),
                &reason,
            )?);
        }
        ActionsCommand::Undo { id, by, .. } => {
            let record =
                runtime.block_on(commands::undo(&outbox, settings, &id, &commands::actor(by)))?;
            show(&record);
            return Ok(exit_code(&record));
        }
        ActionsCommand::Run { wait, .. } => {
            let ran = runtime.block_on(commands::run_due_checked(
                &outbox,
                settings,
                Duration::from(wait),
            ))?;
            println!("{ran} actions run");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Success only when the action a command ran succeeded.
fn exit_code(record: &crate::respond::outbox::ActionRecord) -> ExitCode {
    if record.status == Status::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
