//! The watchdog: a pipeline stalled on one unit of work (a plugin past every deadline, a
//! database that never answers) for `stall_after_s` plus `stall_exit_grace_s` ends the
//! process with [`STALL_EXIT_CODE`] and one error line, so a supervisor (systemd
//! `Restart=on-failure`, Kubernetes) restarts it. Nothing acknowledged is lost: an input is
//! answered only once recorded, so what was in hand is redelivered to the next process.
//!
//! It runs on its own thread, not on the intake runtime, so a starved runtime cannot
//! keep it from firing.

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Metrics;

/// The exit status of a process the watchdog ends (`EX_SOFTWARE`).
pub const STALL_EXIT_CODE: i32 = 70;

/// How often the watchdog looks at the pipeline.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Starts the watchdog thread: once the pipeline has been busy on one unit of work for
/// longer than `stall_after + grace`, it logs why and exits the process.
///
/// # Errors
/// The thread cannot be started.
pub fn spawn(metrics: Arc<Metrics>, stall_after: Duration, grace: Duration) -> std::io::Result<()> {
    let limit = stall_after + grace;
    std::thread::Builder::new()
        .name("watchdog".to_string())
        .spawn(move || loop {
            std::thread::sleep(CHECK_EVERY);
            if let Some(busy) = metrics.pipeline_busy_for().filter(|busy| *busy > limit) {
                tracing::error!(
                    "watchdog: the pipeline has been on one unit of work for {:.1} s \
                     (stall_after_s = {} + stall_exit_grace_s = {}): exiting with status {} \
                     for a supervisor to restart the daemon; unanswered inputs will be redelivered",
                    busy.as_secs_f64(),
                    stall_after.as_secs(),
                    grace.as_secs(),
                    STALL_EXIT_CODE
                );
                std::process::exit(STALL_EXIT_CODE);
            }
        })?;
    Ok(())
}
