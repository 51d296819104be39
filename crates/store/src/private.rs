//! The database file is owner-only: it holds raw events, findings and action arguments.

use std::path::{Path, PathBuf};

use crate::Error;

/// Creates the file `0600` if it is new (SQLite gives its `-wal` and `-shm` files the
/// database file's mode); an existing one, and its `-wal` and `-shm`, are narrowed to `0600`
/// if they were wider.
#[cfg(unix)]
pub(crate) fn create_owner_only(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(Error::Create {
                path: path.to_path_buf(),
                source,
            })
        }
    }
    for file in with_wal_and_shm(path) {
        let Ok(metadata) = std::fs::metadata(&file) else {
            continue;
        };
        if metadata.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|source| Error::Private { path: file, source })?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn create_owner_only(_path: &Path) -> Result<(), Error> {
    Ok(())
}

fn with_wal_and_shm(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    files
}

/// Why the file at `path` cannot be opened for writing (a read-only file system, permission
/// denied), if it cannot: SQLite's own errors do not say.
pub fn why_not_writable(path: &Path) -> Option<std::io::Error> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .err()
}
