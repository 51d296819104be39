//! The pages: one HTML shell for every page (the script draws the page its path names),
//! the login page, the stylesheet and the script, all built into the binary.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Console;

const SHELL: &str = include_str!("assets/app.html");
const LOGIN: &str = include_str!("assets/login.html");
const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

fn html(text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], text).into_response()
}

/// Pages refuse an anonymous caller with a redirect to the login page.
fn to_login() -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response()
}

/// `GET /login` (`?failed=1` after a wrong password says so).
pub async fn login_page(axum::extract::RawQuery(query): axum::extract::RawQuery) -> Response {
    let failed = query.is_some_and(|q| q.split('&').any(|p| p == "failed=1"));
    let page = if failed {
        LOGIN.replace(
            "<!--failed-->",
            r#"<p class="error" id="login-failed">Wrong name or password.</p>"#,
        )
    } else {
        LOGIN.to_string()
    };
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// `GET /assets/style.css` (the login page needs it before anyone is logged in).
pub async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// `GET /`, `/findings`, `/findings/{id}`, `/actions`, `/plugins`.
pub async fn shell(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    match console.reader(&headers).await {
        Ok(_) => html(SHELL),
        Err(_) => to_login(),
    }
}

/// `GET /assets/app.js`.
pub async fn script(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    match console.reader(&headers).await {
        Ok(_) => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            SCRIPT,
        )
            .into_response(),
        Err(refused) => refused,
    }
}
