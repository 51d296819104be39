//! The console's JSON API under `/v1/` (and `POST /login`, `POST /logout`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::auth::{self, Session};
use super::settings::Role;
use super::store::{normal_time, FindingFilter};
use super::{error, Console};
use crate::respond::commands;
use crate::respond::outbox::Status;

/// The largest login or triage body read.
const MAX_FORM_BYTES: usize = 16 * 1024;
/// How often the live stream looks for new findings.
const STREAM_POLL: Duration = Duration::from_secs(1);
/// A live stream ends after this long (the browser's EventSource reconnects).
const STREAM_LIFETIME: Duration = Duration::from_secs(3600);
/// How often an open stream checks that its session still lives (logout, expiry, a user
/// removed or given another role end the stream within this).
const STREAM_SESSION_CHECK: Duration = Duration::from_secs(5);

type Shared = State<Arc<Console>>;

fn query_map(query: Option<String>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The fields of a JSON object or an urlencoded form body.
#[allow(clippy::result_large_err)]
fn body_fields(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, Response> {
    if body.len() > MAX_FORM_BYTES {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "at most 16 KiB",
        ));
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| error(StatusCode::BAD_REQUEST, "bad_json", &e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(error(StatusCode::BAD_REQUEST, "bad_json", "send an object"));
        };
        Ok(map
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect())
    } else {
        Ok(form_urlencoded::parse(body).into_owned().collect())
    }
}

fn bad_request(e: impl std::fmt::Display) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_request", &format!("{e:#}"))
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::warn!("console: {e:#}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "see the daemon's log",
    )
}

/// Runs a database call off the async threads.
#[allow(clippy::result_large_err)]
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(bad_request(e)),
        Err(e) => Err(internal(e)),
    }
}

/// `POST /login`: a form (`name`, `password`; the browser's login page) answered with a
/// redirect, or JSON answered with the session's user, role and CSRF token. An empty
/// name takes a token as the password.
pub async fn login(
    State(console): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !auth::same_origin(&headers) {
        return error(
            StatusCode::FORBIDDEN,
            "cross_site",
            "the request comes from another site",
        );
    }
    let wants_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let fields = match body_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    if !console.sessions.may_try(peer.ip()) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failures",
            "too many failed logins from this address; wait five minutes",
        );
    }
    let name = fields.get("name").cloned().unwrap_or_default();
    let password = fields.get("password").cloned().unwrap_or_default();
    let checker = console.clone();
    let who = tokio::task::spawn_blocking(move || checker.check_login(&name, &password))
        .await
        .ok()
        .flatten();
    let Some((user, role, credential)) = who else {
        console.sessions.failed(peer.ip());
        tracing::info!(peer = %peer.ip(), "console: failed login");
        if wants_json {
            return error(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "wrong name or password",
            );
        }
        return redirect("/login?failed=1");
    };
    let opener = console.clone();
    let opened =
        tokio::task::spawn_blocking(move || opener.open_session(&user, role, credential)).await;
    let (id, session) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    tracing::info!(user = session.user, role = role.as_str(), "console: login");
    let cookie = console.session_cookie(&id);
    let mut response = if wants_json {
        Json(session_json(&session)).into_response()
    } else {
        redirect("/")
    };
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn redirect(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

fn session_json(session: &Session) -> Value {
    json!({"user": session.user, "role": session.role, "csrf": session.csrf})
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(State(console): Shared, headers: HeaderMap) -> Response {
    if let Err(refused) = console.writer(&headers).await {
        return refused;
    }
    if let Err(e) = console.close_session(&headers).await {
        return internal(e);
    }
    let mut response = Json(json!({"logged_out": true})).into_response();
    let cookie = auth::session_cookie("", Duration::ZERO, console.secure_cookie());
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /v1/session`: who is logged in, the role, and the CSRF token to send on changes.
pub async fn session(State(console): Shared, headers: HeaderMap) -> Response {
    match console.reader(&headers).await {
        Ok(session) => Json(session_json(&session)).into_response(),
        Err(refused) => refused,
    }
}

#[allow(clippy::result_large_err)]
fn filter_of(q: &HashMap<String, String>) -> Result<FindingFilter, Response> {
    let number = |key: &str| -> Result<Option<usize>, Response> {
        q.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| bad_request(format!("{key} is not a number")))
            })
            .transpose()
    };
    let text = |key: &str| q.get(key).filter(|v| !v.is_empty()).cloned();
    Ok(FindingFilter {
        severity: text("severity"),
        rule: text("rule"),
        plugin: text("plugin"),
        account: text("account"),
        principal: text("principal"),
        region: text("region"),
        source_ip: text("source_ip"),
        status: text("status"),
        since: text("since"),
        until: text("until"),
        text: text("text"),
        sort: text("sort"),
        order: text("order"),
        page: number("page")?,
        per_page: number("per_page")?,
    })
}

/// `GET /v1/findings?severity=&rule=&plugin=&account=&principal=&region=&source_ip=&status=
/// &since=&until=&text=&sort=time|severity|rule&order=desc|asc&page=&per_page=`.
pub async fn findings(
    State(console): Shared,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Err(refused) = console.reader(&headers).await {
        return refused;
    }
    let filter = match filter_of(&query_map(q)) {
        Ok(filter) => filter,
        Err(response) => return response,
    };
    let db = console.db.clone();
    match blocking(move || db.findings(&filter)).await {
        Ok(page) => Json(page).into_response(),
        Err(response) => response,
    }
}

/// `GET /v1/findings/{id}`: the finding, its event's raw records as kept, its rule from the
/// plugin's catalog, related findings, the actions it caused, its triage history.
pub async fn finding(
    State(console): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(refused) = console.reader(&headers).await {
        return refused;
    }
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such finding");
    };
    let db = console.db.clone();
    let mut detail = match blocking(move || db.finding(id)).await {
        Ok(Some(detail)) => detail,
        Ok(None) => return error(StatusCode::NOT_FOUND, "not_found", "no such finding"),
        Err(response) => return response,
    };
    let plugin = detail["finding"]["plugin"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let rule_id = detail["finding"]["rule_id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let rule = console
        .metrics
        .serving()
        .iter()
        .filter(|p| *p.name == *plugin)
        .find_map(|p| {
            p.rules
                .as_ref()?
                .iter()
                .find(|r| r.id == rule_id)
                .map(|r| json!(r))
        });
    detail["rule"] = rule.unwrap_or(Value::Null);
    Json(detail).into_response()
}

/// `POST /v1/findings/{id}/triage` with `status` and `note`: recorded with who and when.
pub async fn triage(
    State(console): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let session = match console.writer(&headers).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let fields = match body_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such finding");
    };
    let status = fields.get("status").cloned().unwrap_or_default();
    let note = fields.get("note").cloned().unwrap_or_default();
    let db = console.db.clone();
    let actor = session.user.clone();
    let resolved = status == "resolved";
    let (outbox, settings) = (console.outbox.clone(), console.response.borrow().clone());
    let recorded = blocking(move || {
        let history = db.triage(id, &status, &note, &actor)?;
        // A resolved finding resolves its incident at every PagerDuty target (queued in
        // the outbox, sent by the executors, once per finding and target).
        let paged = match (&history, resolved) {
            (Some(_), true) => crate::notify::resolve_finding(&outbox, &settings, id)?,
            _ => Vec::new(),
        };
        Ok(history.map(|history| (history, paged)))
    })
    .await;
    match recorded {
        Ok(Some((history, paged))) => {
            Json(json!({"id": id, "triage": history, "resolve_actions": paged})).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "not_found", "no such finding"),
        Err(response) => response,
    }
}

/// `GET /v1/actions?status=&limit=`: actions newest first, each with its log; pending
/// approvals, dry runs and the rest are told apart by `status`.
pub async fn actions(
    State(console): Shared,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Err(refused) = console.reader(&headers).await {
        return refused;
    }
    let q = query_map(q);
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        Some(s) => match Status::parse(s) {
            Ok(status) => Some(status),
            Err(e) => return bad_request(e),
        },
        None => None,
    };
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(200)
        .clamp(1, 1000);
    let outbox = console.outbox.clone();
    let listed = blocking(move || {
        let actions = outbox.list(status, Some(limit))?;
        let mut out = Vec::with_capacity(actions.len());
        for action in actions {
            let log: Vec<Value> = outbox
                .history(&action.id)?
                .into_iter()
                .map(|(at, actor, what, detail)| {
                    json!({"at": at, "actor": actor, "what": what, "detail": detail})
                })
                .collect();
            let mut value = json!(action);
            value["log"] = Value::Array(log);
            out.push(value);
        }
        Ok(out)
    })
    .await;
    match listed {
        Ok(actions) => Json(json!({"actions": actions})).into_response(),
        Err(response) => response,
    }
}

/// What a responder does to an action.
#[derive(Clone, Copy)]
enum Decision {
    Approve,
    Reject,
    Undo,
}

async fn decide(
    console: Arc<Console>,
    headers: HeaderMap,
    id: String,
    body: Bytes,
    decision: Decision,
) -> Response {
    let session = match console.writer(&headers).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    if session.role != Role::Approver {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "approving, rejecting and undoing actions needs the approver role",
        );
    }
    let fields = match body_fields(&headers, &body) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    if console.outbox.get(&id).ok().flatten().is_none() {
        return error(StatusCode::NOT_FOUND, "not_found", "no such action");
    }
    // The same transitions as `trailwarden actions`, logged with the console user.
    let actor = format!("console:{}", session.user);
    let settings = console.response.borrow().clone();
    let outbox = console.outbox.clone();
    let result = match decision {
        Decision::Approve => commands::approve(&outbox, settings, &id, &actor).await,
        Decision::Reject => {
            let reason = fields.get("reason").cloned().unwrap_or_default();
            commands::reject(&outbox, &id, &actor, &reason)
        }
        Decision::Undo => commands::undo(&outbox, settings, &id, &actor).await,
    };
    match result {
        Ok(record) => Json(json!({"action": record})).into_response(),
        Err(e) => error(StatusCode::CONFLICT, "refused", &format!("{e:#}")),
    }
}

/// `POST /v1/actions/{id}/approve` (approver only): approves and runs it.
pub async fn approve(
    State(console): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(console, headers, id, body, Decision::Approve).await
}

/// `POST /v1/actions/{id}/reject` (approver only), with an optional `reason`.
pub async fn reject(
    State(console): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(console, headers, id, body, Decision::Reject).await
}

/// `POST /v1/actions/{id}/undo` (approver only): runs the recorded inverse.
pub async fn undo(
    State(console): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(console, headers, id, body, Decision::Undo).await
}

/// `GET /v1/plugins`: each serving plugin's version, sha256, contract, grants and modes,
/// quarantine, recent lifecycle events, activity since start and findings recorded.
pub async fn plugins(State(console): Shared, headers: HeaderMap) -> Response {
    if let Err(refused) = console.reader(&headers).await {
        return refused;
    }
    let serving = console.metrics.serving();
    let db = console.db.clone();
    let names: Vec<String> = serving.iter().map(|p| p.name.to_string()).collect();
    let history = blocking(move || {
        let counts = db.plugin_counts()?;
        let mut out = HashMap::new();
        for name in names {
            out.insert(name.clone(), db.plugin_history(&name, 10)?);
        }
        Ok((counts, out))
    })
    .await;
    let (counts, mut history) = match history {
        Ok(found) => found,
        Err(response) => return response,
    };
    let plugins: Vec<Value> = serving
        .iter()
        .map(|p| {
            let (events, quarantined) = history.remove(&*p.name).unwrap_or_default();
            let recorded = counts.get(&*p.name).copied().unwrap_or_default();
            let grants: Vec<Value> = p
                .config
                .grants
                .grants
                .iter()
                .map(|g| {
                    json!({
                        "capability": g.capability,
                        "mode": g.mode.unwrap_or(p.config.grants.mode).as_str(),
                        "accounts": g.accounts, "regions": g.regions,
                        "resources": g.resources, "max_per_hour": g.max_per_hour,
                    })
                })
                .collect();
            json!({
                "name": &*p.name,
                "state": if quarantined.contains(&p.sha256) { "quarantined" } else { "serving" },
                "version": p.version,
                "sha256": p.sha256,
                "contract": p.contract_version(),
                "mode": p.config.grants.mode.as_str(),
                "dry_run_everything": p.config.grants.dry_run_everything,
                "grants": grants,
                "capabilities": p.capabilities,
                "patterns": p.patterns.len(),
                "rules": p.rules.as_ref().map(Vec::len),
                "quarantined_versions": quarantined,
                "lifecycle": events,
                "since_start": console.metrics.plugin_activity(&p.name),
                "findings_recorded": recorded.0,
                "failures_recorded": recorded.1,
            })
        })
        .collect();
    Json(json!({"plugins": plugins})).into_response()
}

/// `GET /v1/health`: last item per source, the intake queue, dead letters by reason.
pub async fn health(State(console): Shared, headers: HeaderMap) -> Response {
    if let Err(refused) = console.reader(&headers).await {
        return refused;
    }
    let db = console.db.clone();
    let dead_letters = match blocking(move || db.dead_letters()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let depth = console
        .queue_capacity
        .saturating_sub(console.queue.available_permits());
    let outbox = console.outbox.clone();
    let actions = blocking(move || outbox.status_counts())
        .await
        .unwrap_or_default();
    Json(json!({
        "last_item": console.metrics.last_items(),
        "queue": {"depth": depth, "capacity": console.queue_capacity},
        "pipeline_busy_ms": console.metrics.pipeline_busy_for().map(|d| d.as_millis() as u64),
        "dead_letters": dead_letters,
        "actions": actions,
    }))
    .into_response()
}

/// `GET /v1/overview?range=24h|7d` (ending at `until`, default the latest finding) or
/// `?since=&until=`: the timeline by severity and the top rules, principals (AWS services
/// left out), accounts, regions and source IPs.
pub async fn overview(
    State(console): Shared,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Err(refused) = console.reader(&headers).await {
        return refused;
    }
    let q = query_map(q);
    let db = console.db.clone();
    let answer = blocking(move || {
        let until = match q.get("until").filter(|s| !s.is_empty()) {
            Some(until) => normal_time(until)?,
            None => db.latest_time()?.unwrap_or_else(crate::audit::now_rfc3339),
        };
        let since = match q.get("since").filter(|s| !s.is_empty()) {
            Some(since) => normal_time(since)?,
            None => {
                let hours = match q.get("range").map(String::as_str) {
                    None | Some("" | "24h") => 24,
                    Some("7d") => 24 * 7,
                    Some("30d") => 24 * 30,
                    Some(other) => anyhow::bail!("range must be 24h, 7d or 30d (got {other:?})"),
                };
                let end = humantime::parse_rfc3339_weak(&until)?;
                let start = end - Duration::from_secs(hours * 3600);
                humantime::format_rfc3339_seconds(start).to_string()
            }
        };
        anyhow::ensure!(since <= until, "since is after until");
        db.overview(&since, &until)
    })
    .await;
    match answer {
        Ok(overview) => Json(overview).into_response(),
        Err(response) => response,
    }
}

/// `GET /v1/stream`: server-sent events, one `finding` event (the listed row as JSON) per
/// finding recorded after the stream opened; a comment every poll keeps it open.
pub async fn stream(State(console): Shared, headers: HeaderMap) -> Response {
    if let Err(refused) = console.reader(&headers).await {
        return refused;
    }
    let Ok(permit) = console.streams.clone().try_acquire_owned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            "too many live streams open",
        );
    };
    let db = console.db.clone();
    let start = {
        let db = db.clone();
        match blocking(move || db.last_id()).await {
            Ok(id) => id,
            Err(response) => return response,
        }
    };
    let ends = tokio::time::Instant::now() + STREAM_LIFETIME;
    let checked = tokio::time::Instant::now();
    let state = (db, start, console.stop.clone(), permit, true, checked);
    let events = futures_util::stream::unfold(
        state,
        move |(db, last, mut stop, permit, first, mut checked)| {
            let console = console.clone();
            let headers = headers.clone();
            async move {
                if !first {
                    tokio::select! {
                        _ = tokio::time::sleep(STREAM_POLL) => {}
                        _ = stop.wait_for(|s| *s) => return None,
                    }
                }
                if *stop.borrow() || tokio::time::Instant::now() > ends {
                    return None;
                }
                if checked.elapsed() >= STREAM_SESSION_CHECK {
                    if !console.still_live(&headers).await {
                        return None;
                    }
                    checked = tokio::time::Instant::now();
                }
                let reader = db.clone();
                let rows = tokio::task::spawn_blocking(move || reader.findings_after(last, 100))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                let mut text = String::from(": waiting\n\n");
                let mut next = last;
                for row in rows {
                    next = next.max(row.id);
                    let data = serde_json::to_string(&row).unwrap_or_default();
                    text.push_str(&format!("id: {}\nevent: finding\ndata: {data}\n\n", row.id));
                }
                Some((
                    Ok::<_, std::convert::Infallible>(Bytes::from(text)),
                    (db, next, stop, permit, false, checked),
                ))
            }
        },
    );
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(events),
    )
        .into_response()
}
