//! The pipeline thread: owns the [`Pipeline`] (synchronous, wasmtime's sync API) and the
//! dedup window, takes batches of normalised items from the intake tasks, and answers each
//! batch only once its events are flushed through the plugins and recorded.
//!
//! Flushes happen when the input goes idle (nothing waiting) and at least every
//! `flush_interval` under continuous input, so findings are never held back for long.

use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cloudtrail_normalize::Item;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use crate::audit::AuditStore;
use crate::config::Config;
use crate::dedup::Dedup;
use crate::intake::{ingest_delivery, Outcome};
use crate::metrics::{Metrics, Source};
use crate::pipeline::{Pipeline, RunStats};
use crate::state::StateStore;

/// How often old dedup entries are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The answer to a batch: its outcome once durably recorded, or why not.
pub type Reply = std::result::Result<Outcome, String>;

/// A unit of work for the pipeline thread.
pub enum Work {
    Batch(Batch),
    /// Input that never reached the normaliser (a missing or oversized S3 object): kept as a
    /// dead letter and counted.
    DeadLetter {
        origin: String,
        reason: &'static str,
        detail: String,
        raw: String,
        reply: oneshot::Sender<Reply>,
    },
    /// A reload asks for what compiles the new plugin set off this thread.
    Preparer(oneshot::Sender<crate::pipeline::ReloadPreparer>),
    /// A reload's prepared plugin set, to swap in between batches.
    Apply(
        Box<crate::pipeline::PreparedReload>,
        oneshot::Sender<std::result::Result<crate::pipeline::ReloadReport, String>>,
    ),
    /// Intake has stopped: finish what is queued, flush, and end.
    Shutdown,
}

/// Normalised items from one delivery (a request, a message, a part of a log file).
pub struct Batch {
    pub source: Source,
    /// Where they came from, kept with dead letters: `http:ADDR`, `sqs:ID`, `s3://b/k`.
    pub origin: String,
    pub items: Vec<Item>,
    /// This batch's room in the intake queue, given back once the batch is taken in.
    pub permit: Option<OwnedSemaphorePermit>,
    pub reply: oneshot::Sender<Reply>,
}

/// The running pipeline thread.
pub struct WorkerHandle {
    pub sender: Sender<Work>,
    pub plugins: Vec<String>,
    thread: JoinHandle<Result<RunStats>>,
}

impl WorkerHandle {
    /// Asks the thread to finish (flush everything, answer every batch) and waits for it.
    ///
    /// # Errors
    /// The pipeline failed at the end, or the thread panicked.
    pub fn shutdown(self) -> Result<RunStats> {
        let _ = self.sender.send(Work::Shutdown);
        drop(self.sender);
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => anyhow::bail!("the pipeline thread panicked"),
        }
    }
}

/// Starts the pipeline thread: opens the stores, loads the plugins (on that thread, which
/// owns them), and returns once they are loaded.
///
/// # Errors
/// A store cannot be opened or a plugin cannot be loaded.
pub fn spawn(config: &Config, metrics: Arc<Metrics>) -> Result<WorkerHandle> {
    let (sender, receiver) = std::sync::mpsc::channel::<Work>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<Vec<String>>>();
    let config = config.clone();
    let thread = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || {
            let mut worker = match Worker::new(&config, metrics) {
                Ok(worker) => {
                    let names = worker
                        .pipeline
                        .plugins()
                        .iter()
                        .map(|p| p.name.to_string())
                        .collect();
                    let _ = ready_tx.send(Ok(names));
                    worker
                }
                Err(e) => {
                    let message = format!("{e:#}");
                    let _ = ready_tx.send(Err(e));
                    anyhow::bail!("{message}");
                }
            };
            worker.run(receiver)
        })
        .context("cannot start the pipeline thread")?;
    match ready_rx.recv() {
        Ok(Ok(plugins)) => Ok(WorkerHandle {
            sender,
            plugins,
            thread,
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            anyhow::bail!("the pipeline thread ended while starting")
        }
    }
}

struct Worker {
    pipeline: Pipeline,
    /// The audit database, probed to explain a failed write.
    database: std::path::PathBuf,
    dedup: Option<Dedup>,
    metrics: Arc<Metrics>,
    flush_interval: Duration,
    /// Batches taken in since the last flush, with their answers.
    waiting: Vec<(oneshot::Sender<Reply>, Reply)>,
    dirty: bool,
    last_flush: Instant,
    last_prune: Instant,
}

impl Worker {
    fn new(config: &Config, metrics: Arc<Metrics>) -> Result<Worker> {
        let audit = AuditStore::open(&config.database)?;
        let state = StateStore::open(&config.database)?;
        let mut pipeline = Pipeline::new(config, audit, state)?;
        metrics.set_serving(pipeline.plugins());
        let batch_metrics = metrics.clone();
        pipeline.on_batch(move |plugin, events, elapsed| {
            batch_metrics.plugin_batch(plugin, events, elapsed);
        });
        pipeline.on_finding(|finding| {
            tracing::info!(
                plugin = finding.plugin,
                rule = finding.rule_id,
                severity = finding.severity,
                principal = crate::output::principal(finding).unwrap_or("-"),
                event = finding.event_id,
                "finding: {}",
                finding.title
            );
        });
        let dedup = if config.intake.dedup.enabled {
            let dedup = Dedup::open(&config.database, config.intake.dedup.window)?;
            dedup.prune()?;
            Some(dedup)
        } else {
            None
        };
        Ok(Worker {
            pipeline,
            database: config.database.clone(),
            dedup,
            metrics,
            flush_interval: config.intake.daemon.flush_interval,
            waiting: Vec::new(),
            dirty: false,
            last_flush: Instant::now(),
            last_prune: Instant::now(),
        })
    }

    fn run(&mut self, receiver: Receiver<Work>) -> Result<RunStats> {
        loop {
            let work = match receiver.try_recv() {
                Ok(work) => work,
                Err(TryRecvError::Empty) => {
                    // Idle: nothing is waiting, so answer what was taken in.
                    self.metrics.pipeline_busy(true);
                    self.flush();
                    self.metrics.pipeline_busy(false);
                    match receiver.recv() {
                        Ok(work) => work,
                        Err(_) => break,
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            self.metrics.pipeline_busy(true);
            match work {
                Work::Batch(batch) => self.take(batch),
                Work::DeadLetter {
                    origin,
                    reason,
                    detail,
                    raw,
                    reply,
                } => {
                    let result = self
                        .pipeline
                        .audit()
                        .record_rejected(&origin, reason, &detail, &raw)
                        .map(|()| {
                            self.metrics.rejected(reason);
                            let mut outcome = Outcome::default();
                            outcome.rejected.insert(reason.to_string(), 1);
                            outcome
                        })
                        .map_err(|e| format!("{e:#}"));
                    let _ = reply.send(result);
                }
                Work::Preparer(reply) => {
                    let _ = reply.send(self.pipeline.reload_preparer());
                }
                Work::Apply(prepared, reply) => {
                    // Batches taken in so far are answered by the versions they met.
                    self.flush();
                    let report = self
                        .pipeline
                        .apply_reload(*prepared)
                        .map_err(|e| format!("{e:#}"));
                    self.metrics.set_serving(self.pipeline.plugins());
                    let _ = reply.send(report);
                }
                Work::Shutdown => {
                    // Intake has stopped; take whatever it queued before that.
                    while let Ok(work) = receiver.try_recv() {
                        if let Work::Batch(batch) = work {
                            self.take(batch);
                        }
                    }
                    break;
                }
            }
            if self.last_flush.elapsed() >= self.flush_interval {
                self.flush();
            }
            self.metrics.pipeline_busy(false);
        }
        self.dirty = true;
        self.flush();
        Ok(self.pipeline.stats().clone())
    }

    fn take(&mut self, batch: Batch) {
        let Batch {
            source,
            origin,
            items,
            permit,
            reply,
        } = batch;
        let result = ingest_delivery(&mut self.pipeline, self.dedup.as_mut(), items, &origin);
        drop(permit);
        self.dirty = true;
        match result {
            Ok(outcome) => {
                self.metrics.batch_taken(source, &outcome);
                self.waiting.push((reply, Ok(outcome)));
            }
            Err(e) => {
                let e = crate::audit::explain_write_failure(&self.database, e);
                tracing::error!("cannot take in a batch from {origin}: {e:#}");
                let _ = reply.send(Err(format!("{e:#}")));
            }
        }
    }

    /// Runs every partly filled plugin batch, remembers the seen ids, and answers the
    /// batches taken in since the last flush.
    fn flush(&mut self) {
        self.last_flush = Instant::now();
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let mut result = self.pipeline.flush();
        if result.is_err() {
            // Nothing of these batches is acknowledged: their redelivery must not be taken
            // for a duplicate.
            if let Some(dedup) = self.dedup.as_mut() {
                dedup.forget_pending();
            }
        }
        if result.is_ok() {
            if let Some(dedup) = self.dedup.as_mut() {
                result = dedup.commit();
                if result.is_ok() && self.last_prune.elapsed() >= PRUNE_EVERY {
                    self.last_prune = Instant::now();
                    if let Err(e) = dedup.prune() {
                        tracing::warn!("cannot prune the dedup window: {e:#}");
                    }
                }
            }
        }
        if result.is_ok() {
            result = sync_write_ahead_log(&self.database);
        }
        self.metrics.pipeline_totals(self.pipeline.stats());
        let error = result.err().map(|e| {
            let e = crate::audit::explain_write_failure(&self.database, e);
            tracing::error!("pipeline flush failed: {e:#}");
            format!("{e:#}")
        });
        self.metrics.flush_result(error.as_deref());
        for (reply, answer) in self.waiting.drain(..) {
            let answer = match &error {
                Some(e) => Err(e.clone()),
                None => answer,
            };
            let _ = reply.send(answer);
        }
    }
}

/// Makes every commit so far durable before any batch is acknowledged. The stores commit
/// with `synchronous=NORMAL` (no fsync per commit, which a plugin's many state writes would
/// pay each), so a commit sits in the page cache until then: a disk error that remounts the
/// file system read-only, or a power loss, would drop events already answered 2xx. One
/// fsync of the write-ahead log per flush covers every batch answered by it (what a
/// checkpoint moved into the database file was synced by the checkpoint).
///
/// # Errors
/// The log cannot be synced (the batches are then refused, to be redelivered).
fn sync_write_ahead_log(database: &std::path::Path) -> Result<()> {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    let log = std::path::PathBuf::from(name);
    match std::fs::File::open(&log) {
        Ok(file) => file
            .sync_data()
            .with_context(|| format!("cannot sync {}", log.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot open {} to sync it", log.display())),
    }
}
