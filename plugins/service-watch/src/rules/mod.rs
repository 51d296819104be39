//! The rule table, one module per domain.

pub mod bursts;
pub mod compute;
pub mod database;
pub mod discovery;
pub mod identity;
pub mod logging;
pub mod storage;

use crate::spec::Spec;

/// Every rule, domain by domain.
pub fn all() -> impl Iterator<Item = &'static Spec> {
    database::RULES
        .iter()
        .chain(compute::RULES)
        .chain(storage::RULES)
        .chain(identity::RULES)
        .chain(logging::RULES)
        .chain(discovery::RULES)
        .chain(bursts::RULES)
}
