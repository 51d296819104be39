//! The web console, served by `trailwarden run` on the daemon's listener: pages under `/`
//! (HTML, CSS and JS built into the binary, nothing fetched from elsewhere) and the JSON API
//! under `/v1/` they call, which scripts can call too.
//!
//! - `auth.rs`: password hashes, sessions (cookie; stored in `console_sessions`), CSRF,
//!   failed-login bounds.
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
/// `[console]`, read by the config: `console_settings`, under the console's name for it.
pub use crate::console_settings as settings;
pub mod store;

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::{watch, Semaphore};

use crate::metrics::Metrics;
use crate::respond::outbox::Outbox;
use crate::respond::settings::ResponseSettings;
use crate::token::Token;
use auth::{Session, Sessions};
use settings::{ConsoleSettings, ConsoleUser, Role, Secret};
use store::ConsoleDb;

/// Live streams open at once.
const MAX_STREAMS: usize = 32;

/// What the console's handlers share.
pub struct Console {
    pub db: Arc<ConsoleDb>,
    pub sessions: Sessions,
    /// The `[console]` in force (a reload sends a new one): users, roles, session times.
    settings: watch::Receiver<Arc<ConsoleSettings>>,
    token: Token,
    admin_token: Token,
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
    /// The `[console]` in force, and each one a reload brings.
    pub settings: watch::Receiver<Arc<ConsoleSettings>>,
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
    /// Opens the console's tables, checks the passwords given by environment variable, and
    /// deletes the stored sessions no longer valid (expired, or their user removed or given
    /// another role or credential since).
    ///
    /// # Errors
    /// The database cannot be opened, or a `password_env` variable is unset or empty.
    pub fn new(parts: ConsoleParts) -> anyhow::Result<Console> {
        let settings = parts.settings.borrow().clone();
        for user in &settings.users {
            if let Secret::Env(var) = &user.secret {
                if env_password(var).is_none() {
                    anyhow::bail!(
                        "console user {:?}: the environment variable {var} (password_env) is not set",
                        user.name
                    );
                }
            }
        }
        let db = Arc::new(ConsoleDb::open(&parts.database)?);
        let sessions = Sessions::new(store::SessionStore::open(&parts.database)?);
        let console = Console {
            db,
            sessions,
            settings: parts.settings,
            token: parts.token,
            admin_token: parts.admin_token,
            outbox: parts.outbox,
            response: parts.response,
            metrics: parts.metrics,
            queue: parts.queue,
            queue_capacity: parts.queue_capacity,
            stop: parts.stop,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        };
        let ended = console.prune_sessions()?;
        if ended > 0 {
            tracing::info!(
                sessions = ended,
                "console: stored sessions ended (expired or no longer valid)"
            );
        }
        Ok(console)
    }

    fn current_settings(&self) -> Arc<ConsoleSettings> {
        self.settings.borrow().clone()
    }

    /// The role and credential tag `name` logs in with under `settings`, if configured.
    fn current(&self, settings: &ConsoleSettings, name: &str) -> Option<(Role, String)> {
        match name {
            settings::TOKEN_USER => Some((
                Role::Viewer,
                auth::credential_tag("token", self.token.expose()),
            )),
            settings::ADMIN_USER => Some((
                Role::Approver,
                auth::credential_tag("admin", self.admin_token.expose()),
            )),
            _ => settings
                .user(name)
                .map(|user| (user.role, credential_of(user))),
        }
    }

    /// Deletes the stored sessions no longer valid under the `[console]` in force.
    ///
    /// # Errors
    /// The read or write fails.
    pub fn prune_sessions(&self) -> anyhow::Result<usize> {
        let settings = self.current_settings();
        self.sessions
            .prune(settings.idle, &|name| self.current(&settings, name))
    }

    /// After each reload, ends the sessions of users removed or given another role or
    /// credential (a request would refuse them anyway; this deletes their rows), until the
    /// daemon stops.
    pub async fn prune_after_reloads(self: Arc<Self>) {
        let mut settings = self.settings.clone();
        let mut stop = self.stop.clone();
        loop {
            tokio::select! {
                changed = settings.changed() => if changed.is_err() { return },
                _ = stop.wait_for(|s| *s) => return,
            }
            let console = self.clone();
            match tokio::task::spawn_blocking(move || console.prune_sessions()).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(sessions = n, "console: sessions ended by the reload"),
                Ok(Err(e)) => tracing::warn!("console: cannot prune sessions: {e:#}"),
                Err(_) => {}
            }
        }
    }

    /// Who `name` and `password` log in as, if anyone, and the tag of the credential used.
    /// An empty name means a token.
    pub fn check_login(&self, name: &str, password: &str) -> Option<(String, Role, String)> {
        let name = name.trim();
        let settings = self.current_settings();
        if name.is_empty() || name == settings::TOKEN_USER || name == settings::ADMIN_USER {
            let user = if self.admin_token.matches(password.as_bytes()) {
                settings::ADMIN_USER
            } else if self.token.matches(password.as_bytes()) {
                settings::TOKEN_USER
            } else {
                return None;
            };
            let (role, credential) = self.current(&settings, user)?;
            return Some((user.to_string(), role, credential));
        }
        let user = settings.user(name)?;
        let ok = match &user.secret {
            Secret::Env(var) => {
                env_password(var).is_some_and(|plain| auth::same_secret(password, &plain))
            }
            Secret::Hash(hash) => hash.verify(password),
        };
        ok.then(|| (user.name.clone(), user.role, credential_of(user)))
    }

    pub fn secure_cookie(&self) -> bool {
        self.settings.borrow().secure_cookie
    }

    /// Opens a session for `user` (after [`Console::check_login`]): its cookie value and
    /// the session.
    ///
    /// # Errors
    /// No randomness, or the write fails.
    pub fn open_session(
        &self,
        user: &str,
        role: Role,
        credential: String,
    ) -> anyhow::Result<(String, Session)> {
        let settings = self.current_settings();
        self.sessions
            .open(user, role, credential, settings.session, settings.idle)
    }

    /// The `Set-Cookie` value for a new session's id.
    pub fn session_cookie(&self, id: &str) -> String {
        let settings = self.current_settings();
        auth::session_cookie(id, settings.session, settings.secure_cookie)
    }

    /// The caller's session, or 401.
    ///
    /// # Errors
    /// The answer to send instead: no, an expired or a no longer valid session (401), or
    /// the sessions table cannot be read (503).
    #[allow(clippy::result_large_err)]
    pub async fn reader(self: &Arc<Self>, headers: &HeaderMap) -> Result<Session, Response> {
        match self.session_of(headers, true).await {
            Ok(Ok(Some(session))) => Ok(session),
            Ok(Ok(None)) => Err(unauthorized()),
            Ok(Err(e)) => {
                tracing::warn!("console: cannot read sessions: {e:#}");
                Err(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "sessions_unavailable",
                    "the session store cannot be read; see the daemon's log",
                ))
            }
            Err(_) => Err(unauthorized()),
        }
    }

    /// Whether the session the request's cookie names is still live, not counting as
    /// activity (a live stream's re-check); a store that cannot be read counts as not live.
    pub async fn still_live(self: &Arc<Self>, headers: &HeaderMap) -> bool {
        matches!(self.session_of(headers, false).await, Ok(Ok(Some(_))))
    }

    /// The session the request's cookie names, looked up off the async threads (`Err` if
    /// that task failed); no cookie is no session.
    async fn session_of(
        self: &Arc<Self>,
        headers: &HeaderMap,
        activity: bool,
    ) -> Result<anyhow::Result<Option<Session>>, tokio::task::JoinError> {
        let Some(id) = auth::cookie(headers, auth::COOKIE).map(str::to_string) else {
            return Ok(Ok(None));
        };
        let console = self.clone();
        tokio::task::spawn_blocking(move || {
            let settings = console.current_settings();
            console.sessions.of(
                &id,
                settings.idle,
                &|name| console.current(&settings, name),
                activity,
            )
        })
        .await
    }

    /// Ends the session the request's cookie names.
    ///
    /// # Errors
    /// The write fails.
    pub async fn close_session(self: &Arc<Self>, headers: &HeaderMap) -> anyhow::Result<()> {
        let Some(id) = auth::cookie(headers, auth::COOKIE).map(str::to_string) else {
            return Ok(());
        };
        let console = self.clone();
        tokio::task::spawn_blocking(move || console.sessions.close(&id)).await??;
        Ok(())
    }

    /// The caller's session for a state-changing request: same origin and CSRF token.
    ///
    /// # Errors
    /// 401 without a session, 403 from another site or without the CSRF token.
    #[allow(clippy::result_large_err)]
    pub async fn writer(self: &Arc<Self>, headers: &HeaderMap) -> Result<Session, Response> {
        if !auth::same_origin(headers) {
            return Err(error(
                StatusCode::FORBIDDEN,
                "cross_site",
                "the request comes from another site",
            ));
        }
        let session = self.reader(headers).await?;
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

/// A password given by environment variable (read when needed: the environment is the
/// daemon's own, fixed at start).
fn env_password(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// The credential tag of a configured user: its stored hash, or the name of its variable.
fn credential_of(user: &ConsoleUser) -> String {
    match &user.secret {
        Secret::Hash(hash) => auth::credential_tag("hash", &hash.to_string()),
        Secret::Env(var) => auth::credential_tag("env", var),
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
