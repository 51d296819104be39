//! Integration tests: the real SDK over real HTTP against moto's server on 127.0.0.1.
//! One binary with modules by theme; every test starts its own moto (own state, killed on
//! drop), so tests run in parallel without sharing anything.

mod cloudtrail;
mod cross_account;
mod errors;
mod eventbridge;
mod iam;
mod s3;
mod support;
mod webhook;
