//! `trailwarden notify test NAME` and `trailwarden notify resolve FINDING_ID`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::json;

use crate::notify::message::{Message, Notice};
use crate::respond::executor::ActionRunner;
use crate::respond::outbox::Outbox;

#[derive(Subcommand)]
pub enum NotifyCommand {
    /// Send a sample message to a `[notify.NAME]` target now (not through the outbox) and
    /// print what it answered.
    Test {
        /// The target's name.
        name: String,
        /// Config file (default: ./trailwarden.toml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Resolve a finding's PagerDuty incidents: queue an `event_action: resolve` per
    /// PagerDuty target and send them now.
    Resolve {
        /// The finding's id (as `audit findings` shows it).
        finding_id: i64,
        /// Config file (default: ./trailwarden.toml): where the audit database is.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs a `notify` command.
///
/// # Errors
/// The config cannot be read, the target is unknown, or the outbox cannot be used. A
/// target that refuses the message is reported with a failing exit code.
pub fn run(command: NotifyCommand) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    match command {
        NotifyCommand::Test { name, config } => {
            let config = crate::config::load_config(config.as_deref())?;
            let Some(target) = config.response.notify.get(&name) else {
                let known: Vec<&str> = config.response.notify.keys().map(String::as_str).collect();
                anyhow::bail!(
                    "no [notify.{name}] in the config (targets: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
            };
            let aws = runtime.block_on(crate::respond::executor::aws_executor(&config.response))?;
            let message = Message::Finding(sample());
            match runtime.block_on(crate::notify::deliver::send(target, &aws, &message)) {
                Ok(delivery) => {
                    println!(
                        "notify.{name} ({}): {}",
                        target.kind.as_str(),
                        delivery.answer
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    println!(
                        "notify.{name} ({}): failed{}: {}",
                        target.kind.as_str(),
                        if error.retryable { " (retryable)" } else { "" },
                        error.message
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        NotifyCommand::Resolve { finding_id, config } => {
            let config = crate::config::load_config(config.as_deref())?;
            anyhow::ensure!(
                config.database.is_file(),
                "no audit database at {}",
                config.database.display()
            );
            let outbox = Outbox::open(&config.database)?;
            let settings = Arc::new(config.response.clone());
            let ids = crate::notify::resolve_finding(&outbox, &settings, finding_id)?;
            if ids.is_empty() {
                println!("no PagerDuty target is configured: nothing to resolve");
                return Ok(ExitCode::SUCCESS);
            }
            let runner = runtime.block_on(ActionRunner::new(outbox.clone(), settings))?;
            let mut all_sent = true;
            for id in ids {
                if outbox.claim(&id)? {
                    let record = outbox.get(&id)?.context("the resolve action vanished")?;
                    runtime.block_on(runner.execute_claimed(&record))?;
                }
                let record = outbox.get(&id)?.context("the resolve action vanished")?;
                all_sent &= record.status == crate::respond::outbox::Status::Succeeded;
                println!(
                    "{} {} {}{}",
                    record.id,
                    record.status,
                    record.resource,
                    record.error.map(|e| format!(": {e}")).unwrap_or_default()
                );
            }
            Ok(if all_sent {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// The sample finding `notify test` sends.
fn sample() -> Notice {
    Notice {
        id: "test".into(),
        plugin: "trailwarden".into(),
        event_id: "notify-test".into(),
        finding: json!({
            "rule_id": "trailwarden.notify.test",
            "severity": "medium",
            "title": "trailwarden test message: this target works",
            "description": "Sent by `trailwarden notify test`. No action is needed.",
            "resources": ["arn:aws:iam::123456789012:user/example"],
            "dedup_key": "trailwarden.notify.test",
            "event_id": "notify-test",
            "context": {},
        }),
        count: 1,
        window_s: 0,
        account: "123456789012".into(),
        region: "us-east-1".into(),
        runbook: Some("Nothing to do: this is a test.".into()),
        link: None,
        sample: true,
    }
}
