"""The language benchmark's detection, in Python: the root user was used, and not by an AWS
service acting for it (no `invokedBy`, not an `AwsServiceEvent`). The same logic is in
plugins/bench/rust/src/lib.rs and plugins/bench/js/index.js; host/benches/languages.rs
measures the three. Keep them identical.
"""

import json
import os

import wit_world
from componentize_py_types import Err
from wit_world.imports.types import Descriptor, Finding, PluginError_Internal, Severity

RULE_ID = "bench.root-usage"
PATTERNS = [json.dumps({"detail": {"userIdentity": {"type": ["Root"]}}})]


def _read_fixtures():
    """fixtures/*.json, read at import (i.e. at build time): shipped inside the component."""
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    texts = []
    for name in sorted(n for n in os.listdir(folder) if n.endswith(".json")):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            texts.append(f.read())
    return texts


FIXTURES = _read_fixtures()


def detect(event):
    principal = event.principal
    if principal.type != "Root" or principal.invoked_by or event.event_type == "AwsServiceEvent":
        return None
    account = event.account or principal.account_id or "unknown"
    ip = event.source_ip or "unknown"
    source = event.source or "unknown"
    name = event.name or "unknown"
    return Finding(
        rule_id=RULE_ID,
        severity=Severity.HIGH,
        title="Root user used in account %s" % account,
        description="The root user of account %s called %s %s from %s." % (account, source, name, ip),
        resources=["arn:aws:iam::%s:root" % account],
        dedup_key="%s:%s:%s" % (RULE_ID, account, ip),
        event_id=event.id,
        context=json.dumps({"account": account, "event_name": name, "source_ip": ip}),
    )


class WitWorld(wit_world.WitWorld):
    def describe(self) -> Descriptor:
        return Descriptor(
            name="bench-root-usage",
            version="0.1.0",
            patterns=PATTERNS,
            capabilities=[],
            fixtures=FIXTURES,
            self_caused_events=False,
        )

    def handle(self, events):
        try:
            findings = []
            for event in events:
                finding = detect(event)
                if finding is not None:
                    findings.append(finding)
            return findings
        except Exception as e:  # an uncaught exception would trap: report it instead
            raise Err(PluginError_Internal("%s: %s" % (type(e).__name__, e)))
