//! On-disk cache of compiled components, keyed by the wasm's sha256 and the engine's
//! compatibility hash, so that a restart loads in milliseconds instead of recompiling.
//!
//! Only bytes this host wrote are ever deserialized: each entry starts with an HMAC-SHA256,
//! under a key generated once and kept owner-only beside the entries, of the entry's name
//! (wasm sha256 and engine) and its compiled bytes. An entry whose MAC does not verify (edited,
//! swapped for another plugin's, or written by anyone without the key) is never handed to
//! `Component::deserialize`: it is counted, logged, deleted and recompiled. The folder is
//! also owner-only, and entries are written to a temporary name and renamed into place.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wasmtime::component::Component;

/// The key file, in the cache folder.
const KEY_FILE: &str = "cache.key";
/// Bytes of the key and of the MAC that starts each entry.
const KEY_BYTES: usize = 32;
const MAC_BYTES: usize = 32;

/// Where a component came from, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileSource {
    Compiled,
    Cache,
}

pub struct ComponentCache {
    dir: PathBuf,
    key: [u8; KEY_BYTES],
    /// Entries refused because their MAC did not verify.
    rejected: AtomicU64,
}

impl ComponentCache {
    /// Opens (creating) the cache folder and its key.
    ///
    /// # Errors
    /// The folder cannot be created, or the key can be neither read nor created.
    pub fn open(dir: &Path) -> Result<ComponentCache> {
        create_private_dir(dir)?;
        Ok(ComponentCache {
            dir: dir.to_path_buf(),
            key: load_or_create_key(&dir.join(KEY_FILE))?,
            rejected: AtomicU64::new(0),
        })
    }

    /// Entries refused since this cache was opened because their MAC did not verify.
    pub fn rejected_entries(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// The MAC of an entry: its name binds it to one wasm and one engine.
    fn mac(&self, name: &str, compiled: &[u8]) -> [u8; MAC_BYTES] {
        let mut message = Vec::with_capacity(name.len() + 1 + compiled.len());
        message.extend_from_slice(name.as_bytes());
        message.push(0);
        message.extend_from_slice(compiled);
        hmac_sha256(&self.key, &message)
    }

    /// The compiled bytes of an entry whose MAC verifies; `None` (counted, logged, deleted)
    /// for any other file.
    fn verified(&self, entry: &Path, name: &str) -> Option<Vec<u8>> {
        let mut bytes = std::fs::read(entry).ok()?;
        let authentic = bytes.len() > MAC_BYTES && {
            let (mac, compiled) = bytes.split_at(MAC_BYTES);
            bool::from(self.mac(name, compiled).ct_eq(mac))
        };
        if !authentic {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(entry = %entry.display(), "compile cache entry fails its MAC (not written by this host, or altered): recompiling");
            let _ = std::fs::remove_file(entry);
            return None;
        }
        bytes.drain(..MAC_BYTES);
        Some(bytes)
    }

    /// Loads the component for `wasm` from the cache, or compiles and caches it.
    ///
    /// # Errors
    /// The bytes are not a valid component for this engine.
    pub fn load(
        &self,
        engine: &wasmtime::Engine,
        wasm: &[u8],
        wasm_sha256: &str,
    ) -> Result<(Component, CompileSource)> {
        let name = format!("{wasm_sha256}-{}.cwasm", engine_key(engine));
        let entry = self.dir.join(&name);
        if entry.is_file() {
            if let Some(compiled) = self.verified(&entry, &name) {
                // SAFETY: the MAC proves this host wrote these bytes with
                // `precompile_component` for this wasm and an engine of the same compatibility
                // hash; wasmtime still checks the header and refuses an incompatible artifact.
                match unsafe { Component::deserialize(engine, &compiled) } {
                    Ok(component) => return Ok((component, CompileSource::Cache)),
                    Err(e) => {
                        tracing::warn!(entry = %entry.display(), error = %e, "discarding unusable cache entry");
                        let _ = std::fs::remove_file(&entry);
                    }
                }
            }
        }
        // wasmtime's parse errors carry multi-line byte dumps: say it in one line.
        anyhow::ensure!(
            wasm.starts_with(b"\0asm"),
            "not a WebAssembly file (it does not start with the \\0asm header)"
        );
        let compiled = engine.precompile_component(wasm).map_err(|e| {
            let text = format!("{e:#}");
            anyhow::anyhow!(
                "not a valid WebAssembly component: {}",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        })?;
        // Unique to this write: plugins load on several threads, and two of them may compile
        // the same wasm (one file configured twice) at once.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = entry.with_extension(format!("tmp{}-{write}", std::process::id()));
        let written = [&self.mac(&name, &compiled)[..], &compiled].concat();
        if let Err(e) = std::fs::write(&tmp, &written).and_then(|()| std::fs::rename(&tmp, &entry))
        {
            // A read-only cache costs a recompile next time, nothing more.
            tracing::warn!(entry = %entry.display(), error = %e, "cannot write compile cache");
            let _ = std::fs::remove_file(&tmp);
        }
        // SAFETY: these bytes were produced just above by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }?;
        Ok((component, CompileSource::Compiled))
    }
}

fn engine_key(engine: &wasmtime::Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(())
}

/// Reads the cache key, or makes one (owner-only, created exclusively so two processes
/// starting together agree on one key). A key file of the wrong size is replaced: the entries
/// it signed then fail their MACs and are recompiled.
fn load_or_create_key(path: &Path) -> Result<[u8; KEY_BYTES]> {
    use std::io::Write;
    for _ in 0..2 {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Some(key) = hex::decode(text.trim())
                .ok()
                .and_then(|bytes| <[u8; KEY_BYTES]>::try_from(bytes).ok())
            {
                return Ok(key);
            }
            tracing::warn!(key = %path.display(), "compile cache key unreadable: making a new one");
            std::fs::remove_file(path)
                .with_context(|| format!("cannot replace {}", path.display()))?;
        }
        let mut key = [0u8; KEY_BYTES];
        getrandom::fill(&mut key)
            .map_err(|e| anyhow::anyhow!("no randomness for the compile cache key: {e}"))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(hex::encode(key).as_bytes())
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                return Ok(key);
            }
            // Another process made it first: read theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot create {}", path.display()));
            }
        }
    }
    anyhow::bail!("cannot settle on a compile cache key in {}", path.display())
}

/// HMAC-SHA256 (RFC 2104) over the sha2 crate the host already uses.
fn hmac_sha256(key: &[u8; KEY_BYTES], message: &[u8]) -> [u8; MAC_BYTES] {
    const BLOCK: usize = 64;
    let mut padded = [0u8; BLOCK];
    padded[..KEY_BYTES].copy_from_slice(key);
    let inner_key: Vec<u8> = padded.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = padded.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_key)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_key)
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_1() {
        // RFC 4231 test case 1 uses a 20-byte key; padded with zeros to 32 bytes it is the
        // same HMAC (keys shorter than the block are zero-padded by definition).
        let mut key = [0u8; KEY_BYTES];
        key[..20].copy_from_slice(&[0x0b; 20]);
        assert_eq!(
            hex::encode(hmac_sha256(&key, b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn the_key_is_made_once_owner_only_and_a_damaged_one_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let key = load_or_create_key(&path).unwrap();
        assert_eq!(load_or_create_key(&path).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert_ne!(load_or_create_key(&path).unwrap(), key);
    }
}
