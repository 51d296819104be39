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
    // One pass in `all()`'s order: a rule naming sources joins each one's list, and a rule
    // of any service joins every list, those made later too (a list starts as the rules of
    // any service so far). Testing every source against every rule instead was about half
    // of a one-event batch's time in the guest.
    let mut any_source: Vec<&'static Spec> = Vec::new();
    let mut named: HashMap<&'static str, Vec<&'static Spec>> = HashMap::new();
    for rule in all() {
        if rule.sources.is_empty() {
            for rules in named.values_mut() {
                rules.push(rule);
            }
            any_source.push(rule);
            continue;
        }
        for source in rule.sources {
            let rules = named.entry(source).or_insert_with(|| any_source.clone());
            // A source named twice by one rule lists the rule once.
            if !rules.last().is_some_and(|last| std::ptr::eq(*last, rule)) {
                rules.push(rule);
            }
        }
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
