//! The 0.2.0 `event` record lowered straight from the host's [`Event`], its strings
//! borrowed: a batch is copied once, into the guest's memory, rather than first into the
//! owned strings of the generated `v2::Event` for every plugin it is routed to. The
//! component's `handle` is looked up with this type, so wasmtime checks it field by field
//! against the contract before any call.

use wasmtime::component::{ComponentType, Lower};

use super::types::{Event, Principal};

/// `trailwarden:plugin/types@0.2.0.principal`, borrowed.
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct PrincipalView<'a> {
    #[component(name = "type")]
    kind: Option<&'a str>,
    arn: Option<&'a str>,
    #[component(name = "account-id")]
    account_id: Option<&'a str>,
    #[component(name = "user-name")]
    user_name: Option<&'a str>,
    #[component(name = "access-key-id")]
    access_key_id: Option<&'a str>,
    #[component(name = "session-issuer-arn")]
    session_issuer_arn: Option<&'a str>,
    #[component(name = "invoked-by")]
    invoked_by: Option<&'a str>,
}

/// `trailwarden:plugin/types@0.2.0.event`, borrowed.
#[derive(ComponentType, Lower)]
#[component(record)]
pub struct EventView<'a> {
    id: &'a str,
    time: Option<&'a str>,
    source: Option<&'a str>,
    name: Option<&'a str>,
    region: Option<&'a str>,
    account: Option<&'a str>,
    principal: PrincipalView<'a>,
    #[component(name = "mfa-authenticated")]
    mfa_authenticated: Option<bool>,
    #[component(name = "source-ip")]
    source_ip: Option<&'a str>,
    #[component(name = "user-agent")]
    user_agent: Option<&'a str>,
    #[component(name = "error-code")]
    error_code: Option<&'a str>,
    #[component(name = "error-message")]
    error_message: Option<&'a str>,
    #[component(name = "read-only")]
    read_only: Option<bool>,
    #[component(name = "event-type")]
    event_type: Option<&'a str>,
    #[component(name = "self-caused")]
    self_caused: bool,
    raw: &'a str,
}

impl<'a> PrincipalView<'a> {
    fn of(p: &'a Principal) -> Self {
        PrincipalView {
            kind: p.kind.as_deref(),
            arn: p.arn.as_deref(),
            account_id: p.account_id.as_deref(),
            user_name: p.user_name.as_deref(),
            access_key_id: p.access_key_id.as_deref(),
            session_issuer_arn: p.session_issuer_arn.as_deref(),
            invoked_by: p.invoked_by.as_deref(),
        }
    }
}

impl<'a> EventView<'a> {
    pub fn of(e: &'a Event) -> Self {
        EventView {
            id: &e.id,
            time: e.time.as_deref(),
            source: e.source.as_deref(),
            name: e.name.as_deref(),
            region: e.region.as_deref(),
            account: e.account.as_deref(),
            principal: PrincipalView::of(&e.principal),
            mfa_authenticated: e.mfa_authenticated,
            source_ip: e.source_ip.as_deref(),
            user_agent: e.user_agent.as_deref(),
            error_code: e.error_code.as_deref(),
            error_message: e.error_message.as_deref(),
            read_only: e.read_only,
            event_type: e.event_type.as_deref(),
            self_caused: e.self_caused,
            raw: &e.raw,
        }
    }
}
