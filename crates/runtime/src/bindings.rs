//! Host-side bindings of the contract versions the host serves: `v1` is
//! `trailwarden:plugin@0.1.0` (world `detector`), `v2` is `@0.2.0` (world `responder`, which
//! includes `detector`, so 0.2.0 detectors bind through it too), and `v3` is `@0.3.0` (the
//! 0.2.0 world plus the `rules` export), `v4` is `@0.4.0` (0.3.0 plus the `history`
//! import), `v5` is `@0.5.0` (0.4.0 plus `baseline`) and `v6` is `@0.6.0` (0.5.0 plus the
//! 0.6.0 `iam` capabilities).

pub mod v1 {
    wasmtime::component::bindgen!({
        path: "../../wit/plugin.wit",
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
        path: "../../wit/0.2.0",
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

/// `@0.3.0`: the 0.2.0 world unchanged (so its imports are 0.2.0's, bound above) plus the
/// exported rule catalog, which is all that is generated here.
pub mod v3 {
    wasmtime::component::bindgen!({
        path: "../../wit/0.3.0",
        world: "trailwarden:plugin/responder@0.3.0",
        with: {
            "trailwarden:plugin/types@0.2.0": super::v2::trailwarden::plugin::types,
            "trailwarden:plugin/log@0.2.0": super::v2::trailwarden::plugin::log,
            "trailwarden:plugin/state@0.2.0": super::v2::trailwarden::plugin::state,
            "trailwarden:plugin/config@0.2.0": super::v2::trailwarden::plugin::config,
            "trailwarden:plugin/iam@0.2.0": super::v2::trailwarden::plugin::iam,
            "trailwarden:plugin/cloudtrail@0.2.0": super::v2::trailwarden::plugin::cloudtrail,
            "trailwarden:plugin/s3@0.2.0": super::v2::trailwarden::plugin::s3,
            "trailwarden:plugin/eventbridge@0.2.0": super::v2::trailwarden::plugin::eventbridge,
            "trailwarden:plugin/notify@0.2.0": super::v2::trailwarden::plugin::notify,
        },
    });
}

/// `@0.4.0`: the 0.3.0 world unchanged plus the `history` import, which is all that is
/// generated here (its functions are added to the one linker beside 0.2.0's).
pub mod v4 {
    wasmtime::component::bindgen!({
        path: "../../wit/0.4.0",
        world: "trailwarden:plugin/responder@0.4.0",
        imports: {
            // A history failure other than the contract's errors (the database) traps.
            "trailwarden:plugin/history": trappable,
        },
        with: {
            "trailwarden:plugin/types@0.2.0": super::v2::trailwarden::plugin::types,
            "trailwarden:plugin/log@0.2.0": super::v2::trailwarden::plugin::log,
            "trailwarden:plugin/state@0.2.0": super::v2::trailwarden::plugin::state,
            "trailwarden:plugin/config@0.2.0": super::v2::trailwarden::plugin::config,
            "trailwarden:plugin/iam@0.2.0": super::v2::trailwarden::plugin::iam,
            "trailwarden:plugin/cloudtrail@0.2.0": super::v2::trailwarden::plugin::cloudtrail,
            "trailwarden:plugin/s3@0.2.0": super::v2::trailwarden::plugin::s3,
            "trailwarden:plugin/eventbridge@0.2.0": super::v2::trailwarden::plugin::eventbridge,
            "trailwarden:plugin/notify@0.2.0": super::v2::trailwarden::plugin::notify,
        },
    });
}

/// `@0.5.0`: the 0.4.0 world unchanged plus the `baseline` import, which is all that is
/// generated here (its function is added to the one linker beside 0.4.0's).
pub mod v5 {
    wasmtime::component::bindgen!({
        path: "../../wit/0.5.0",
        world: "trailwarden:plugin/responder@0.5.0",
        imports: {
            // A baseline failure other than the contract's errors (the database) traps.
            "trailwarden:plugin/baseline": trappable,
        },
        with: {
            "trailwarden:plugin/types@0.2.0": super::v2::trailwarden::plugin::types,
            "trailwarden:plugin/log@0.2.0": super::v2::trailwarden::plugin::log,
            "trailwarden:plugin/state@0.2.0": super::v2::trailwarden::plugin::state,
            "trailwarden:plugin/config@0.2.0": super::v2::trailwarden::plugin::config,
            "trailwarden:plugin/iam@0.2.0": super::v2::trailwarden::plugin::iam,
            "trailwarden:plugin/cloudtrail@0.2.0": super::v2::trailwarden::plugin::cloudtrail,
            "trailwarden:plugin/s3@0.2.0": super::v2::trailwarden::plugin::s3,
            "trailwarden:plugin/eventbridge@0.2.0": super::v2::trailwarden::plugin::eventbridge,
            "trailwarden:plugin/notify@0.2.0": super::v2::trailwarden::plugin::notify,
            "trailwarden:plugin/history@0.4.0": super::v4::trailwarden::plugin0_4_0::history,
        },
    });
}

/// `@0.6.0`: the 0.5.0 world unchanged plus 0.6.0's `iam` import (capabilities added to the
/// `iam` family), which is all that is generated here.
pub mod v6 {
    wasmtime::component::bindgen!({
        path: "../../wit/0.6.0",
        world: "trailwarden:plugin/responder@0.6.0",
        imports: {
            // A capability call that cannot be recorded must not be answered: trap.
            "trailwarden:plugin/iam@0.6.0": trappable,
        },
        with: {
            "trailwarden:plugin/types@0.2.0": super::v2::trailwarden::plugin::types,
            "trailwarden:plugin/log@0.2.0": super::v2::trailwarden::plugin::log,
            "trailwarden:plugin/state@0.2.0": super::v2::trailwarden::plugin::state,
            "trailwarden:plugin/config@0.2.0": super::v2::trailwarden::plugin::config,
            "trailwarden:plugin/iam@0.2.0": super::v2::trailwarden::plugin::iam,
            "trailwarden:plugin/cloudtrail@0.2.0": super::v2::trailwarden::plugin::cloudtrail,
            "trailwarden:plugin/s3@0.2.0": super::v2::trailwarden::plugin::s3,
            "trailwarden:plugin/eventbridge@0.2.0": super::v2::trailwarden::plugin::eventbridge,
            "trailwarden:plugin/notify@0.2.0": super::v2::trailwarden::plugin::notify,
            "trailwarden:plugin/history@0.4.0": super::v4::trailwarden::plugin0_4_0::history,
            "trailwarden:plugin/baseline@0.5.0": super::v5::trailwarden::plugin0_5_0::baseline,
        },
    });
}
