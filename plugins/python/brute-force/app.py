"""brute-force: repeated failed AWS console sign-ins (trailwarden plugin, world `plugin` of
./world.wit: the `detector` of trailwarden:plugin@0.3.0 (`describe`, `handle` and the rule
catalog `rules`) plus the `notify` capability).

One finding (`aws.console.brute-force`, high) when `threshold` failed `ConsoleLogin` events
for one user, or from one source IP, fall within `window_seconds` of the first failure of
the window. A window is counted in the host's state (`increment` with a TTL), keyed by its
start, so it is fixed from its first failure and never slides; once a window has raised its
finding it is marked in state and stays quiet until it closes.

Response: each finding is sent with `notify.send` to the notify target named in the config
(`notify_target`, default `security-team`), unless its event was caused by trailwarden
itself. No corrective capability fits: the failures changed nothing, and the attacker is
not an AWS principal that could be contained.

Windows are measured on event time (`eventTime`), both by this plugin and by the host's
TTLs, so a replay of old logs behaves like the live stream. Built with componentize-py:
`plugins/python/build.sh plugins/python/brute-force OUT.wasm`.
"""

import json
import os
from datetime import datetime, timezone

import wit_world
from componentize_py_types import Err
from wit_world.exports.rules import RuleInfo
from wit_world.imports import config, log, notify, state
from wit_world.imports.types import (
    Descriptor,
    Finding,
    PluginError_Internal,
    Receipt_Accepted,
    Receipt_Denied,
    Receipt_DryRun,
    Severity,
)

NAME = "brute-force"
VERSION = "0.1.0"
RULE_ID = "aws.console.brute-force"

NOTIFY_SEND = "notify.send"
CAPABILITIES = [NOTIFY_SEND]

DEFAULTS = {
    "threshold": 5,
    "window_seconds": 600,
    "dimensions": ["user", "source_ip"],
    "notify_target": "security-team",
}
DIMENSIONS = ("user", "source_ip")

# Failed sign-ins only (what `is_failed_console_login` counts): a successful one changes no
# count, and each batch costs a fresh Python instance (about 1.5 ms), so successes are not
# routed here at all.
PATTERNS = [
    json.dumps(
        {
            "detail-type": ["AWS Console Sign In via CloudTrail"],
            "detail": {"eventName": ["ConsoleLogin"], "responseElements": {"ConsoleLogin": ["Failure"]}},
        }
    ),
    json.dumps(
        {
            "detail-type": ["AWS Console Sign In via CloudTrail"],
            "detail": {"eventName": ["ConsoleLogin"], "errorMessage": ["Failed authentication"]},
        }
    ),
]

# CloudTrail writes this user name when the name typed at the sign-in page matches no user:
# counting it as one user would merge unrelated people, so only the source IP counts then.
HIDDEN_USER = "HIDDEN_DUE_TO_SECURITY_REASONS"


def _read_fixtures():
    """The fixture files, as texts, in name order.

    Read when the module is imported. componentize-py imports the app while it builds the
    component (pre-initialisation) and snapshots the result, so the texts are inside the
    component and nothing is read at run time (the component has no filesystem then).
    """
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except OSError:
        return []
    texts = []
    for name in names:
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            texts.append(f.read())
    return texts


FIXTURES = _read_fixtures()


# ---------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------


def read_config(text):
    """The settings from the config JSON text, with defaults; and a list of problems.

    A bad value is reported and replaced by its default, never fatal: a typo in the admin's
    table must not silence the detection.
    """
    settings = dict(DEFAULTS)
    problems = []
    try:
        table = json.loads(text) if text and text.strip() else {}
    except ValueError as e:
        return settings, ["config is not JSON (%s); using defaults" % e]
    if not isinstance(table, dict):
        return settings, ["config is not a JSON object; using defaults"]
    for key in ("threshold", "window_seconds"):
        if key in table:
            value = table[key]
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 2**32 - 1:
                settings[key] = value
            else:
                problems.append("%s must be a positive integer, not %r" % (key, value))
    if "dimensions" in table:
        value = table["dimensions"]
        if (
            isinstance(value, list)
            and value
            and all(isinstance(d, str) and d in DIMENSIONS for d in value)
        ):
            settings["dimensions"] = list(dict.fromkeys(value))
        else:
            problems.append(
                "dimensions must be a non-empty list of %s, not %r" % (", ".join(DIMENSIONS), value)
            )
    if "notify_target" in table:
        value = table["notify_target"]
        if isinstance(value, str) and value.strip():
            settings["notify_target"] = value.strip()
        else:
            problems.append("notify_target must be a target name, not %r" % (value,))
    unknown = sorted(set(table) - set(DEFAULTS))
    if unknown:
        problems.append("unknown config keys ignored: %s" % ", ".join(unknown))
    return settings, problems


# ---------------------------------------------------------------------------------------
# Reading events
# ---------------------------------------------------------------------------------------


def raw_record(event):
    """The event's whole record as a dict ({} when `raw` is not a JSON object)."""
    try:
        value = json.loads(event.raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def is_failed_console_login(event, record):
    """`ConsoleLogin` that failed: `responseElements.ConsoleLogin == "Failure"`, or the
    error message CloudTrail writes for a wrong password."""
    if event.name != "ConsoleLogin":
        return False
    response = record.get("responseElements")
    if isinstance(response, dict) and response.get("ConsoleLogin") == "Failure":
        return True
    return event.error_message == "Failed authentication"


def epoch_seconds(text):
    """Seconds since the epoch of a CloudTrail time (`2022-11-10T16:24:34Z`, also with
    fractions, offsets or a space instead of `T`); None when unreadable."""
    if not text:
        return None
    t = text.strip().replace(" ", "T", 1)
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(t)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def user_of(event):
    """The user the sign-in was for (None when CloudTrail hides or lacks it)."""
    p = event.principal
    if p.user_name and p.user_name != HIDDEN_USER:
        return p.user_name
    if p.type == "Root":
        return "root"
    if p.arn:
        return p.arn
    return None


def account_of(event):
    return event.account or event.principal.account_id or "unknown"


def user_arn(event, account, user):
    p = event.principal
    if p.arn:
        return p.arn
    partition = "aws"
    if event.region and event.region.startswith("cn-"):
        partition = "aws-cn"
    elif event.region and event.region.startswith("us-gov-"):
        partition = "aws-us-gov"
    if p.type == "Root" or user == "root":
        return "arn:%s:iam::%s:root" % (partition, account)
    if user and not user.startswith("arn:"):
        return "arn:%s:iam::%s:user/%s" % (partition, account, user)
    return None


# ---------------------------------------------------------------------------------------
# Windows in the host's state
# ---------------------------------------------------------------------------------------


def count_failure(store, key, when, window):
    """Counts one failure for `key` at event time `when` (epoch seconds or None).

    Returns (count in the window, window start, whether this window already fired).

    The window starts at the first failure and lasts `window` seconds. Its start is kept
    under `<key>:start`; the counter and the fired mark are keyed by the start, so a new
    window always counts from zero, even while the host's TTL clock (the latest event time
    it has seen, one value per batch) has not moved. Every key gets the window as TTL, so
    the host drops it once the window is over.
    """
    start_key = key + ":start"
    start = _int_or_none(store.get(start_key))
    if when is not None and (start is None or when >= start + window or when < start - window):
        start = when
        store.set(start_key, str(start), window)
    window_id = "untimed" if start is None else str(start)
    count = store.increment("%s:%s:count" % (key, window_id), 1, window)
    fired = store.get("%s:%s:fired" % (key, window_id)) is not None
    return count, start, fired


def mark_fired(store, key, start, window, event_id):
    window_id = "untimed" if start is None else str(start)
    store.set("%s:%s:fired" % (key, window_id), event_id, window)


def _int_or_none(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------------------


def detect(events, store, settings):
    """The findings for a batch, in event order; `store` has the WIT `state` functions."""
    threshold = settings["threshold"]
    window = settings["window_seconds"]
    findings = []
    for event in events:
        record = raw_record(event)
        if not is_failed_console_login(event, record):
            continue
        account = account_of(event)
        when = epoch_seconds(event.time)
        user = user_of(event)
        ip = event.source_ip or None
        subjects = []
        if "user" in settings["dimensions"] and user:
            subjects.append(("user", user))
        if "source_ip" in settings["dimensions"] and ip:
            subjects.append(("source_ip", ip))
        reached = []
        for dimension, value in subjects:
            key = "%s:%s:%s" % (dimension, account, value)
            count, start, fired = count_failure(store, key, when, window)
            if count >= threshold and not fired:
                mark_fired(store, key, start, window, event.id)
                reached.append((dimension, value, count, start))
        if reached:
            findings.append(make_finding(event, record, account, user, ip, reached, settings))
    return findings


def make_finding(event, record, account, user, ip, reached, settings):
    threshold = settings["threshold"]
    window = settings["window_seconds"]
    dimensions = [d for d, _, _, _ in reached]
    counts = {d: c for d, _, c, _ in reached}
    start = min((s for _, _, _, s in reached if s is not None), default=None)
    shown_user = user or "an unknown user"
    shown_ip = ip or "an unknown address"
    if "user" in dimensions:
        title = "%d failed console sign-ins for %s in account %s" % (counts["user"], shown_user, account)
        dedup_key = "%s:%s:user:%s" % (RULE_ID, account, user)
        what = "for the user %s" % shown_user
    else:
        title = "%d failed console sign-ins from %s in account %s" % (
            counts["source_ip"],
            shown_ip,
            account,
        )
        dedup_key = "%s:%s:source_ip:%s" % (RULE_ID, account, ip)
        what = "from the address %s" % shown_ip
    also = ""
    if dimensions == ["user", "source_ip"]:
        also = " (%d of them from %s)" % (counts["source_ip"], shown_ip)
    window_text = "%d seconds" % window
    if window % 60 == 0:
        window_text = "%d minute%s" % (window // 60, "" if window == 60 else "s")
    if "user" in dimensions:
        advice = (
            "Repeated failures for one user are password guessing or credential stuffing. "
            "Check whether the sign-ins came from the user, whether any later sign-in for the "
            "user succeeded, and enforce MFA for the user."
        )
    else:
        advice = (
            "Failures for several users from one address are password spraying. Check which "
            "users the address tried, whether any later sign-in from it succeeded, and block it "
            "if it is not yours."
        )
    description = (
        "At least %d console sign-ins %s failed in account %s within %s%s; the last was "
        "for %s from %s at %s (user agent: %s). %s"
        % (
            threshold,
            what,
            account,
            window_text,
            also,
            shown_user,
            shown_ip,
            event.time or "an unknown time",
            event.user_agent or "unknown",
            advice,
        )
    )
    resources = []
    arn = user_arn(event, account, user) if user else None
    if arn:
        resources.append(arn)
    mfa_used = None
    extra = record.get("additionalEventData")
    if isinstance(extra, dict) and isinstance(extra.get("MFAUsed"), str):
        mfa_used = extra["MFAUsed"]
    context = {
        "account": account,
        "region": event.region,
        "user": user,
        "source_ip": ip,
        "user_agent": event.user_agent,
        "dimensions": dimensions,
        "failures": counts,
        "threshold": threshold,
        "window_seconds": window,
        "window_start": _rfc3339(start),
        "last_failure": event.time,
        "error_message": event.error_message,
        "mfa_used": mfa_used,
    }
    return Finding(
        rule_id=RULE_ID,
        severity=Severity.HIGH,
        title=title,
        description=description,
        resources=resources,
        dedup_key=dedup_key,
        event_id=event.id,
        context=json.dumps(context, sort_keys=True),
    )


# ---------------------------------------------------------------------------------------
# Response
# ---------------------------------------------------------------------------------------


def respond(events, findings, send, settings):
    """Sends each finding to the notify target with `send` (the WIT `notify.send`), except
    those of events trailwarden caused itself (the host withholds such events from a plugin
    that did not ask for them; this is the second lock). Returns the receipts, in order."""
    by_id = {event.id: event for event in events}
    target = settings["notify_target"]
    receipts = []
    for finding in findings:
        event = by_id.get(finding.event_id)
        if event is not None and event.self_caused:
            log.log(log.Level.INFO, "event %s was caused by trailwarden itself: no response" % event.id)
            continue
        receipt = send(finding.event_id, target, finding)
        log_receipt(finding.event_id, target, receipt)
        receipts.append(receipt)
    return receipts


def log_receipt(event_id, target, receipt):
    what = "%s to %s for event %s" % (NOTIFY_SEND, target, event_id)
    if isinstance(receipt, Receipt_Denied):
        # Not granted, unknown target, over budget: the finding is still returned.
        log.log(log.Level.WARN, "%s denied: %s" % (what, receipt.value))
    elif isinstance(receipt, Receipt_Accepted):
        log.log(log.Level.INFO, "%s: accepted (action %s)" % (what, receipt.value))
    elif isinstance(receipt, Receipt_DryRun):
        log.log(log.Level.INFO, "%s: dry run (action %s)" % (what, receipt.value))
    else:
        log.log(log.Level.INFO, "%s: waits for approval (action %s)" % (what, receipt.value))


def catalog(settings):
    """The rule catalog (WIT 0.3.0 `rules`) for `settings`: one rule, sent to the notify
    target."""
    window = settings["window_seconds"]
    window_text = "%d seconds" % window
    if window % 60 == 0:
        window_text = "%d minute%s" % (window // 60, "" if window == 60 else "s")
    by = " or ".join({"user": "for one user", "source_ip": "from one source IP"}[d] for d in settings["dimensions"])
    return [
        RuleInfo(
            id=RULE_ID,
            title="Console sign-in brute force",
            severity=Severity.HIGH,
            # Brute Force: Password Guessing, Password Spraying, Credential Stuffing.
            techniques=["T1110.001", "T1110.003", "T1110.004"],
            description=(
                "%d failed AWS console sign-ins %s within %s of the first failure, in one "
                "account: password guessing or credential stuffing against a user, or password "
                "spraying from one address. One finding per window, sent to %s."
                % (settings["threshold"], by, window_text, settings["notify_target"])
            ),
            runbook=(
                "Check whether a later sign-in for the user or from the address succeeded; if so, "
                "treat the account as compromised, else enforce MFA and block the address if it is "
                "not yours."
            ),
            response=[NOTIFY_SEND],
            refused=None,
        )
    ]


def _rfc3339(seconds):
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------
# The component's exports
# ---------------------------------------------------------------------------------------


class WitWorld(wit_world.WitWorld):
    def describe(self) -> Descriptor:
        return Descriptor(
            name=NAME,
            version=VERSION,
            patterns=PATTERNS,
            capabilities=list(CAPABILITIES),
            fixtures=FIXTURES,
            self_caused_events=False,
        )

    def handle(self, events):
        try:
            settings, problems = read_config(config.get())
            for problem in problems:
                log.log(log.Level.WARN, problem)
            findings = detect(events, state, settings)
            respond(events, findings, notify.send, settings)
            return findings
        except Exception as e:  # an uncaught exception would be a trap: report it instead
            raise Err(PluginError_Internal("%s: %s" % (type(e).__name__, e)))


class Rules(wit_world.exports.Rules):
    def rules(self):
        settings, _ = read_config(config.get())
        return catalog(settings)
