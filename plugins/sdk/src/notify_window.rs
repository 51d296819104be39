//! "Tell someone once per incident": `notify.send` of a finding at most once per dedup key per
//! window. The window is a mark in the host's state under `notified:<dedup key>`, with the
//! window as its TTL (the host's TTL clock is event time, so a replay keeps the same windows).
//! Every finding is still reported; only the notification is held back.

use crate::capability::{log_receipt, NOTIFY_SEND};
use crate::{log, Capabilities, Event, Finding, State};

/// What opens a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowOpens {
    /// Only a notification the host granted: a denied one is tried again by the next finding.
    WhenGranted,
    /// Any answer, a denial included: a denied notification (its budget spent, say) costs one
    /// row in the host's actions table per incident and window, not one per finding.
    Always,
}

/// How a plugin notifies: where, and at most once per dedup key per `seconds`.
#[derive(Debug, Clone, Copy)]
pub struct NotifyWindow<'a> {
    /// The notify target (the config's `notify_target`).
    pub target: &'a str,
    /// How long after a notification later findings with its dedup key are not sent; 0 sends
    /// every finding and keeps no mark.
    pub seconds: u32,
    /// What opens the window.
    pub opens: WindowOpens,
}

impl NotifyWindow<'_> {
    /// Sends `finding` unless one with the same dedup key was sent within the window. The mark
    /// holds the id of the event whose finding was sent.
    pub fn notify(
        &self,
        event: &Event,
        finding: &Finding,
        caps: &dyn Capabilities,
        state: &dyn State,
    ) {
        self.notify_unless_marked(event, finding, caps, state, None);
    }

    /// [`NotifyWindow::notify`] for findings of different weight under one dedup key: within
    /// the window a finding is sent again when `sends_again(rule id of the finding sent)` says
    /// so (a read-only incident that turns into a change, say). The mark holds the rule and
    /// the event: `<rule id> <event id>`.
    pub fn notify_escalating(
        &self,
        event: &Event,
        finding: &Finding,
        caps: &dyn Capabilities,
        state: &dyn State,
        sends_again: impl Fn(&str) -> bool,
    ) {
        self.notify_unless_marked(event, finding, caps, state, Some(&sends_again));
    }

    fn notify_unless_marked(
        &self,
        event: &Event,
        finding: &Finding,
        caps: &dyn Capabilities,
        state: &dyn State,
        sends_again: Option<&dyn Fn(&str) -> bool>,
    ) {
        let key = format!("notified:{}", finding.dedup_key);
        // Without a window there is no mark to ask for.
        let mark = if self.seconds > 0 {
            state.get(&key)
        } else {
            None
        };
        if let Some(mark) = mark {
            let (held_back, earlier) = match sends_again {
                None => (true, mark.as_str()),
                Some(sends_again) => {
                    let (sent_rule, earlier) = mark.split_once(' ').unwrap_or((&mark, ""));
                    (!sends_again(sent_rule), earlier)
                }
            };
            if held_back {
                log::info(&format!(
                    "event {}: {} already notified for event {earlier}",
                    event.id, finding.dedup_key
                ));
                return;
            }
        }
        let receipt = caps.notify(&event.id, self.target, finding);
        let granted = receipt.is_granted();
        log_receipt(NOTIFY_SEND, &event.id, receipt);
        let opens = match self.opens {
            WindowOpens::WhenGranted => granted,
            WindowOpens::Always => true,
        };
        if self.seconds > 0 && opens {
            let mark = match sends_again {
                None => event.id.clone(),
                Some(_) => format!("{} {}", finding.rule_id, event.id),
            };
            state.set(&key, &mark, Some(self.seconds));
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::{MemoryState, Receipt, RecordingCapabilities, Severity};

    fn event(id: &str) -> Event {
        Event {
            id: id.into(),
            ..Event::default()
        }
    }

    fn finding(rule_id: &str, dedup_key: &str) -> Finding {
        Finding {
            rule_id: rule_id.into(),
            severity: Severity::High,
            title: "t".into(),
            description: "d".into(),
            resources: Vec::new(),
            dedup_key: dedup_key.into(),
            event_id: String::new(),
            context: "{}".into(),
        }
    }

    fn window(seconds: u32, opens: WindowOpens) -> NotifyWindow<'static> {
        NotifyWindow {
            target: "oncall",
            seconds,
            opens,
        }
    }

    /// The events whose findings were sent, in order.
    fn sent(caps: &RecordingCapabilities) -> Vec<String> {
        caps.calls().into_iter().map(|c| c.event_id).collect()
    }

    /// `window.notify` of a finding of rule `r` with `dedup_key`, for event `id`.
    fn notify(
        w: &NotifyWindow<'_>,
        caps: &RecordingCapabilities,
        state: &MemoryState,
        id: &str,
        dedup_key: &str,
    ) {
        w.notify(&event(id), &finding("r", dedup_key), caps, state);
    }

    #[test]
    fn one_notification_per_dedup_key_per_window() {
        let (caps, state) = (RecordingCapabilities::new(), MemoryState::new());
        let w = window(60, WindowOpens::WhenGranted);
        for (id, dedup_key) in [("e1", "a"), ("e2", "a"), ("e3", "b")] {
            notify(&w, &caps, &state, id, dedup_key);
        }
        assert_eq!(sent(&caps), ["e1", "e3"]);
        assert_eq!(caps.calls()[0].args["target"], "oncall");
        assert_eq!(state.get("notified:a").as_deref(), Some("e1"));
        state.advance(60);
        notify(&w, &caps, &state, "e4", "a");
        assert_eq!(sent(&caps), ["e1", "e3", "e4"], "the window has closed");
    }

    #[test]
    fn a_window_of_zero_sends_every_finding_and_keeps_no_mark() {
        let (caps, state) = (RecordingCapabilities::new(), MemoryState::new());
        let w = window(0, WindowOpens::Always);
        notify(&w, &caps, &state, "e1", "a");
        notify(&w, &caps, &state, "e2", "a");
        w.notify_escalating(&event("e3"), &finding("r", "a"), &caps, &state, |_| false);
        assert_eq!(sent(&caps), ["e1", "e2", "e3"]);
        assert!(state.is_empty());
    }

    #[test]
    fn a_denied_notification_opens_the_window_only_when_told_so() {
        for (opens, expected) in [
            (WindowOpens::WhenGranted, &["e1", "e2"][..]),
            (WindowOpens::Always, &["e1"][..]),
        ] {
            let caps = RecordingCapabilities::with_receipts([Receipt::Denied("budget".into())]);
            let state = MemoryState::new();
            let w = window(60, opens);
            notify(&w, &caps, &state, "e1", "a");
            notify(&w, &caps, &state, "e2", "a");
            assert_eq!(sent(&caps), expected, "{opens:?}");
        }
    }

    #[test]
    fn an_escalating_finding_is_sent_again_within_the_window() {
        let (caps, state) = (RecordingCapabilities::new(), MemoryState::new());
        let w = window(60, WindowOpens::WhenGranted);
        // A write is sent again after a read; nothing else within the window.
        let send = |id: &str, rule: &str| {
            let sends_again = |sent_rule: &str| rule == "write" && sent_rule != "write";
            w.notify_escalating(&event(id), &finding(rule, "a"), &caps, &state, sends_again);
        };
        send("e1", "read");
        send("e2", "read");
        assert_eq!(state.get("notified:a").as_deref(), Some("read e1"));
        send("e3", "write");
        send("e4", "write");
        send("e5", "read");
        assert_eq!(sent(&caps), ["e1", "e3"]);
        assert_eq!(state.get("notified:a").as_deref(), Some("write e3"));
    }
}
