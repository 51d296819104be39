//! The HTTP endpoint (axum on tokio):
//!
//! - `POST /v1/events`: CloudTrail in any shape `normalize_bytes` reads (an EventBridge event
//!   or a list of them, bare records, `{"Records":[...]}`, JSON lines, gzip). Needs the token
//!   (`Authorization: Bearer T` or the API-key header). Answers, once the events are flushed
//!   through the plugins and recorded, `{"accepted": N, "skipped": {..}, "rejected": {..}}`:
//!   200, or 400 with the same JSON when every item of the body was rejected.
//! - `GET /healthz`: `{"status":"ok"}`, no token, nothing else.
//! - `GET /metrics`: Prometheus text; needs the token unless `metrics_auth = false`.
//! - `POST /v1/reload`: needs the admin token (`trailwarden.admin-token`); the ingest token
//!   gets 403, so whoever can send events cannot change what runs.
//!
//! Refusals: 401 (no or wrong token, nothing read), 403 (the ingest token on reload), 408 (the
//! body took longer than `body_timeout_ms`), 413 (body over `max_body_bytes`),
//! 503 with `Retry-After` (intake queue full, or too many requests at once).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cloudtrail_normalize::{normalize_bytes, Options};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use tokio::sync::{oneshot, Semaphore};

use super::worker::{Batch, Work};
use crate::metrics::{Metrics, Source};
use crate::token::Token;

/// Seconds a refused client is asked to wait.
const RETRY_AFTER_S: &str = "1";

/// What the handlers share.
pub struct Shared {
    pub token: Token,
    /// How long one unit of pipeline work may take before `/healthz` answers 503.
    pub stall_after: std::time::Duration,
    /// Authorises reload; the ingest token does not.
    pub admin_token: Token,
    pub api_key_header: String,
    pub max_body_bytes: usize,
    /// How long the body may take to arrive.
    pub body_timeout: std::time::Duration,
    pub metrics_auth: bool,
    pub metrics: Arc<Metrics>,
    /// Room for events between intake and the pipeline (one permit per event).
    pub queue: Arc<Semaphore>,
    pub queue_capacity: usize,
    /// Requests being read, normalised or waiting for their answer.
    pub requests: Arc<Semaphore>,
    pub work: std::sync::mpsc::Sender<Work>,
    pub plugins: Vec<String>,
    pub options: Options,
    pub reloader: Arc<super::reload::Reloader>,
}

impl Shared {
    /// Whether the request carries the ingest token.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        self.carries(&self.token, headers)
    }

    /// Whether the request carries `token`, as a bearer token or in the API-key header.
    fn carries(&self, token: &Token, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .any(|t| token.matches(t.as_bytes()));
        let api_key = headers
            .get_all(self.api_key_header.as_str())
            .iter()
            .any(|v| token.matches(v.as_bytes().trim_ascii()));
        bearer || api_key
    }

    /// Events waiting for the pipeline.
    pub fn queue_depth(&self) -> usize {
        self.queue_capacity
            .saturating_sub(self.queue.available_permits())
    }
}

/// The router over `shared`.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/events", post(ingest))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/reload", post(reload))
        .with_state(shared)
}

/// `POST /v1/reload`: reload the config and plugins now; answers with what changed. Only
/// the admin token may: the ingest token is held by event senders.
async fn reload(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !shared.carries(&shared.admin_token, &headers) {
        if shared.authorized(&headers) {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the ingest token does not authorise reload: send the admin token \
                 (trailwarden.admin-token), or send SIGHUP",
            );
        }
        return unauthorized();
    }
    match shared.reloader.reload("POST /v1/reload").await {
        Ok(report) => Json(json!(report)).into_response(),
        Err(reason) => (
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": reason})),
        )
            .into_response(),
    }
}

/// `{"status":"ok"}`, or 503 `{"status":"stalled", ...}` while the pipeline thread has been
/// on one unit of work (a batch taken in, a flush) for longer than `stall_after`: a plugin
/// past its deadline, a database that does not answer. A supervisor can restart on it.
/// 503 `{"status":"not_recording", ...}` while the last flush could not be written (disk
/// full, read-only, locked past the busy timeout), until one is: every batch is refused
/// meanwhile, so a load balancer should send elsewhere.
async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.metrics.pipeline_busy_for() {
        Some(busy) if busy > shared.stall_after => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "stalled",
                "reason": format!(
                    "the pipeline has been on one unit of work for {:.1} s (stall_after_s = {})",
                    busy.as_secs_f64(),
                    shared.stall_after.as_secs()
                ),
            })),
        )
            .into_response(),
        _ => match shared.metrics.recording_failure() {
            Some(failure) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "not_recording",
                    "reason": format!("the last flush could not be recorded: {failure}"),
                })),
            )
                .into_response(),
            None => Json(json!({"status": "ok"})).into_response(),
        },
    }
}

async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if shared.metrics_auth && !shared.authorized(&headers) {
        return unauthorized();
    }
    let text = shared.metrics.render(
        (shared.queue_depth(), shared.queue_capacity),
        &shared.plugins,
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

async fn ingest(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let response = ingest_inner(&shared, peer, request).await;
    shared.metrics.http_response(response.status().as_u16());
    response
}

async fn ingest_inner(shared: &Arc<Shared>, peer: SocketAddr, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // Refusals before the body is read close the connection (and say so): the unread body
    // would otherwise be taken for the next request on a kept-alive connection.
    if !shared.authorized(&parts.headers) {
        shared.metrics.http_refused("unauthorized");
        return closing(unauthorized());
    }
    // Bounded work in flight: bodies held, normalised items waiting for an answer.
    let Ok(_request_slot) = shared.requests.clone().try_acquire_owned() else {
        shared.metrics.http_refused("too_many_requests");
        return closing(busy("too_many_requests"));
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.max_body_bytes as u64) {
        return closing(too_large(shared));
    }
    let bytes = match read_body(body, shared.max_body_bytes, shared.body_timeout).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return closing(too_large(shared)),
        Err(BodyError::TooSlow) => {
            // Its request slot is given back; a client this slow holds nothing longer.
            shared.metrics.http_refused("body_timeout");
            return closing(error(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                &format!(
                    "the body did not arrive within {} ms",
                    shared.body_timeout.as_millis()
                ),
            ));
        }
        Err(BodyError::Other(e)) => {
            shared.metrics.http_refused("unreadable_body");
            return error(StatusCode::BAD_REQUEST, "unreadable_body", &e);
        }
    };
    let options = shared.options.clone();
    let items = match tokio::task::spawn_blocking(move || normalize_bytes(&bytes, &options)).await {
        Ok(items) => items,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &e.to_string(),
            )
        }
    };
    // A batch larger than the whole queue takes all of it, so it can still pass alone.
    let wanted = items.len().clamp(1, shared.queue_capacity) as u32;
    let Ok(permit) = shared.queue.clone().try_acquire_many_owned(wanted) else {
        shared.metrics.http_refused("queue_full");
        return busy("queue_full");
    };
    let (reply, answer) = oneshot::channel();
    let batch = Batch {
        source: Source::Http,
        origin: format!("http:{peer}"),
        items,
        permit: Some(permit),
        reply,
    };
    if shared.work.send(Work::Batch(batch)).is_err() {
        return busy("shutting_down");
    }
    match answer.await {
        // Nothing usable in the whole body: 400, so that senders see it (EventBridge API
        // destinations drop a 4xx and retry a 5xx), with the same accounting.
        Ok(Ok(outcome)) if nothing_usable(&outcome) => {
            (StatusCode::BAD_REQUEST, Json(outcome)).into_response()
        }
        Ok(Ok(outcome)) => Json(outcome).into_response(),
        // Not recorded (the database is locked, full or read-only): nothing is acknowledged,
        // and a sender retries a 503 after the delay given, as it does a full queue.
        Ok(Err(e)) => {
            let mut response = error(StatusCode::SERVICE_UNAVAILABLE, "not_recorded", &e);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
            response
        }
        Err(_) => busy("shutting_down"),
    }
}

/// Every item of the body was rejected (none accepted, none skipped as understood).
fn nothing_usable(outcome: &crate::intake::Outcome) -> bool {
    outcome.accepted == 0
        && outcome.skipped.values().sum::<u64>() == 0
        && outcome.rejected.values().sum::<u64>() > 0
}

enum BodyError {
    TooLarge,
    TooSlow,
    Other(String),
}

async fn read_body(
    body: Body,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, BodyError> {
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(BodyError::TooSlow),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge),
        Ok(Err(e)) => Err(BodyError::Other(e.to_string())),
    }
}

/// Marks a response as the last on its connection.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn too_large(shared: &Shared) -> Response {
    shared.metrics.http_refused("body_too_large");
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        &format!("the body is larger than {} bytes", shared.max_body_bytes),
    )
}

fn unauthorized() -> Response {
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send the ingest token as `Authorization: Bearer TOKEN` or in the API-key header",
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn busy(reason: &str) -> Response {
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        reason,
        "the daemon is busy; retry after the delay given",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
    response
}

fn error(status: StatusCode, reason: &str, detail: &str) -> Response {
    (status, Json(json!({"error": reason, "detail": detail}))).into_response()
}
