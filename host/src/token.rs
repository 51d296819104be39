//! The ingest token: generated on first start, kept in a file only its owner can read,
//! compared in constant time, never logged. Outside `daemon` because `setup` (which puts
//! it in the EventBridge connection) and the console (which logs in with it) use it too.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret token. `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// The secret text, for the one place that must show or send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this token, in time that does not depend on where they differ
    /// (both are hashed first, so lengths leak nothing either).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let want = Sha256::digest(self.0.as_bytes());
        let got = Sha256::digest(candidate);
        want.ct_eq(&got).into()
    }
}

/// The token in `path`, creating it (mode 0600) if it does not exist. Returns the token and
/// whether it was created now.
///
/// # Errors
/// The file cannot be read or written, is readable by others than its owner, or is empty.
pub fn load_or_create(path: &Path) -> Result<(Token, bool)> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                bail!(
                    "{}: the ingest token file is readable by others (mode {:o}); run `chmod 600 {}`",
                    path.display(),
                    mode & 0o777,
                    path.display()
                );
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let token = text.trim();
            if token.len() < 16 {
                bail!(
                    "{}: the ingest token is shorter than 16 characters",
                    path.display()
                );
            }
            Ok((Token(token.to_string()), false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let token = generate()?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(file, "{}", token.0)?;
            file.sync_all()?;
            Ok((token, true))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// 32 random bytes from the operating system, as 64 hex characters.
fn generate() -> Result<Token> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the token: {e}"))?;
    Ok(Token(hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_owner_only_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/trailwarden.token");
        let (token, created) = load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(token.expose().len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert!(again.matches(token.expose().as_bytes()));
        assert!(!again.matches(b"wrong"));
        assert!(!format!("{again:?}").contains(token.expose()));
    }

    #[test]
    fn a_token_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "0123456789abcdef0123").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
