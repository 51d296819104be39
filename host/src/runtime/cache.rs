//! On-disk cache of compiled components, keyed by the wasm's sha256 and the engine's
//! compatibility hash, so that a restart loads in milliseconds instead of recompiling.
//!
//! Only files this process family wrote are ever deserialized: the cache folder is created
//! owner-only, and entries are written to a temporary name and renamed into place.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::component::Component;

/// Where a component came from, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileSource {
    Compiled,
    Cache,
}

pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// Opens (creating) the cache folder.
    ///
    /// # Errors
    /// The folder cannot be created.
    pub fn open(dir: &Path) -> Result<ComponentCache> {
        create_private_dir(dir)?;
        Ok(ComponentCache {
            dir: dir.to_path_buf(),
        })
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
        let entry = self
            .dir
            .join(format!("{wasm_sha256}-{}.cwasm", engine_key(engine)));
        if entry.is_file() {
            // SAFETY: the entry was written by `precompile_component` of an engine with the
            // same compatibility hash (it is in the file name), into a folder only we write.
            // wasmtime still checks the header and refuses an incompatible artifact.
            match unsafe { Component::deserialize_file(engine, &entry) } {
                Ok(component) => return Ok((component, CompileSource::Cache)),
                Err(e) => {
                    tracing::warn!(entry = %entry.display(), error = %e, "discarding unusable cache entry");
                    let _ = std::fs::remove_file(&entry);
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
        let tmp = entry.with_extension(format!("tmp{}", std::process::id()));
        if let Err(e) = std::fs::write(&tmp, &compiled).and_then(|()| std::fs::rename(&tmp, &entry))
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
