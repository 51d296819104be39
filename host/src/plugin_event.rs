//! The normaliser's event as the runtime hands it to plugins: shared by the pipeline and
//! the fixture runner (which the pipeline's reload canary runs), so neither imports the
//! other for it.

use cloudtrail_normalize::NormalizedEvent;

use crate::runtime::{Event, Principal};

/// The host's normalised event as handed to plugins.
pub fn to_plugin_event(event: &NormalizedEvent, self_caused: bool) -> Event {
    // Fixtures and benchmarks only: the pipeline moves its events in with `into_plugin_event`.
    into_plugin_event(event.clone(), self_caused)
}

/// The event as handed to plugins, its fields moved rather than copied.
pub fn into_plugin_event(mut event: NormalizedEvent, self_caused: bool) -> Event {
    let raw = event.take_raw_json();
    let p = event.principal;
    Event {
        id: event.id,
        time: event.time,
        source: event.source,
        name: event.name,
        region: event.region,
        account: event.account,
        principal: Principal {
            kind: p.kind,
            arn: p.arn,
            account_id: p.account_id,
            user_name: p.user_name,
            access_key_id: p.access_key_id,
            session_issuer_arn: p.session_issuer_arn,
            invoked_by: p.invoked_by,
        },
        mfa_authenticated: event.mfa_authenticated,
        source_ip: event.source_ip,
        user_agent: event.user_agent,
        error_code: event.error_code,
        error_message: event.error_message,
        read_only: event.read_only,
        event_type: event.event_type,
        self_caused,
        raw,
    }
}
