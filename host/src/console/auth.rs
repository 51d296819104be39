//! Console authentication: password hashes (PBKDF2-HMAC-SHA256), logins bounded per
//! address, sessions stored in the audit database (they survive a restart), and the CSRF
//! token each session carries.
//!
//! A session id travels only in a cookie (`HttpOnly; SameSite=Strict`, `Secure` when the
//! console is served over TLS); the database keeps only its SHA-256, with the user, role,
//! a tag of the credential, the CSRF token, and when it was created, expires and was last
//! seen. A session ends at its absolute expiry, after `idle_minutes` without a request, at
//! logout, past [`SESSIONS_PER_USER`] (the user's oldest), or when its user's role or
//! credential in the `[console]` in force is no longer the one it logged in with (a user
//! removed, a role changed, a token rotated: checked on every request). A state-changing request
//! must also carry the session's CSRF token in `x-csrf-token`, and a browser's `Origin`, if
//! sent, must be this host.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::settings::Role;
use super::store::{SessionRow, SessionStore};

/// PBKDF2 rounds for new hashes (OWASP's 2023 figure for HMAC-SHA256).
pub const PBKDF2_ROUNDS: u32 = 600_000;
/// The session cookie's name.
pub const COOKIE: &str = "tw_session";
/// Addresses with failed logins remembered before the stale ones are forgotten.
const MAX_TRACKED_ADDRESSES: usize = 10_000;
/// Failed logins per address per window before logins from it are refused.
const MAX_FAILURES: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(300);

/// Password hashes are read from `[console]`, so they live with its settings.
pub use crate::console_settings::PasswordHash;

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(bytes)
}

/// Whether two secrets are equal, in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

/// A logged-in console user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub csrf: String,
}

/// Sessions one user may hold at once; a login past this ends that user's oldest.
pub const SESSIONS_PER_USER: usize = 20;
/// A session's last-seen time is written at most this often (not a write per request).
const TOUCH_EVERY_MS: i64 = 60_000;

/// What a user logs in as now (from the `[console]` in force): their role and a tag of
/// the credential ([`credential_tag`]); `None` for a user no longer configured.
pub type Current<'a> = &'a dyn Fn(&str) -> Option<(Role, String)>;

/// A short, one-way tag of what a user logs in with (a token, a stored password hash, the
/// name of a password variable), kept with each session: a session opened with a credential
/// since replaced (a rotated token, a new hash) is refused. Never the credential itself.
pub fn credential_tag(kind: &str, credential: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"trailwarden console credential\0");
    hasher.update(kind.as_bytes());
    hasher.update(b"\0");
    hasher.update(credential.as_bytes());
    hex::encode(&hasher.finalize()[..8])
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn id_hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// The sessions, stored in the audit database by the SHA-256 of their id (they outlive a
/// restart), and the failed logins per address (in memory).
pub struct Sessions {
    store: SessionStore,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Sessions {
    pub fn new(store: SessionStore) -> Sessions {
        Sessions {
            store,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Opens a session ending after `lifetime` (or `idle` without a request); returns its
    /// id (for the cookie only: the database keeps its SHA-256) and the session.
    ///
    /// # Errors
    /// No randomness from the system, or the write fails.
    pub fn open(
        &self,
        user: &str,
        role: Role,
        credential: String,
        lifetime: Duration,
        idle: Duration,
    ) -> Result<(String, Session)> {
        let id = hex::encode(random_bytes::<32>()?);
        let now = now_ms();
        let session = Session {
            user: user.to_string(),
            role,
            csrf: hex::encode(random_bytes::<32>()?),
        };
        let row = SessionRow {
            user: session.user.clone(),
            role: role.as_str().to_string(),
            credential,
            csrf: session.csrf.clone(),
            created_ms: now,
            expires_ms: now + lifetime.as_millis() as i64,
            last_seen_ms: now,
        };
        self.store.insert(
            &id_hash(&id),
            &row,
            now - idle.as_millis() as i64,
            SESSIONS_PER_USER,
        )?;
        Ok((id, session))
    }

    /// The live session with id `id`: stored, not past its expiry nor idle longer than
    /// `idle`, and its user still logging in with the same role and credential (`current`).
    /// A session failing any of these is deleted.
    ///
    /// # Errors
    /// The read or write fails.
    /// `activity` says whether the lookup is a request of the user's (it keeps the session
    /// from going idle) or a re-check on its own (a live stream), which must not.
    pub fn of(
        &self,
        id: &str,
        idle: Duration,
        current: Current<'_>,
        activity: bool,
    ) -> Result<Option<Session>> {
        let key = id_hash(id);
        let Some(row) = self.store.get(&key)? else {
            return Ok(None);
        };
        let now = now_ms();
        let live = row.expires_ms > now && row.last_seen_ms >= now - idle.as_millis() as i64;
        let role = current(&row.user).and_then(|(role, credential)| {
            (role.as_str() == row.role && credential == row.credential).then_some(role)
        });
        let Some(role) = role.filter(|_| live) else {
            self.store.delete(&key)?;
            return Ok(None);
        };
        if activity && now - row.last_seen_ms >= TOUCH_EVERY_MS {
            self.store.touch(&key, now)?;
        }
        Ok(Some(Session {
            user: row.user,
            role,
            csrf: row.csrf,
        }))
    }

    /// Ends the session with id `id`; whether there was one.
    ///
    /// # Errors
    /// The write fails.
    pub fn close(&self, id: &str) -> Result<bool> {
        self.store.delete(&id_hash(id))
    }

    /// Deletes every session expired, idle longer than `idle`, or whose user no longer logs
    /// in with its role and credential (at start, and after a reload); returns how many.
    ///
    /// # Errors
    /// The read or write fails.
    pub fn prune(&self, idle: Duration, current: Current<'_>) -> Result<usize> {
        let now = now_ms();
        self.store.retain(
            now,
            now - idle.as_millis() as i64,
            |user, role, credential| {
                current(user).is_some_and(|(r, c)| r.as_str() == role && c == credential)
            },
        )
    }

    /// Whether `peer` may try a login now (fewer than the allowed failures lately).
    pub fn may_try(&self, peer: IpAddr) -> bool {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&peer) {
            Some((n, since)) => *n < MAX_FAILURES || since.elapsed() > FAILURE_WINDOW,
            None => true,
        }
    }

    /// Counts a failed login from `peer`.
    pub fn failed(&self, peer: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > MAX_TRACKED_ADDRESSES {
            map.retain(|_, (_, since)| since.elapsed() <= FAILURE_WINDOW);
        }
        let entry = map.entry(peer).or_insert((0, Instant::now()));
        if entry.1.elapsed() > FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value for a session id (`Max-Age=0` ends it).
pub fn session_cookie(id: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        max_age.as_secs()
    )
}

/// Whether a browser's `Origin` (or, without it, `Referer`), when present, names this
/// host: a cross-site form or script is refused even before its CSRF token is checked.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match from {
        None => true,
        Some(url) => {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            rest.is_some_and(|r| r.split('/').next() == Some(host))
        }
    }
}

/// Whether the request carries the session's CSRF token.
pub fn csrf_ok(headers: &HeaderMap, session: &Session) -> bool {
    headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| same_secret(t, &session.csrf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_round_trips_as_text() {
        let hash = PasswordHash::new("correct horse", 10_000).unwrap();
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horsE"));
        let again = PasswordHash::parse(&hash.to_string()).unwrap();
        assert!(again.verify("correct horse"));
        assert!(PasswordHash::parse("pbkdf2-sha256$100$00$00").is_err());
        assert!(PasswordHash::parse("md5$1$2").is_err());
    }

    #[test]
    fn the_origin_must_be_this_host_when_a_browser_names_one() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&headers));
        headers.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&headers));
    }
}
