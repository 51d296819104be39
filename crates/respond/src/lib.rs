//! Automated response: grants, the capability broker, the action outbox and its executors,
//! notifications (which are actions of the outbox), and suppressions (which hold calls back).
//!
//! It depends on the sandbox's types (`trailwarden-runtime`), the stores' opening and hash
//! chains (`trailwarden-store`) and the AWS actions (`aws-actions`), never on the host: the
//! host builds [`settings::ResponseSettings`] from its config and hands each batch a
//! [`broker::BrokerSession`].

pub mod broker;
pub mod capabilities;
pub mod commands;
pub mod executor;
pub mod glob;
pub mod grants;
pub mod notify;
pub mod notify_target;
pub mod outbox;
pub mod request;
pub mod settings;
pub mod suppress;

use std::sync::Arc;
use std::time::Duration;

/// After a replay: carry out the actions it accepted (enforce mode), so a replay acts as
/// the daemon would. Nothing happens, and no AWS configuration is loaded, when none are due.
///
/// # Errors
/// The AWS SDK cannot be set up, or the outbox cannot be written.
pub fn execute_outstanding(
    outbox: &outbox::Outbox,
    settings: &settings::ResponseSettings,
) -> anyhow::Result<()> {
    if outbox.outstanding()? == 0 {
        return Ok(());
    }
    std::thread::sleep(Duration::from_millis(settings.executor.start_delay_ms));
    let runtime = tokio::runtime::Runtime::new()?;
    let ran = runtime.block_on(commands::run_due(
        outbox,
        Arc::new(settings.clone()),
        Duration::from_secs(30),
    ))?;
    eprintln!("  actions executed {ran}");
    Ok(())
}
