//! What a notification says, and how each kind of target wants it said: trailwarden's own
//! JSON, a Slack Block Kit message, a Teams Adaptive Card, a PagerDuty Events API v2 event,
//! an SNS message with attributes, an email with text and HTML. Pure functions: no I/O.

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::notify_target::NotifyKind;

/// PagerDuty's limits: `payload.summary` 1024 characters, `dedup_key` 255.
pub const PAGERDUTY_SUMMARY_MAX: usize = 1024;
const PAGERDUTY_DEDUP_KEY_MAX: usize = 255;
/// Slack's limits: a header's text 150 characters, a section's text 3000, a field's 2000.
const SLACK_HEADER_MAX: usize = 150;
const SLACK_TEXT_MAX: usize = 3000;
const SLACK_FIELD_MAX: usize = 2000;

/// One finding (or a group of findings with its dedup key) to tell a responder about.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The message's id (its outbox action), stable across retries: receivers can drop a
    /// repeat.
    pub id: String,
    pub plugin: String,
    pub event_id: String,
    /// The finding as the plugin sent it (the first of its group).
    pub finding: Value,
    /// How many findings with this dedup key the message stands for (1 when not grouped).
    pub count: u64,
    /// The grouping window, when grouped.
    pub window_s: u64,
    pub account: String,
    pub region: String,
    /// The rule's runbook line from the plugin's catalog, if it has one.
    pub runbook: Option<String>,
    /// `{public_url}/findings/{id}` when the console's address is configured.
    pub link: Option<String>,
    /// Whether this is `notify test`'s sample.
    pub sample: bool,
}

/// How many findings a target's rate limit held back in one window.
#[derive(Debug, Clone)]
pub struct HeldBack {
    pub id: String,
    pub target: String,
    pub findings: u64,
    pub messages: u64,
    pub max_per_window: u32,
    pub window_start_s: i64,
    pub window_end_s: i64,
}

/// What is sent.
#[derive(Debug, Clone)]
pub enum Message {
    Finding(Notice),
    Digest(HeldBack),
    /// PagerDuty: the incident of this finding dedup key is resolved.
    Resolve {
        id: String,
        dedup_key: String,
    },
}

/// A message in the shape one kind of target takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    /// trailwarden's own JSON, signed with the target's HMAC key.
    Signed(Value),
    /// A JSON body for an incoming webhook (Slack, Teams) or PagerDuty (the routing key is
    /// added by the sender, so a rendered message holds no secret).
    Json(Value),
    Sns {
        subject: String,
        message: String,
        attributes: Vec<(&'static str, String)>,
    },
    Email {
        subject: String,
        text: String,
        html: String,
    },
}

impl Notice {
    fn field(&self, key: &str) -> &str {
        self.finding.get(key).and_then(Value::as_str).unwrap_or("")
    }
    pub fn severity(&self) -> &str {
        match self.field("severity") {
            "" => "unknown",
            s => s,
        }
    }
    pub fn rule(&self) -> &str {
        self.field("rule_id")
    }
    pub fn dedup_key(&self) -> &str {
        self.field("dedup_key")
    }
    fn title(&self) -> String {
        let title = match self.field("title") {
            "" => "trailwarden finding",
            t => t,
        };
        let prefix = if self.sample { "[test] " } else { "" };
        if self.count > 1 {
            format!(
                "{prefix}{title} (x{} in {} s)",
                self.count,
                self.window_s.max(1)
            )
        } else {
            format!("{prefix}{title}")
        }
    }
    /// Who did it: the finding context's principal or ARN, else its first resource.
    fn principal(&self) -> String {
        let context = self.finding.get("context");
        for key in ["principal", "principal_arn", "arn", "user_arn"] {
            if let Some(p) = context.and_then(|c| c.get(key)).and_then(Value::as_str) {
                if !p.is_empty() {
                    return p.to_owned();
                }
            }
        }
        self.finding
            .get("resources")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned()
    }
    fn where_(&self) -> String {
        let or_unknown = |s: &str| {
            if s.is_empty() {
                "unknown".to_owned()
            } else {
                s.to_owned()
            }
        };
        format!(
            "{} / {}",
            or_unknown(&self.account),
            or_unknown(&self.region)
        )
    }
    fn runbook_line(&self) -> String {
        self.runbook
            .as_deref()
            .and_then(|r| r.lines().find(|l| !l.trim().is_empty()))
            .map(str::trim)
            .unwrap_or("No runbook for this rule.")
            .to_owned()
    }
    fn text(&self) -> String {
        let mut text = format!(
            "{}\nSeverity: {}\nRule: {} ({})\nPrincipal: {}\nAccount / region: {}\nRunbook: {}\n",
            self.title(),
            self.severity(),
            self.rule(),
            self.plugin,
            self.principal(),
            self.where_(),
            self.runbook_line()
        );
        if let Some(description) = self.finding.get("description").and_then(Value::as_str) {
            text.push_str(&format!("\n{description}\n"));
        }
        if let Some(link) = &self.link {
            text.push_str(&format!("\nFinding: {link}\n"));
        }
        text.push_str(&format!(
            "\nEvent {} · message {}\n",
            self.event_id, self.id
        ));
        text
    }
}

impl HeldBack {
    fn title(&self) -> String {
        format!(
            "{} finding(s) in {} message(s) held back on target {} (at most {} messages per {} s)",
            self.findings,
            self.messages,
            self.target,
            self.max_per_window,
            self.window_end_s - self.window_start_s
        )
    }
}

/// The PagerDuty dedup key of a finding dedup key: itself when it fits in 255 characters,
/// else its sha256. Trigger and resolve use the same.
pub fn pagerduty_dedup_key(finding_dedup_key: &str) -> String {
    if !finding_dedup_key.is_empty() && finding_dedup_key.chars().count() <= PAGERDUTY_DEDUP_KEY_MAX
    {
        finding_dedup_key.to_owned()
    } else {
        format!("sha256:{}", hex::encode(Sha256::digest(finding_dedup_key)))
    }
}

/// PagerDuty's severities: critical, error, warning, info.
pub fn pagerduty_severity(severity: &str) -> &'static str {
    match severity {
        "critical" => "critical",
        "high" => "error",
        "medium" => "warning",
        _ => "info",
    }
}

/// Cuts `text` to at most `max` characters, marking the cut with an ellipsis.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Renders `message` for a target of `kind`.
pub fn render(kind: NotifyKind, message: &Message) -> Rendered {
    match (kind, message) {
        (NotifyKind::Webhook, message) => Rendered::Signed(webhook_body(message)),
        (NotifyKind::Slack, message) => Rendered::Json(slack_body(message)),
        (NotifyKind::Teams, message) => Rendered::Json(teams_body(message)),
        (NotifyKind::Pagerduty, message) => Rendered::Json(pagerduty_body(message)),
        (NotifyKind::Sns, message) => {
            let (subject, text) = subject_and_text(message);
            let attributes = match message {
                Message::Finding(n) => vec![
                    ("severity", n.severity().to_owned()),
                    ("rule", n.rule().to_owned()),
                    ("account", n.account.clone()),
                    ("count", n.count.to_string()),
                ],
                Message::Digest(d) => vec![
                    ("severity", "info".to_owned()),
                    ("rule", "trailwarden.digest".to_owned()),
                    ("held_back", d.findings.to_string()),
                ],
                Message::Resolve { .. } => vec![("rule", "trailwarden.resolve".to_owned())],
            };
            Rendered::Sns {
                subject,
                message: text,
                attributes,
            }
        }
        (NotifyKind::Email, message) => {
            let (subject, text) = subject_and_text(message);
            let html = format!(
                "<html><body><pre style=\"font-family: sans-serif; white-space: pre-wrap\">{}</pre>{}</body></html>",
                escape_html(&text),
                match message {
                    Message::Finding(Notice { link: Some(link), .. }) => format!(
                        "<p><a href=\"{}\">Open the finding</a></p>",
                        escape_html(link)
                    ),
                    _ => String::new(),
                }
            );
            Rendered::Email {
                subject,
                text,
                html,
            }
        }
    }
}

fn subject_and_text(message: &Message) -> (String, String) {
    match message {
        Message::Finding(n) => (
            cut(
                &format!(
                    "[trailwarden] {}: {}",
                    n.severity().to_uppercase(),
                    n.title()
                ),
                200,
            ),
            n.text(),
        ),
        Message::Digest(d) => (
            cut(&format!("[trailwarden] {}", d.title()), 200),
            format!("{}\nMessage {}\n", d.title(), d.id),
        ),
        Message::Resolve { id, dedup_key } => (
            "[trailwarden] resolved".to_owned(),
            format!("The incident {dedup_key} is resolved.\nMessage {id}\n"),
        ),
    }
}

fn webhook_body(message: &Message) -> Value {
    match message {
        // One finding, not grouped: the body trailwarden has always sent.
        Message::Finding(n) if n.count <= 1 && n.window_s == 0 => json!({
            "source": "trailwarden",
            "action_id": n.id,
            "plugin": n.plugin,
            "event_id": n.event_id,
            "finding": n.finding,
        }),
        Message::Finding(n) => json!({
            "source": "trailwarden",
            "action_id": n.id,
            "plugin": n.plugin,
            "event_id": n.event_id,
            "finding": n.finding,
            "count": n.count,
            "group_window_s": n.window_s,
            "link": n.link,
        }),
        Message::Digest(d) => json!({
            "source": "trailwarden",
            "action_id": d.id,
            "digest": {
                "target": d.target,
                "held_back_findings": d.findings,
                "held_back_messages": d.messages,
                "max_per_window": d.max_per_window,
                "window_start": d.window_start_s,
                "window_end": d.window_end_s,
            },
        }),
        Message::Resolve { id, dedup_key } => json!({
            "source": "trailwarden",
            "action_id": id,
            "resolved": dedup_key,
        }),
    }
}

fn slack_body(message: &Message) -> Value {
    let (fallback, blocks) = match message {
        Message::Finding(n) => {
            let mut blocks = vec![
                json!({"type": "header", "text": {"type": "plain_text", "text": cut(&n.title(), SLACK_HEADER_MAX), "emoji": false}}),
                json!({"type": "section", "fields": [
                    mrkdwn(&format!("*Severity*\n{}", n.severity()), SLACK_FIELD_MAX),
                    mrkdwn(&format!("*Rule*\n{}", n.rule()), SLACK_FIELD_MAX),
                    mrkdwn(&format!("*Principal*\n{}", n.principal()), SLACK_FIELD_MAX),
                    mrkdwn(&format!("*Account / region*\n{}", n.where_()), SLACK_FIELD_MAX),
                ]}),
                json!({"type": "section", "text": mrkdwn(&format!("*Runbook*: {}", n.runbook_line()), SLACK_TEXT_MAX)}),
            ];
            if let Some(link) = &n.link {
                blocks.push(json!({"type": "section", "text": mrkdwn(&format!("<{link}|Open the finding>"), SLACK_TEXT_MAX)}));
            }
            blocks.push(json!({"type": "context", "elements": [
                mrkdwn(&format!("{} · event {} · message {}", n.plugin, n.event_id, n.id), SLACK_TEXT_MAX)
            ]}));
            (
                format!("{}: {}", n.severity().to_uppercase(), n.title()),
                blocks,
            )
        }
        Message::Digest(d) => (
            d.title(),
            vec![json!({"type": "section", "text": mrkdwn(&d.title(), SLACK_TEXT_MAX)})],
        ),
        Message::Resolve { dedup_key, .. } => {
            let text = format!("Resolved: {dedup_key}");
            (
                text.clone(),
                vec![json!({"type": "section", "text": mrkdwn(&text, SLACK_TEXT_MAX)})],
            )
        }
    };
    json!({"text": cut(&fallback, SLACK_TEXT_MAX), "blocks": blocks})
}

fn mrkdwn(text: &str, max: usize) -> Value {
    json!({"type": "mrkdwn", "text": cut(text, max)})
}

fn teams_body(message: &Message) -> Value {
    let (body, actions) = match message {
        Message::Finding(n) => {
            let facts: Vec<Value> = [
                ("Severity", n.severity().to_owned()),
                ("Rule", n.rule().to_owned()),
                ("Principal", n.principal()),
                ("Account / region", n.where_()),
                ("Runbook", n.runbook_line()),
            ]
            .into_iter()
            .map(|(title, value)| json!({"title": title, "value": value}))
            .collect();
            let actions: Vec<Value> = n
                .link
                .iter()
                .map(|link| json!({"type": "Action.OpenUrl", "title": "Open the finding", "url": link}))
                .collect();
            (
                vec![
                    json!({"type": "TextBlock", "text": n.title(), "weight": "Bolder", "size": "Medium", "wrap": true}),
                    json!({"type": "FactSet", "facts": facts}),
                    json!({"type": "TextBlock", "text": format!("{} · event {} · message {}", n.plugin, n.event_id, n.id), "isSubtle": true, "wrap": true, "size": "Small"}),
                ],
                actions,
            )
        }
        Message::Digest(d) => (
            vec![json!({"type": "TextBlock", "text": d.title(), "wrap": true})],
            vec![],
        ),
        Message::Resolve { dedup_key, .. } => (
            vec![
                json!({"type": "TextBlock", "text": format!("Resolved: {dedup_key}"), "wrap": true}),
            ],
            vec![],
        ),
    };
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            }
        }]
    })
}

/// A PagerDuty Events API v2 event without its `routing_key` (added when sent).
fn pagerduty_body(message: &Message) -> Value {
    match message {
        Message::Finding(n) => {
            let source = if n.account.is_empty() {
                "trailwarden".to_owned()
            } else {
                format!("aws:{}", n.account)
            };
            let mut event = json!({
                "event_action": "trigger",
                "dedup_key": pagerduty_dedup_key(n.dedup_key()),
                "client": "trailwarden",
                "payload": {
                    "summary": cut(&format!("{}: {} ({})", n.severity().to_uppercase(), n.title(), n.where_()), PAGERDUTY_SUMMARY_MAX),
                    "source": source,
                    "severity": pagerduty_severity(n.severity()),
                    "component": n.region,
                    "group": n.plugin,
                    "class": n.rule(),
                    "custom_details": {
                        "count": n.count,
                        "principal": n.principal(),
                        "runbook": n.runbook_line(),
                        "event_id": n.event_id,
                        "message_id": n.id,
                        "finding": n.finding,
                    },
                },
            });
            if let Some(link) = &n.link {
                event["client_url"] = json!(link);
                event["links"] = json!([{"href": link, "text": "Open the finding"}]);
            }
            event
        }
        Message::Digest(d) => json!({
            "event_action": "trigger",
            "dedup_key": pagerduty_dedup_key(&format!("trailwarden-digest:{}:{}", d.target, d.window_start_s)),
            "client": "trailwarden",
            "payload": {
                "summary": cut(&d.title(), PAGERDUTY_SUMMARY_MAX),
                "source": "trailwarden",
                "severity": "warning",
                "custom_details": {"held_back_findings": d.findings, "held_back_messages": d.messages, "message_id": d.id},
            },
        }),
        Message::Resolve { dedup_key, .. } => json!({
            "event_action": "resolve",
            "dedup_key": pagerduty_dedup_key(dedup_key),
        }),
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(title: &str) -> Notice {
        Notice {
            id: "a1".into(),
            plugin: "root-usage".into(),
            event_id: "e1".into(),
            finding: json!({"rule_id": "aws.root.usage", "severity": "high", "title": title,
                "dedup_key": "k", "resources": ["arn:aws:iam::111122223333:root"]}),
            count: 3,
            window_s: 60,
            account: "111122223333".into(),
            region: "us-east-1".into(),
            runbook: Some("Call the account owner.\nThen rotate.".into()),
            link: Some("https://console.example/findings/7".into()),
            sample: false,
        }
    }

    #[test]
    fn long_titles_fit_slack_and_pagerduty_limits() {
        let n = notice(&"é".repeat(5000));
        let slack = slack_body(&Message::Finding(n.clone()));
        let header = slack["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(header.chars().count() <= SLACK_HEADER_MAX);
        let pd = pagerduty_body(&Message::Finding(n));
        let summary = pd["payload"]["summary"].as_str().unwrap();
        assert!(summary.chars().count() <= PAGERDUTY_SUMMARY_MAX);
        assert_eq!(pd["payload"]["severity"], "error");
        assert_eq!(pd["links"][0]["href"], "https://console.example/findings/7");
    }

    #[test]
    fn email_html_is_escaped_and_dedup_keys_fit() {
        let Rendered::Email { html, text, .. } = render(
            NotifyKind::Email,
            &Message::Finding(notice("<script>x</script>")),
        ) else {
            panic!("not an email")
        };
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
        assert!(text.contains("Runbook: Call the account owner."));
        assert_eq!(pagerduty_dedup_key("k"), "k");
        assert!(pagerduty_dedup_key(&"k".repeat(300)).len() <= PAGERDUTY_DEDUP_KEY_MAX);
    }
}
