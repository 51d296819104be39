//! Moving the write-ahead log into the database file off the writers' path.
//!
//! SQLite checkpoints inside the commit that pushes the log past `wal_autocheckpoint`
//! pages: that commit copies the log into the database file and syncs both, tens of
//! milliseconds on a slow disk, while the batch it commits (and every event behind it)
//! waits. A long-running writer (the daemon, a replay) instead runs a [`Checkpointer`]: a
//! thread of its own that checkpoints every interval without blocking writers or readers
//! (`PASSIVE`), so the log stays small and no commit pays for it. [`AUTOCHECKPOINT_PAGES`]
//! stays as the bound for processes that run none.
//!
//! Durability is unchanged: with `synchronous=NORMAL` a checkpoint syncs the log before
//! copying it and the database file after, as the commit-time checkpoint did.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// The log size (in pages) at which a commit checkpoints by itself: far above what a
/// [`Checkpointer`] lets the log reach, so only a process without one pays it (a few
/// seconds of a replay's writes at most, 64 MiB with 4 KiB pages).
pub const AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// A thread checkpointing one database file every interval, until dropped.
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` every `every`.
    ///
    /// # Errors
    /// The database does not exist or cannot be opened, or the thread cannot be started.
    pub fn start(path: &Path, every: Duration) -> std::io::Result<Checkpointer> {
        // Never creates the file: the stores did, owner-only.
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(std::io::Error::other)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("trailwarden-checkpoint".into())
            .spawn(move || run(&conn, &path, every, &stopped))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

fn run(conn: &Connection, path: &Path, every: Duration, stopped: &mpsc::Receiver<()>) {
    let mut failing = false;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
        // (busy, frames in the log, frames moved): passive never waits, so "busy" only
        // means some frames are left for the next round.
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(0)
        });
        match result {
            Ok(_) => failing = false,
            // Said once per run of failures, not every interval.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(
                    "cannot checkpoint {}: {e}; commits will checkpoint by themselves",
                    path.display()
                );
            }
            Err(_) => {}
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread at once.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A WAL database with one table, its writer never checkpointing by itself.
    fn writer(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE rows (body BLOB)").unwrap();
        conn
    }

    fn write_mebibytes(conn: &Connection, n: usize) {
        let body = vec![7u8; 64 * 1024];
        for _ in 0..n * 16 {
            conn.execute("INSERT INTO rows (body) VALUES (?1)", [&body])
                .unwrap();
        }
    }

    fn database_file_bytes(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[test]
    fn commits_reach_the_database_file_without_a_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let conn = writer(&path);
        let _checkpointer = Checkpointer::start(&path, Duration::from_millis(20)).unwrap();
        write_mebibytes(&conn, 4);
        // Bounded wait: the checkpointer runs every 20 ms.
        let deadline = Instant::now() + Duration::from_secs(30);
        while database_file_bytes(&path) < 4 << 20 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            database_file_bytes(&path) >= 4 << 20,
            "the writes stayed in the log: the database file is {} bytes",
            database_file_bytes(&path)
        );
    }

    #[test]
    fn without_a_checkpointer_the_writes_stay_in_the_log() {
        // The control for the test above: nothing else moves them.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let conn = writer(&path);
        write_mebibytes(&conn, 4);
        std::thread::sleep(Duration::from_millis(200));
        assert!(database_file_bytes(&path) < 1 << 20);
    }

    #[test]
    fn a_dropped_checkpointer_stops_and_its_database_stays_usable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let conn = writer(&path);
        drop(Checkpointer::start(&path, Duration::from_secs(3600)).unwrap());
        write_mebibytes(&conn, 1);
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM rows", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 16);
    }

    #[test]
    fn stores_checkpoint_by_themselves_only_past_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::open(
            &dir.path().join("audit.db"),
            &crate::Schema::<crate::Migration> {
                store: "test",
                migrations: &[],
                synchronous: crate::Synchronous::Normal,
                mirrors_user_version: false,
            },
        )
        .unwrap();
        let pages: u32 = conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pages, AUTOCHECKPOINT_PAGES);
    }
}
