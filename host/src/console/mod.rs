//! The web console, served by `trailwarden run` on the daemon's listener: pages under `/`
//! (HTML, CSS and JS built into the binary, nothing fetched from elsewhere) and the JSON API
//! under `/v1/` they call, which scripts can call too.
//!
//! - `auth.rs`: password hashes, sessions (cookie), CSRF, failed-login bounds.
//! - `settings.rs`: the `[console]` table.
//! - `store.rs`: the console's tables in the audit database (facts per finding, hourly
//!   counts, triage) and its queries.
//! - `api.rs`: the `/v1/` handlers. `pages.rs`: the pages and assets.
//!
//! Every route but the login page, the stylesheet and `POST /login` refuses an anonymous
//! caller (401 for the API, a redirect to `/login` for pages); every state-changing
//! request needs the session's CSRF token; approving, rejecting and undoing need the
//! approver role. [`ROUTES`] lists them, and the router is built from the same table.

pub mod api;
pub mod auth;
pub mod cli;
pub mod pages;
mod search;
pub mod settings;
pub mod store;

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::{watch, Semaphore};

use crate::config::ResponseSettings;
use crate::daemon::metrics::Metrics;
use crate::daemon::token::Token;
use crate::respond::outbox::Outbox;
use auth::{Session, Sessions};
use settings::{ConsoleSettings, ConsoleUser, Role, Secret};
use store::ConsoleDb;

/// Live streams open at once.
const MAX_STREAMS: usize = 32;

/// What the console's handlers share.
pub struct Console {
    pub db: Arc<ConsoleDb>,
    pub sessions: Sessions,
    users: Vec<(ConsoleUser, Option<String>)>,
    token: Token,
    admin_token: Token,
    secure_cookie: bool,
    pub outbox: Outbox,
    /// The response settings in force (a reload sends new ones), for approve and undo.
    pub response: watch::Receiver<Arc<ResponseSettings>>,
    pub metrics: Arc<Metrics>,
    pub queue: Arc<Semaphore>,
    pub queue_capacity: usize,
    /// Turns true when the daemon stops: live streams end so connections can close.
    pub stop: watch::Receiver<bool>,
    pub streams: Arc<Semaphore>,
}

/// What [`Console::new`] needs.
pub struct ConsoleParts {
    pub settings: ConsoleSettings,
    pub database: std::path::PathBuf,
    pub token: Token,
    pub admin_token: Token,
    pub outbox: Outbox,
    pub response: watch::Receiver<Arc<ResponseSettings>>,
    pub metrics: Arc<Metrics>,
    pub queue: Arc<Semaphore>,
    pub queue_capacity: usize,
    pub stop: watch::Receiver<bool>,
}

impl Console {
    /// Opens the console's tables and reads the passwords given by environment variable.
    ///
    /// # Errors
    /// The database cannot be opened, or a `password_env` variable is unset or empty.
    pub fn new(parts: ConsoleParts) -> anyhow::Result<Console> {
        let mut users = Vec::new();
        for user in parts.settings.users {
            let plain = match &user.secret {
                Secret::Hash(_) => None,
                Secret::Env(var) => Some(
                    std::env::var(var)
                        .ok()
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "console user {:?}: the environment variable {var} (password_env) is not set",
                                user.name
                            )
                        })?,
                ),
            };
            users.push((user, plain));
        }
        Ok(Console {
            db: Arc::new(ConsoleDb::open(&parts.database)?),
            sessions: Sessions::new(parts.settings.session),
            users,
            token: parts.token,
            admin_token: parts.admin_token,
            secure_cookie: parts.settings.secure_cookie,
            outbox: parts.outbox,
            response: parts.response,
            metrics: parts.metrics,
            queue: parts.queue,
            queue_capacity: parts.queue_capacity,
            stop: parts.stop,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        })
    }

    /// Who `name` and `password` log in as, if anyone. An empty name means a token.
    pub fn check_login(&self, name: &str, password: &str) -> Option<(String, Role)> {
        let name = name.trim();
        if name.is_empty() || name == settings::TOKEN_USER || name == settings::ADMIN_USER {
            if self.admin_token.matches(password.as_bytes()) {
                return Some((settings::ADMIN_USER.to_string(), Role::Approver));
            }
            if self.token.matches(password.as_bytes()) {
                return Some((settings::TOKEN_USER.to_string(), Role::Viewer));
            }
            return None;
        }
        let (user, plain) = self.users.iter().find(|(u, _)| u.name == name)?;
        let ok = match (&user.secret, plain) {
            (_, Some(plain)) => auth::same_secret(password, plain),
            (Secret::Hash(hash), None) => hash.verify(password),
            (Secret::Env(_), None) => false,
        };
        ok.then(|| (user.name.clone(), user.role))
    }

    pub fn secure_cookie(&self) -> bool {
        self.secure_cookie
    }

    /// The caller's session, or 401.
    ///
    /// # Errors
    /// The answer to send instead: no or an expired session.
    #[allow(clippy::result_large_err)]
    pub fn reader(&self, headers: &HeaderMap) -> Result<Session, Response> {
        self.sessions.of(headers).ok_or_else(unauthorized)
    }

    /// The caller's session for a state-changing request: same origin and CSRF token.
    ///
    /// # Errors
    /// 401 without a session, 403 from another site or without the CSRF token.
    #[allow(clippy::result_large_err)]
    pub fn writer(&self, headers: &HeaderMap) -> Result<Session, Response> {
        if !auth::same_origin(headers) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "cross_site",
                "the request comes from another site",
            ));
        }
        let session = self.reader(headers)?;
        if !auth::csrf_ok(headers, &session) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "csrf",
                "send the session's CSRF token (GET /v1/session) in x-csrf-token",
            ));
        }
        Ok(session)
    }
}

/// One console route: method, path, whether an anonymous caller may use it.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub public: bool,
}

const fn route(method: &'static str, path: &'static str) -> RouteSpec {
    RouteSpec {
        method,
        path,
        public: false,
    }
}

const fn public(method: &'static str, path: &'static str) -> RouteSpec {
    RouteSpec {
        method,
        path,
        public: true,
    }
}

/// Every console route; [`router`] is built from this table.
pub const ROUTES: &[RouteSpec] = &[
    public("GET", "/login"),
    public("POST", "/login"),
    public("GET", "/assets/style.css"),
    route("POST", "/logout"),
    route("GET", "/"),
    route("GET", "/findings"),
    route("GET", "/findings/{id}"),
    route("GET", "/actions"),
    route("GET", "/plugins"),
    route("GET", "/assets/app.js"),
    route("GET", "/v1/session"),
    route("GET", "/v1/findings"),
    route("GET", "/v1/findings/{id}"),
    route("POST", "/v1/findings/{id}/triage"),
    route("GET", "/v1/actions"),
    route("POST", "/v1/actions/{id}/approve"),
    route("POST", "/v1/actions/{id}/reject"),
    route("POST", "/v1/actions/{id}/undo"),
    route("GET", "/v1/plugins"),
    route("GET", "/v1/health"),
    route("GET", "/v1/overview"),
    route("GET", "/v1/stream"),
];

fn handler(spec: &RouteSpec) -> MethodRouter<Arc<Console>> {
    use axum::routing::{get, post};
    match (spec.method, spec.path) {
        ("GET", "/login") => get(pages::login_page),
        ("POST", "/login") => post(api::login),
        ("GET", "/assets/style.css") => get(pages::style),
        ("POST", "/logout") => post(api::logout),
        ("GET", "/" | "/findings" | "/findings/{id}" | "/actions" | "/plugins") => {
            get(pages::shell)
        }
        ("GET", "/assets/app.js") => get(pages::script),
        ("GET", "/v1/session") => get(api::session),
        ("GET", "/v1/findings") => get(api::findings),
        ("GET", "/v1/findings/{id}") => get(api::finding),
        ("POST", "/v1/findings/{id}/triage") => post(api::triage),
        ("GET", "/v1/actions") => get(api::actions),
        ("POST", "/v1/actions/{id}/approve") => post(api::approve),
        ("POST", "/v1/actions/{id}/reject") => post(api::reject),
        ("POST", "/v1/actions/{id}/undo") => post(api::undo),
        ("GET", "/v1/plugins") => get(api::plugins),
        ("GET", "/v1/health") => get(api::health),
        ("GET", "/v1/overview") => get(api::overview),
        ("GET", "/v1/stream") => get(api::stream),
        (method, path) => unreachable!("no handler for {method} {path}"),
    }
}

/// The console's router, with its security headers on every answer.
pub fn router(console: Arc<Console>) -> Router {
    let mut router = Router::new();
    for spec in ROUTES {
        router = router.route(spec.path, handler(spec));
    }
    router
        .layer(axum::middleware::map_response(security_headers))
        .with_state(console)
}

/// No inline script or style, nothing from elsewhere, never framed, never cached.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "log in first: POST /login",
    )
}

pub(crate) fn error(status: StatusCode, reason: &str, detail: &str) -> Response {
    (status, Json(json!({"error": reason, "detail": detail}))).into_response()
}
