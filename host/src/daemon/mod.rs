//! `trailwarden run`: the daemon. Intake (HTTP, SQS with S3 log files) feeds one pipeline
//! thread through a bounded queue; a signal stops intake, drains the queue, flushes, exits 0.
//!
//! ```text
//!  POST /v1/events ─┐  normalise                 bounded queue          pipeline thread
//!  SQS ─► S3 files ─┴─ (blocking pool) ─► batch ─► (events, permits) ─► dedup ─► Pipeline ─► audit
//!                                          ▲                                        │ flush (idle / 250 ms)
//!                                          └── answer: HTTP 200 / SQS delete ◄───────┘
//! ```
//!
//! Memory is bounded whatever the input rate: at most `max_concurrent_requests` bodies of
//! at most `max_body_bytes`, `queue_events` normalised events waiting, `sqs.max_messages`
//! messages in hand; past that HTTP answers 503 with `Retry-After` and SQS polling pauses.

pub mod http;
pub mod listener;
pub mod reload;
pub mod sqs;
pub mod summary;
pub mod watchdog;
pub mod worker;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::sync::{watch, Semaphore};

use crate::aws::AwsTarget;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::token;

/// Runs the daemon until SIGTERM or SIGINT.
///
/// # Errors
/// It cannot start (token file, database, plugins, address in use), or the pipeline
/// failed at the end.
pub fn run(
    config: &Config,
    config_path: Option<&std::path::Path>,
    listen: Option<SocketAddr>,
) -> Result<ExitCode> {
    let daemon = &config.intake.daemon;
    let listen = listen.unwrap_or(daemon.listen);
    if !listen.ip().is_loopback() {
        tracing::warn!("listening on {listen}, beyond this machine: put TLS in front of it");
    }
    let metrics = Arc::new(Metrics::default());
    // The organisation's accounts, before the pipeline is given the response settings.
    let mut discovered = config.clone();
    if discovered.response.discover_accounts {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(crate::organizations::discover_into(&mut discovered));
    }
    let config = &discovered;
    // Plugins first: a config that cannot start leaves nothing behind (no token file).
    let started = std::time::Instant::now();
    if !config.plugins.is_empty() {
        tracing::info!(
            "loading {} plugins (compiled on first use, then cached in {})",
            config.plugins.len(),
            config.cache_dir.display()
        );
    }
    let worker = worker::spawn(config, metrics.clone())?;
    if worker.plugins.is_empty() {
        tracing::warn!("no plugins configured: events are read and counted only");
    } else {
        tracing::info!(
            "{} plugins loaded in {:.1} s",
            worker.plugins.len(),
            started.elapsed().as_secs_f64()
        );
    }
    let token_path = daemon.token_path(&config.database);
    let (token, created) = match token::load_or_create(&token_path) {
        Ok(token) => token,
        Err(e) => {
            let _ = worker.shutdown();
            return Err(e);
        }
    };
    if created {
        // The token itself is never printed nor logged: it stays in its 0600 file.
        println!(
            "created the ingest token in {} (mode 0600): send it as `Authorization: Bearer $(cat {})`",
            token_path.display(),
            token_path.display()
        );
    }
    // A second secret for what changes the daemon (reload): whoever only sends events,
    // such as an EventBridge connection, cannot. Never printed: the admin reads the file.
    let admin_token_path = daemon.admin_token_path(&config.database);
    let admin_token = match token::load_or_create(&admin_token_path) {
        Ok((token, _)) => token,
        Err(e) => {
            let _ = worker.shutdown();
            return Err(e);
        }
    };
    tracing::info!(
        "POST /v1/reload takes the admin token in {}",
        admin_token_path.display()
    );
    if let Some(grace) = daemon.stall_exit_grace {
        if let Err(e) = watchdog::spawn(metrics.clone(), daemon.stall_after, grace) {
            let _ = worker.shutdown();
            return Err(anyhow::Error::new(e).context("cannot start the watchdog thread"));
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("intake")
        .build()
        .context("cannot start the async runtime")?;
    let reloader = Arc::new(reload::Reloader {
        work: worker.sender.clone(),
        config_path: config_path.map(|p| p.to_path_buf()),
        busy: tokio::sync::Mutex::new(()),
        response_settings: watch::channel(Arc::new(config.response.clone())).0,
        console_settings: watch::channel(Arc::new(config.console.clone())).0,
    });
    let queue_capacity = daemon.queue_events;
    let queue = Arc::new(Semaphore::new(queue_capacity));
    let shared = Arc::new(http::Shared {
        stall_after: daemon.stall_after,
        token,
        admin_token,
        api_key_header: daemon.api_key_header.clone(),
        max_body_bytes: daemon.max_body_bytes,
        body_timeout: daemon.body_timeout,
        metrics_auth: daemon.metrics_auth,
        metrics: metrics.clone(),
        queue: queue.clone(),
        queue_capacity,
        requests: Arc::new(Semaphore::new(daemon.max_concurrent_requests)),
        work: worker.sender.clone(),
        plugins: worker.plugins.clone(),
        options: daemon.input_limits.clone(),
        reloader: reloader.clone(),
    });
    let intake = sqs::Intake {
        work: worker.sender.clone(),
        queue,
        queue_capacity,
        metrics: metrics.clone(),
        options: config
            .intake
            .sqs
            .as_ref()
            .map_or_else(|| daemon.input_limits.clone(), |s| s.input_limits.clone()),
    };
    let served = runtime.block_on(serve(config, listen, shared, intake, reloader, metrics));
    // Intake has stopped (or never started): drain, flush, answer, end.
    let stats = worker.shutdown();
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served?;
    let stats = stats?;
    tracing::info!(
        events = stats.events_read,
        findings = stats.findings.values().sum::<u64>(),
        "stopped"
    );
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    config: &Config,
    listen: SocketAddr,
    shared: Arc<http::Shared>,
    intake: sqs::Intake,
    reloader: Arc<reload::Reloader>,
    metrics: Arc<Metrics>,
) -> Result<()> {
    // Signals are taken over before anything else, so that a SIGTERM or SIGHUP during
    // start-up is handled rather than ending the process.
    let signals = Signals::install()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    println!("listening on http://{bound}");
    let _ = std::io::stdout().flush();
    tracing::info!("listening on http://{bound}");

    let (stop_tx, stop_rx) = watch::channel(false);
    // `[[sinks]]`: findings sent on through their own outbox, resumed where they stopped;
    // started before intake, so a new sink covers every finding from its first start on.
    let sinks = crate::sinks::spawn(config, stop_rx.clone())?;
    let mut sqs_task = None;
    if let Some(sqs_settings) = config.intake.sqs.clone() {
        let target = AwsTarget::of(config);
        let sdk = target.sdk_config().await;
        let sqs_client = aws_sdk_sqs::Client::new(&sdk);
        let s3_client = target.s3(&sdk);
        tracing::info!(queue = sqs_settings.queue_url, "consuming SQS");
        sqs_task = Some(tokio::spawn(sqs::run(
            sqs_client,
            s3_client,
            sqs_settings,
            intake,
            stop_rx.clone(),
        )));
    } else {
        drop(intake);
    }

    let limits = listener::ConnectionLimits {
        max_connections: config.intake.daemon.max_connections,
        header_timeout: config.intake.daemon.header_timeout,
    };
    // The web console on the same listener: its own routes, sessions and tables.
    let console = crate::console::Console::new(crate::console::ConsoleParts {
        settings: reloader.console_settings.subscribe(),
        database: config.database.clone(),
        token: shared.token.clone(),
        admin_token: shared.admin_token.clone(),
        outbox: crate::respond::outbox::Outbox::open(&config.database)?,
        response: reloader.response_settings.subscribe(),
        metrics: metrics.clone(),
        queue: shared.queue.clone(),
        queue_capacity: shared.queue_capacity,
        stop: stop_rx.clone(),
    })?;
    // Index what earlier runs recorded now, not on the first page someone opens.
    let console_db = console.db.clone();
    tokio::task::spawn_blocking(move || match console_db.catch_up() {
        Ok(0) => {}
        Ok(n) => tracing::info!(findings = n, "console: indexed findings recorded earlier"),
        Err(e) => tracing::warn!("console: cannot index findings: {e:#}"),
    });
    let console = Arc::new(console);
    tokio::spawn(console.clone().prune_after_reloads());
    let app = http::router(shared).merge(crate::console::router(console));
    let server = tokio::spawn(listener::serve(
        listener,
        app,
        limits,
        metrics.clone(),
        stop_rx.clone(),
    ));

    let watcher = {
        let reloader = reloader.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move { reloader.watch(stop).await })
    };
    // The outbox's executors: accepted and approved actions run here; actions a crash left
    // running are requeued first, so they resume on start.
    let outbox = crate::respond::outbox::Outbox::open(&config.database)?;
    if let Some(interval) = config.intake.daemon.summary_interval {
        tokio::spawn(summary::run(
            interval,
            metrics,
            outbox.clone(),
            stop_rx.clone(),
        ));
    }
    let resumed = outbox.requeue_running()?;
    if resumed > 0 {
        tracing::info!(resumed, "resuming actions interrupted by a crash");
    }
    let executors = {
        let stop = stop_rx.clone();
        let settings = Arc::new(config.response.clone());
        let updates = reloader.response_settings.subscribe();
        // Set up in the background: loading the AWS configuration may wait on lookups
        // (region, credentials) that must not delay intake or signal handling.
        tokio::spawn(async move {
            match crate::respond::executor::ActionRunner::new(outbox, settings).await {
                Ok(mut runner) => runner.run(stop, updates).await,
                Err(e) => tracing::error!("the action executors cannot start: {e:#}"),
            }
        })
    };
    wait_for_signal(signals, &reloader).await?;
    watcher.abort();
    let _ = stop_tx.send(true);
    // An action being executed finishes (bounded by the SDK's timeouts); the rest wait in
    // the outbox for the next start. So does a delivery being sent.
    let _ = executors.await;
    for sink in sinks {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(70), sink).await;
    }
    tracing::info!("stopping: no new input; finishing what is in hand");
    let _ = stop_tx.send(true);
    let timeout = config.intake.daemon.shutdown_timeout;
    let drained = tokio::time::timeout(timeout, async {
        if let Some(task) = sqs_task {
            let _ = task.await;
        }
        server.await
    })
    .await;
    match drained {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(anyhow::Error::new(e).context("the HTTP server failed")),
        Ok(Err(e)) => Err(anyhow::Error::new(e).context("the HTTP server task failed")),
        Err(_) => {
            tracing::warn!("intake did not stop within {timeout:?}; flushing what was taken in");
            Ok(())
        }
    }
}

/// The signals the daemon handles.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot watch SIGINT")?,
            hup: signal(SignalKind::hangup()).context("cannot watch SIGHUP")?,
        })
    }
}

/// Waits for SIGTERM or SIGINT; a SIGHUP meanwhile reloads the config and plugins.
async fn wait_for_signal(signals: Signals, reloader: &Arc<reload::Reloader>) -> Result<()> {
    let Signals {
        mut term,
        mut int,
        mut hup,
    } = signals;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = hup.recv() => {
                let reloader = reloader.clone();
                tokio::spawn(async move {
                    if let Err(e) = reloader.reload("SIGHUP").await {
                        tracing::warn!("reload failed: {e}");
                    }
                });
            }
        }
    }
}
