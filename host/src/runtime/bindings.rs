//! Host-side bindings of both contract versions the host serves: `v1` is
//! `trailwarden:plugin@0.1.0` (world `detector`), `v2` is `@0.2.0` (world `responder`, which
//! includes `detector`, so 0.2.0 detectors bind through it too).

pub mod v1 {
    wasmtime::component::bindgen!({
        path: "../wit/plugin.wit",
        world: "detector",
        imports: {
            // A state failure (disk, size limit) traps the plugin: it is recorded as a failed
            // batch rather than answered with a wrong value.
            "trailwarden:plugin/state": trappable,
        },
    });
}

pub mod v2 {
    wasmtime::component::bindgen!({
        path: "../wit/0.2.0",
        world: "responder",
        imports: {
            "trailwarden:plugin/state": trappable,
            // A capability call that cannot be recorded must not be answered: trap.
            "trailwarden:plugin/iam": trappable,
            "trailwarden:plugin/cloudtrail": trappable,
            "trailwarden:plugin/s3": trappable,
            "trailwarden:plugin/eventbridge": trappable,
            "trailwarden:plugin/notify": trappable,
        },
    });
}
