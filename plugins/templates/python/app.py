"""{{name}}: a trailwarden plugin in Python (world `detector` of trailwarden:plugin@0.3.0:
`describe`, `handle` and the rule catalog `rules`).

Replace the example rule (an IAM user was created) with your own; see docs/plugins.md.
Build: `plugins/python/build.sh plugins/python/{{name}} plugins/dist/{{name}}.wasm`
(or `make plugins-polyglot`). Test: `cd plugins/python/{{name}} && python3 -m unittest`.
"""

import json
import os

import wit_world
from componentize_py_types import Err
from wit_world.exports.rules import RuleInfo
from wit_world.imports import config, log
from wit_world.imports.types import Descriptor, Finding, PluginError_Internal, Severity

NAME = "{{name}}"
VERSION = "0.1.0"
RULE_ID = "custom.{{name}}"

# EventBridge patterns, matched by the host against each event's envelope form.
PATTERNS = [json.dumps({"detail": {"eventSource": ["iam.amazonaws.com"], "eventName": ["CreateUser"]}})]


def _read_fixtures():
    """fixtures/*.json as texts. Read at import, which componentize-py runs at build time
    and snapshots: the texts are inside the component (which has no filesystem at run time)."""
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


def detect(event, settings):
    """The findings for one event (WIT `event`: id, name, source, account, principal, raw ...)."""
    if event.source != "iam.amazonaws.com" or event.name != "CreateUser":
        return []
    if event.error_code or event.error_message:
        return []
    try:
        record = json.loads(event.raw)
    except ValueError:
        return []  # `raw` is not JSON: checks that need it do not fire
    user = ((record.get("requestParameters") or {}).get("userName")) if isinstance(record, dict) else None
    if not isinstance(user, str) or not user:
        return []
    account = event.account or event.principal.account_id or "unknown"
    arn = ((record.get("responseElements") or {}).get("user") or {}).get("arn")
    if not isinstance(arn, str):
        arn = "arn:aws:iam::%s:user/%s" % (account, user)
    actor = event.principal.arn or event.principal.user_name or "an unknown principal"
    return [
        Finding(
            rule_id=RULE_ID,
            severity=Severity[settings.get("severity", "low").upper()],
            title="IAM user %s created in account %s" % (user, account),
            description="%s created the IAM user %s in account %s from %s."
            % (actor, user, account, event.source_ip or "an unknown address"),
            resources=[arn],
            dedup_key="%s:%s:%s" % (RULE_ID, account, user),
            event_id=event.id,
            context=json.dumps({"account": account, "user": user, "actor": actor}),
        )
    ]


def catalog(settings):
    """The rule catalog (`trailwarden rules list` prints it): one RuleInfo per rule id `detect`
    can raise, with its severity, MITRE ATT&CK technique ids, a runbook line and the
    capabilities it calls (none here)."""
    return [
        RuleInfo(
            id=RULE_ID,
            title="IAM user created",
            severity=Severity[settings.get("severity", "low").upper()],
            techniques=["T1136.003"],  # Create Account: Cloud Account
            description="A successful `iam:CreateUser`. Only reported.",
            runbook="Ask the creator whether the user is expected and who will use it.",
            response=[],
            refused=None,
        )
    ]


def read_config():
    """The plugin's config table (`{}` when the admin gave none); bad values are logged."""
    try:
        settings = json.loads(config.get() or "{}")
    except ValueError:
        settings = None
    if not isinstance(settings, dict):
        log.log(log.Level.WARN, "config is not a JSON object; using defaults")
        return {}
    if str(settings.get("severity", "low")).upper() not in Severity.__members__:
        log.log(log.Level.WARN, "unknown severity %r; using low" % settings["severity"])
        settings.pop("severity")
    return settings


class WitWorld(wit_world.WitWorld):
    def describe(self) -> Descriptor:
        return Descriptor(
            name=NAME,
            version=VERSION,
            patterns=PATTERNS,
            capabilities=[],
            fixtures=FIXTURES,
            self_caused_events=False,
        )

    def handle(self, events):
        try:
            settings = read_config()
            findings = []
            for event in events:
                findings.extend(detect(event, settings))
            return findings
        except Exception as e:  # an uncaught exception would trap: report it instead
            raise Err(PluginError_Internal("%s: %s" % (type(e).__name__, e)))


class Rules(wit_world.exports.Rules):
    def rules(self):
        return catalog(read_config())
