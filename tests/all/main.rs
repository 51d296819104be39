//! End-to-end tests: the real host loading real components built from `plugins/`, real
//! SQLite, real corpus data. Build the components first: `make plugins` (`make test` does).

mod accounts;
mod alerting;
mod anomaly;
mod aws_proxy;
mod browser;
mod cache;
mod console;
mod console_sessions;
mod console_store;
mod daemon;
mod edges;
mod faults;
mod first_hour;
mod fixtures;
mod fuzz;
mod layering;
mod lifecycle;
mod moto;
mod panther;
mod replay_cli;
mod report;
mod respond;
mod respond_inline_policy;
mod rules;
mod sandbox;
mod scaffold;
mod search;
mod setup;
mod sinks;
mod soak;
mod subscriptions;
mod support;
mod suppress;
mod tamper;
