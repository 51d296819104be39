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
