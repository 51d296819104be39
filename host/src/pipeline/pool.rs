//! Running plugin batches: on the pipeline thread (one worker) or on a pool of threads.
//!
//! A batch is self-contained (its plugin, runtime, broker, events and clock), so any thread
//! can run it; the pipeline keeps at most one batch of a plugin in flight, so each plugin
//! still sees its events in arrival order and its state and budgets evolve as with one
//! worker. The exception is a plugin that reaches nothing past its batch (no state, no
//! history, no capability: `LoadedPlugin::batches_independent`), whose batches run side by
//! side, as its findings cannot depend on their order. A worker records the batch it ran
//! (with an audit database on disk) and hands the results back to the pipeline thread for
//! its counts and lifecycle rules.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::recording::{record_batch, Recorded};
use crate::audit::AuditStore;
use crate::respond::broker::{BatchSuppressions, Broker, BrokerSession, EventScope};
use crate::runtime::{Event, FailureKind, Finding, LoadedPlugin, PluginFailure, PluginRuntime};
use crate::suppress::{Subject, SuppressionSet};

/// An event routed to plugins, shared by every plugin's queue (never copied per plugin).
pub struct Routed {
    pub event: Event,
    pub scope: EventScope,
    /// Its record is in the audit store (set once a batch that recorded it commits): the
    /// next plugin's finding about it skips hashing and compressing it again.
    pub record_kept: std::sync::atomic::AtomicBool,
}

impl std::borrow::Borrow<Event> for SharedEvent {
    fn borrow(&self) -> &Event {
        &self.0.event
    }
}

/// A routed event as queued: a pointer, not a copy.
#[derive(Clone)]
pub struct SharedEvent(pub Arc<Routed>);

/// One plugin call's worth of events.
pub struct Job {
    pub slot: usize,
    pub plugin: Arc<LoadedPlugin>,
    pub broker: Arc<Broker>,
    pub events: Vec<SharedEvent>,
    pub clock: i64,
    /// The suppressions in force when the batch started.
    pub suppressions: Arc<SuppressionSet>,
}

/// A run of a job's events (by index) and the plugin's answer to it.
pub type Part = (Range<usize>, Result<Vec<Finding>, PluginFailure>);

/// What became of a job: each part of its events with the plugin's answer. A failed batch
/// is split and run again (see [`run`]), so one bad event costs only its own detection.
pub struct Done {
    pub slot: usize,
    pub plugin: Arc<LoadedPlugin>,
    pub events: Vec<SharedEvent>,
    pub parts: Vec<Part>,
    pub elapsed: Duration,
    /// The job's suppressions, so findings are judged by the set its calls were.
    pub suppressions: Arc<SuppressionSet>,
    /// Recorded by the worker that ran it (see [`super::recording`]); `None`: the pipeline
    /// thread records it.
    pub recorded: Option<anyhow::Result<Recorded>>,
}

/// Extra plugin calls a failed batch may spend finding the events it fails on.
const SPLIT_BUDGET: usize = 16;

/// Whether a failure of this kind may be one event's doing, worth finding by splitting. Not
/// a timeout (each re-run could cost the whole deadline again) nor output over the limits
/// (those are the plugin's answer, and limits are per call).
fn splittable(kind: FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::MemoryExhausted
            | FailureKind::Trap
            | FailureKind::StackOverflow
            | FailureKind::PluginError
    )
}

/// Runs a job. A batch that fails in a [`splittable`] way is split in halves and each half
/// run again, within
/// [`SPLIT_BUDGET`] extra calls, so the events that did not cause the failure still get
/// their detection: padding one event cannot hide its neighbours. Capability calls repeat
/// harmlessly (the broker answers a repeated call with the first decision's receipt).
pub fn run(runtime: &PluginRuntime, job: Job) -> Done {
    let started = Instant::now();
    let mut parts = Vec::new();
    let mut budget = SPLIT_BUDGET;
    // The ranges of events still to run, first half last (popped first).
    let mut pending: Vec<Range<usize>> = Vec::with_capacity(SPLIT_BUDGET + 1);
    pending.push(0..job.events.len());
    while let Some(range) = pending.pop() {
        let result = call(runtime, &job, range.clone());
        match result {
            Err(failure) if range.len() > 1 && splittable(failure.kind) && budget >= 2 => {
                budget -= 2;
                let middle = range.start + range.len() / 2;
                // Popped last-in first-out: the first half runs first.
                pending.push(middle..range.end);
                pending.push(range.start..middle);
            }
            result => parts.push((range, result)),
        }
    }
    Done {
        slot: job.slot,
        plugin: job.plugin,
        events: job.events,
        parts,
        elapsed: started.elapsed(),
        suppressions: job.suppressions,
        recorded: None,
    }
}

/// [`run`], with a panic in the host's own code answered as a failed batch rather than a
/// job that never comes back (the pipeline waits for every job it handed out).
fn run_caught(runtime: &PluginRuntime, job: Job) -> Done {
    let (slot, plugin, events) = (job.slot, job.plugin.clone(), job.events.clone());
    let suppressions = job.suppressions.clone();
    let started = Instant::now();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(runtime, job))).unwrap_or_else(
        |_| {
            let all = 0..events.len();
            Done {
                slot,
                plugin,
                events,
                parts: vec![(
                    all,
                    Err(PluginFailure {
                        kind: FailureKind::Trap,
                        message: "the host panicked while running this batch".into(),
                    }),
                )],
                elapsed: started.elapsed(),
                suppressions,
                recorded: None,
            }
        },
    )
}

fn call(
    runtime: &PluginRuntime,
    job: &Job,
    range: Range<usize>,
) -> Result<Vec<Finding>, PluginFailure> {
    let events = &job.events[range];
    let in_batch = events.to_vec();
    let mut session = BrokerSession::new(job.broker.clone(), move || {
        in_batch
            .iter()
            .map(|e| (e.0.event.id.clone(), e.0.scope.clone()))
            .collect::<HashMap<String, EventScope>>()
    });
    if !job.suppressions.is_empty() {
        session = session.with_suppressions(BatchSuppressions {
            set: job.suppressions.clone(),
            subjects: events
                .iter()
                .map(|e| (e.0.event.id.clone(), Subject::of(&e.0.event)))
                .collect(),
            plugin: job.plugin.clone(),
        });
    }
    job.plugin
        .handle(runtime, events, job.clock, Box::new(session))
}

/// Threads that run jobs; dropped, they finish the job in hand and stop.
pub struct Pool {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `workers` threads running jobs against `runtime`.
    ///
    /// # Errors
    /// A thread cannot be started.
    /// With `audit` (the audit database's file), each thread records the batches it runs
    /// on a connection of its own; without, the pipeline thread records them.
    pub fn start(
        workers: usize,
        runtime: Arc<PluginRuntime>,
        audit: Option<PathBuf>,
    ) -> std::io::Result<Pool> {
        let (jobs, job_rx) = channel::<Job>();
        let (done_tx, done) = channel::<Done>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let mut threads = Vec::with_capacity(workers);
        for n in 0..workers {
            let job_rx = job_rx.clone();
            let done_tx = done_tx.clone();
            let runtime = runtime.clone();
            let audit = audit.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("plugin-worker-{n}"))
                    .spawn(move || {
                        let mut audit = audit.and_then(|path| match AuditStore::open(&path) {
                            Ok(store) => Some(store),
                            Err(e) => {
                                tracing::warn!(
                                    "a worker cannot open the audit database ({e:#}); \
                                     the pipeline thread records its batches"
                                );
                                None
                            }
                        });
                        loop {
                            // The lock is held only to take a job, not to run it.
                            let job = match job_rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => return,
                            };
                            let Ok(job) = job else { return };
                            let mut done = run_caught(&runtime, job);
                            if let Some(audit) = audit.as_mut() {
                                done.recorded = Some(record_batch(audit, &mut done));
                            }
                            if done_tx.send(done).is_err() {
                                return;
                            }
                        }
                    })?,
            );
        }
        Ok(Pool {
            jobs: Some(jobs),
            done,
            threads,
        })
    }

    /// Hands a job to the next free thread.
    pub fn submit(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            // The threads only stop when the pool is dropped, so the send cannot fail
            // while `self` lives; if one panicked, the job's events show as unanswered.
            let _ = jobs.send(job);
        }
    }

    /// Waits for the next finished job.
    pub fn next_done(&self) -> Option<Done> {
        self.done.recv().ok()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
