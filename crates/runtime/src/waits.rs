//! Blocking WASI calls bounded by the batch deadline.
//!
//! The epoch deadline only fires while a guest runs wasm code: a guest blocked inside a host
//! call (`std::thread::sleep` is a `wasi:clocks/monotonic-clock` subscription waited on with
//! `wasi:io/poll`) would hold the pipeline thread for as long as it asked. WASI p2 is linked
//! in sync mode, and every wait of its sync mode goes through `wasi:io/poll.poll` or
//! `pollable.block` (the `blocking-*` stream functions wait on streams that, with no files and
//! no sockets, are always ready: stdin is closed, stdout and stderr discard). So those two are
//! shadowed here by versions that wait at most until the batch deadline, then trap as a
//! timeout, the same failure as a guest spinning past it.

use std::time::Instant;

use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::StoreContextMut;
use wasmtime_wasi::p2::bindings::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi::p2::DynPollable;

use super::host::HostState;

/// The `wasi:io/poll` version wasmtime-wasi 48 defines (older guests' imports resolve to it).
const POLL_INTERFACE: &str = "wasi:io/poll@0.2.12";

/// Replaces `poll` and `pollable.block` of the already linked WASI with bounded ones.
///
/// # Errors
/// WASI was not linked first, or wasmtime refuses the definitions.
pub(super) fn bound_blocking_waits(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let result = define(linker);
    linker.allow_shadowing(false);
    result
}

fn define(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut poll = linker.instance(POLL_INTERFACE)?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, HostState>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let ready = wait_bounded(store.data_mut(), |table| table.poll(pollables))?;
            Ok((ready?,))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, HostState>, (pollable,): (Resource<DynPollable>,)| {
            wait_bounded(store.data_mut(), |table| table.block(pollable))??;
            Ok(())
        },
    )?;
    Ok(())
}

/// Runs a WASI wait until it completes or the batch deadline passes, whichever is first.
fn wait_bounded<'a, F, Fut>(state: &'a mut HostState, wait: F) -> wasmtime::Result<Fut::Output>
where
    F: FnOnce(&'a mut ResourceTable) -> Fut,
    Fut: std::future::Future + 'a,
{
    let left = state
        .wait_deadline()
        .saturating_duration_since(Instant::now());
    let (table, timed_out) = state.table_and_timeout_flag();
    // The timer is made inside the runtime: tokio's timers need its context.
    let waited =
        wasmtime_wasi::runtime::in_tokio(
            async move { tokio::time::timeout(left, wait(table)).await },
        );
    match waited {
        Ok(output) => Ok(output),
        Err(_elapsed) => {
            *timed_out = true;
            Err(wasmtime::Trap::Interrupt.into())
        }
    }
}
