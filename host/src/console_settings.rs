//! `[console]`: the web console's users and session rules.
//!
//! ```toml
//! [console]
//! session_hours = 12          # a session ends this long after login
//! idle_minutes = 60           # ... or this long after its last request
//! secure_cookie = false       # true when a TLS proxy serves the console (cookie `Secure`)
//! [[console.users]]
//! name = "alice"
//! role = "approver"           # or "viewer"
//! password_hash = "pbkdf2-sha256$600000$SALT$HASH"   # `trailwarden console hash-password`
//! [[console.users]]
//! name = "bob"
//! role = "viewer"
//! password_env = "BOB_PASSWORD"                      # read once at start
//! ```
//!
//! Besides these users, the ingest token logs in as `token` (viewer) and the admin token
//! as `admin` (approver): whoever holds the admin token can already change what runs.

use std::num::NonZeroU32;

use anyhow::{bail, Result};
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConsole {
    /// The console's address as responders reach it (behind a proxy, say); notification
    /// messages link to `{public_url}/findings/{id}`. Read by the config, for notify.
    pub public_url: Option<String>,
    session_hours: Option<u64>,
    idle_minutes: Option<u64>,
    #[serde(default)]
    secure_cookie: bool,
    #[serde(default)]
    users: Vec<RawUser>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: String,
    role: Role,
    password_hash: Option<String>,
    password_env: Option<String>,
}

/// What a console user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, triages findings.
    Viewer,
    /// Also approves, rejects and undoes actions.
    Approver,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Approver => "approver",
        }
    }
}

/// Where a user's password comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Secret {
    Hash(PasswordHash),
    /// The name of an environment variable read when the daemon starts.
    Env(String),
}

/// One `[[console.users]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleUser {
    pub name: String,
    pub role: Role,
    pub secret: Secret,
}

/// The validated `[console]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSettings {
    /// A session ends this long after login (absolute expiry).
    pub session: std::time::Duration,
    /// ... or this long after its last request (idle expiry).
    pub idle: std::time::Duration,
    pub secure_cookie: bool,
    pub users: Vec<ConsoleUser>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            session: std::time::Duration::from_secs(12 * 3600),
            idle: std::time::Duration::from_secs(60 * 60),
            secure_cookie: false,
            users: Vec::new(),
        }
    }
}

/// Names the tokens log in as; a configured user cannot take them.
pub const TOKEN_USER: &str = "token";
pub const ADMIN_USER: &str = "admin";

impl ConsoleSettings {
    /// The configured user named `name`, if any.
    pub fn user(&self, name: &str) -> Option<&ConsoleUser> {
        self.users.iter().find(|u| u.name == name)
    }

    /// # Errors
    /// A user without exactly one of `password_hash` and `password_env`, an unreadable
    /// hash, a duplicate or reserved name, a session length outside 1..=720 hours, or an
    /// idle time outside 5..=1440 minutes.
    pub fn from_raw(raw: RawConsole) -> Result<ConsoleSettings> {
        let hours = raw.session_hours.unwrap_or(12);
        if !(1..=720).contains(&hours) {
            bail!("console.session_hours must be between 1 and 720 (got {hours})");
        }
        let idle = raw.idle_minutes.unwrap_or(60);
        if !(5..=1440).contains(&idle) {
            bail!("console.idle_minutes must be between 5 and 1440 (got {idle})");
        }
        let mut users: Vec<ConsoleUser> = Vec::new();
        for user in raw.users {
            let name = user.name.trim().to_string();
            let valid = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
            if !valid {
                bail!("console user {name:?}: a name is 1-64 letters, digits, `._@-`");
            }
            if name == TOKEN_USER || name == ADMIN_USER {
                bail!("console user {name:?}: the name is reserved for the token logins");
            }
            if users.iter().any(|u| u.name == name) {
                bail!("console user {name:?} is listed twice");
            }
            let secret = match (user.password_hash, user.password_env) {
                (Some(hash), None) => Secret::Hash(
                    PasswordHash::parse(&hash)
                        .map_err(|e| anyhow::anyhow!("console user {name:?}: {e}"))?,
                ),
                (None, Some(var)) => Secret::Env(var),
                _ => bail!(
                    "console user {name:?}: give exactly one of password_hash and password_env"
                ),
            };
            users.push(ConsoleUser {
                name,
                role: user.role,
                secret,
            });
        }
        Ok(ConsoleSettings {
            session: std::time::Duration::from_secs(hours * 3600),
            idle: std::time::Duration::from_secs(idle * 60),
            secure_cookie: raw.secure_cookie,
            users,
        })
    }
}

/// A stored password: `pbkdf2-sha256$ROUNDS$SALT_HEX$HASH_HEX`.
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordHash {
    rounds: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    /// # Errors
    /// Not of the form above, fewer than 10,000 rounds, or a salt under 8 bytes.
    pub fn parse(text: &str) -> Result<PasswordHash> {
        let parts: Vec<&str> = text.trim().split('$').collect();
        let [scheme, rounds, salt, hash] = parts.as_slice() else {
            bail!("password_hash is not `pbkdf2-sha256$ROUNDS$SALT$HASH`");
        };
        if *scheme != "pbkdf2-sha256" {
            bail!("password_hash: unknown scheme {scheme:?} (pbkdf2-sha256 only)");
        }
        let rounds: u32 = rounds
            .parse()
            .map_err(|_| anyhow::anyhow!("password_hash: rounds is not a number"))?;
        if rounds < 10_000 {
            bail!("password_hash: at least 10000 rounds");
        }
        let salt =
            hex::decode(salt).map_err(|_| anyhow::anyhow!("password_hash: salt is not hex"))?;
        let hash =
            hex::decode(hash).map_err(|_| anyhow::anyhow!("password_hash: hash is not hex"))?;
        if salt.len() < 8 || hash.len() != 32 {
            bail!("password_hash: a salt of 8+ bytes and a 32-byte hash");
        }
        Ok(PasswordHash {
            rounds: NonZeroU32::new(rounds).expect("checked above"),
            salt,
            hash,
        })
    }

    /// A new hash of `password` with a random salt.
    ///
    /// # Errors
    /// No randomness from the system.
    pub fn new(password: &str, rounds: u32) -> Result<PasswordHash> {
        let mut salt = vec![0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let rounds = NonZeroU32::new(rounds.max(10_000)).expect("at least 10000");
        let mut hash = vec![0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            &salt,
            password.as_bytes(),
            &mut hash,
        );
        Ok(PasswordHash { rounds, salt, hash })
    }

    /// Whether `password` is the one hashed (in constant time).
    pub fn verify(&self, password: &str) -> bool {
        ring::pbkdf2::verify(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            self.rounds,
            &self.salt,
            password.as_bytes(),
            &self.hash,
        )
        .is_ok()
    }
}

impl std::fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pbkdf2-sha256${}${}${}",
            self.rounds,
            hex::encode(&self.salt),
            hex::encode(&self.hash)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<ConsoleSettings> {
        ConsoleSettings::from_raw(toml::from_str(text)?)
    }

    #[test]
    fn sessions_end_after_12_hours_or_an_idle_hour_unless_set_within_bounds() {
        let default = parsed("").unwrap();
        assert_eq!(default.session.as_secs(), 12 * 3600);
        assert_eq!(default.idle.as_secs(), 3600);
        let set = parsed("session_hours = 2\nidle_minutes = 15").unwrap();
        assert_eq!(set.idle.as_secs(), 15 * 60);
        for bad in [
            "idle_minutes = 0",
            "idle_minutes = 1441",
            "session_hours = 0",
        ] {
            let error = parsed(bad).unwrap_err().to_string();
            assert!(error.contains("must be between"), "{bad}: {error}");
        }
    }
}
