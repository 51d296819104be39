//! Live reload (ARCHITECTURE.md, rule 6): on SIGHUP, an authenticated `POST /v1/reload`, or a
//! change to the config or a plugin file, the config is read again and the new plugin set
//! is compiled and checked off the pipeline thread; only then is it swapped in, between
//! batches. A version that fails its checks never serves.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::{oneshot, watch};

use super::worker::Work;
use crate::config::ResponseSettings;
use crate::pipeline::ReloadReport;

/// How often watched files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(1);

pub struct Reloader {
    pub work: Sender<Work>,
    /// The config file named on the command line, if any (else the same lookup as at start).
    pub config_path: Option<PathBuf>,
    /// One reload at a time: a second trigger waits for the first.
    pub busy: tokio::sync::Mutex<()>,
    /// The response settings in force, for the executors (sent after each good reload).
    pub response_settings: watch::Sender<Arc<ResponseSettings>>,
    /// The `[console]` in force, for the console (sent after each good reload): its users,
    /// roles and session times.
    pub console_settings: watch::Sender<Arc<crate::console_settings::ConsoleSettings>>,
}

impl Reloader {
    /// Reads the config again, prepares the new plugin set in the blocking pool, and swaps
    /// it in on the pipeline thread.
    ///
    /// # Errors
    /// The config is invalid (nothing changes), or the pipeline thread is gone.
    pub async fn reload(&self, why: &str) -> Result<ReloadReport, String> {
        let _one_at_a_time = self.busy.lock().await;
        tracing::info!("reloading ({why})");
        let mut config = crate::config::load_config(self.config_path.as_deref())
            .map_err(|e| format!("the config is invalid, nothing changed: {e:#}"))?;
        crate::organizations::discover_into(&mut config).await;
        let response = Arc::new(config.response.clone());
        let console = Arc::new(config.console.clone());
        let (tx, rx) = oneshot::channel();
        self.work
            .send(Work::Preparer(tx))
            .map_err(|_| "the pipeline has stopped".to_string())?;
        let preparer = rx
            .await
            .map_err(|_| "the pipeline has stopped".to_string())?;
        let prepared = tokio::task::spawn_blocking(move || preparer.prepare(&config))
            .await
            .map_err(|e| format!("preparing the reload failed: {e}"))?;
        let (tx, rx) = oneshot::channel();
        self.work
            .send(Work::Apply(Box::new(prepared), tx))
            .map_err(|_| "the pipeline has stopped".to_string())?;
        let report = rx
            .await
            .map_err(|_| "the pipeline has stopped".to_string())??;
        // The executors act on the reloaded notify targets, retry policy and AWS settings.
        self.response_settings.send_replace(response);
        // The console checks each request's session against the reloaded users and roles.
        self.console_settings.send_replace(console);
        tracing::info!(
            swapped = ?report.swapped,
            added = ?report.added,
            removed = ?report.removed,
            refused = report.refused.len(),
            "reloaded"
        );
        Ok(report)
    }

    /// The files whose change triggers a reload: the config, every plugin it names and the
    /// files read into their configs.
    fn watched(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.config_path.iter().cloned().collect();
        if let Ok(config) = crate::config::load_config(self.config_path.as_deref()) {
            for plugin in config.plugins {
                files.push(plugin.path);
                files.extend(plugin.config_files);
            }
        }
        files
    }

    /// Polls the watched files' modification times and sizes and reloads when one changes,
    /// until `stop`. Polling (rather than inotify) also sees files replaced by rename, on
    /// every file system, at the cost of up to a second's delay.
    ///
    /// A change is acted on once it has settled (the same for two polls in a row), so a
    /// file still being written in place is not read half-way; and what counts as seen is
    /// the settled state the reload started from, so a write that lands during the reload
    /// shows as a change at the next poll instead of being taken for the reloaded version.
    pub async fn watch(&self, mut stop: watch::Receiver<bool>) {
        let stamp = |files: &[PathBuf]| -> Vec<Option<(SystemTime, u64)>> {
            files
                .iter()
                .map(|f| {
                    std::fs::metadata(f)
                        .and_then(|m| Ok((m.modified()?, m.len())))
                        .ok()
                })
                .collect()
        };
        let mut files = self.watched();
        let mut seen = stamp(&files);
        let mut changing = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(WATCH_EVERY) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let now = stamp(&files);
            if now == seen {
                changing = None;
                continue;
            }
            if changing.as_ref() != Some(&now) {
                changing = Some(now);
                continue;
            }
            changing = None;
            if let Err(e) = self.reload("a watched file changed").await {
                tracing::warn!("reload failed: {e}");
            }
            let watched = self.watched();
            seen = if watched == files {
                now
            } else {
                stamp(&watched)
            };
            files = watched;
        }
    }
}
