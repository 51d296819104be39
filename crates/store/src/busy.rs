//! Waiting for another connection's write.

use rusqlite::Connection;

/// Makes `conn` wait for another connection's write in short steps. Every store is its own
/// connection to one WAL file, and SQLite lets one of them write at a time; its own
/// `busy_timeout` sleeps a whole millisecond and more at the first conflict, while the
/// writes it waits for take tens of microseconds, so in a replay most wall time went to
/// those sleeps. Gives up (SQLITE_BUSY) after about five seconds.
///
/// # Errors
/// SQLite refuses the handler.
pub fn wait_briefly_when_busy(conn: &mut Connection) -> rusqlite::Result<()> {
    fn wait(retries: i32) -> bool {
        const SHORT_WAITS: i32 = 200;
        const LONG_WAITS: i32 = 5_000;
        if retries < SHORT_WAITS {
            std::thread::sleep(std::time::Duration::from_micros(20));
        } else if retries <= LONG_WAITS {
            std::thread::sleep(std::time::Duration::from_millis(1));
        } else {
            return false;
        }
        true
    }
    conn.busy_handler(Some(wait))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;
    use std::time::{Duration, Instant};

    use crate::{open, Schema, Synchronous};

    const SCHEMA: Schema<&str> = Schema {
        store: "busy",
        migrations: &["CREATE TABLE rows (n INTEGER)"],
        synchronous: Synchronous::Normal,
        mirrors_user_version: false,
    };

    /// Holds the write lock of the database at `path` for `hold`, in a thread of its own;
    /// returns once the lock is held, and the thread's handle.
    fn hold_write_lock(path: &std::path::Path, hold: Duration) -> std::thread::JoinHandle<()> {
        let holder = open(path, &SCHEMA).unwrap();
        let (held, is_held) = channel();
        let thread = std::thread::spawn(move || {
            holder
                .execute_batch("BEGIN IMMEDIATE; INSERT INTO rows VALUES (1)")
                .unwrap();
            held.send(()).unwrap();
            std::thread::sleep(hold);
            holder.execute_batch("COMMIT").unwrap();
        });
        is_held.recv().unwrap();
        thread
    }

    #[test]
    fn a_writer_waits_out_a_long_write_and_then_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let waiter = open(&path, &SCHEMA).unwrap();
        // Far past the short steps (200 of 20 µs): the wait goes on in longer ones.
        let holder = hold_write_lock(&path, Duration::from_millis(300));
        waiter.execute("INSERT INTO rows VALUES (2)", []).unwrap();
        holder.join().unwrap();
        let rows: Vec<i64> = waiter
            .prepare("SELECT n FROM rows ORDER BY rowid")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [1, 2], "the waiter wrote after the holder committed");
    }

    #[test]
    fn a_writer_gives_up_after_about_five_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let waiter = open(&path, &SCHEMA).unwrap();
        let holder = hold_write_lock(&path, Duration::from_millis(6_500));
        let started = Instant::now();
        let refused = waiter.execute("INSERT INTO rows VALUES (2)", []);
        let waited = started.elapsed();
        holder.join().unwrap();
        assert!(
            matches!(
                refused,
                Err(rusqlite::Error::SqliteFailure(ref e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
            ),
            "{refused:?}"
        );
        assert!(waited >= Duration::from_secs(4), "gave up after {waited:?}");
    }
}
