//! The rule table, one module per domain.

pub mod bursts;
pub mod compute;
pub mod database;
pub mod discovery;
pub mod identity;
pub mod logging;
pub mod storage;

use std::collections::HashMap;
use std::sync::LazyLock;

use trailwarden_plugin_sdk::Event;

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

/// The rules that may look at an event of each source, in [`all`]'s order: those naming the
/// source and those of any service. Made once per instance (the host makes one per batch),
/// so an event is tested against its few candidates rather than all 65 rules.
struct BySource {
    named: HashMap<&'static str, Vec<&'static Spec>>,
    any_source: Vec<&'static Spec>,
}

static BY_SOURCE: LazyLock<BySource> = LazyLock::new(|| {
    let any_source: Vec<&'static Spec> = all().filter(|r| r.sources.is_empty()).collect();
    let mut named: HashMap<&'static str, Vec<&'static Spec>> = HashMap::new();
    for rule in all() {
        for source in rule.sources {
            named.entry(source).or_default();
        }
    }
    for (source, rules) in &mut named {
        rules.extend(all().filter(|r| r.sources.is_empty() || r.sources.contains(source)));
    }
    BySource { named, any_source }
});

/// The rules whose event source fits `event`'s, in [`all`]'s order: a rule still tells
/// the rest ([`Spec::applies`]).
pub fn for_source(event: &Event) -> &'static [&'static Spec] {
    let index = &*BY_SOURCE;
    event
        .source
        .as_deref()
        .and_then(|source| index.named.get(source))
        .unwrap_or(&index.any_source)
}
