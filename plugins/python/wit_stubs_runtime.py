# The hand-written part of the Python plugins' test stand-ins (tests/wit_stubs.py): an
# in-memory host (state, log, config, notify) and the fixture helpers. The generator
# (gen_wit_stubs.py) puts the WIT's types in front of it. Edit here, then `make python-stubs`.
@dataclass(frozen=True)
class Err(Exception):
    value: object


class State:
    """The host's per-plugin key-value state, TTLs on the clock `now`."""

    def __init__(self):
        self.now = 0
        self.items = {}

    def _live(self, key):
        item = self.items.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self.now >= expires:
            del self.items[key]
            return None
        return item

    def get(self, key):
        item = self._live(key)
        return None if item is None else item[0]

    def set(self, key, value, ttl_seconds):
        expires = None if ttl_seconds is None else self.now + ttl_seconds
        self.items[key] = (value, expires)

    def delete(self, key):
        self.items.pop(key, None)

    def increment(self, key, delta, ttl_seconds):
        item = self._live(key)
        if item is None:
            total = delta
            expires = None if ttl_seconds is None else self.now + ttl_seconds
        else:
            total = int(item[0]) + delta
            expires = item[1]
        self.items[key] = (str(total), expires)
        return total


class Host:
    """What the stubbed imports answer: config text, log lines, state, capability calls."""

    def __init__(self):
        self.config = "{}"
        self.logs = []
        self.state = State()
        # (capability, event id, args) of each call; the receipts to answer with, in order.
        self.calls = []
        self.receipts = []

    def notify_send(self, event_id, target, finding):
        self.calls.append(("notify.send", event_id, {"target": target, "finding": finding_json(finding)}))
        if self.receipts:
            return self.receipts.pop(0)
        return Receipt_Accepted("action-%d" % len(self.calls))


HOST = Host()


def install():
    """Puts the stand-in modules into `sys.modules` (once) and returns `HOST`."""
    if "wit_world" in sys.modules and getattr(sys.modules["wit_world"], "STUB", False):
        return HOST
    cpt = pytypes.ModuleType("componentize_py_types")
    cpt.Err = Err
    world = pytypes.ModuleType("wit_world")
    world.STUB = True

    class WitWorld:
        pass

    world.WitWorld = WitWorld
    exports = pytypes.ModuleType("wit_world.exports")

    class Rules:
        pass

    exports.Rules = Rules
    rules = pytypes.ModuleType("wit_world.exports.rules")
    rules.RuleInfo = RuleInfo
    exports.rules = rules
    world.exports = exports
    imports = pytypes.ModuleType("wit_world.imports")
    wtypes = pytypes.ModuleType("wit_world.imports.types")
    for cls in (Principal, Event, Finding, Descriptor, Severity, PluginError_BadInput,
                PluginError_Internal, Receipt_Accepted, Receipt_DryRun, Receipt_PendingApproval,
                Receipt_Denied):
        setattr(wtypes, cls.__name__, cls)
    log = pytypes.ModuleType("wit_world.imports.log")
    log.Level = Level
    log.log = lambda level, message: HOST.logs.append((level, message))
    config = pytypes.ModuleType("wit_world.imports.config")
    config.get = lambda: HOST.config
    state = pytypes.ModuleType("wit_world.imports.state")
    state.get = lambda key: HOST.state.get(key)
    state.set = lambda key, value, ttl: HOST.state.set(key, value, ttl)
    state.delete = lambda key: HOST.state.delete(key)
    state.increment = lambda key, delta, ttl: HOST.state.increment(key, delta, ttl)
    notify = pytypes.ModuleType("wit_world.imports.notify")
    notify.send = lambda event_id, target, finding: HOST.notify_send(event_id, target, finding)
    for name, module in (("types", wtypes), ("log", log), ("config", config), ("state", state),
                         ("notify", notify)):
        setattr(imports, name, module)
        sys.modules["wit_world.imports." + name] = module
    world.imports = imports
    sys.modules.update({"componentize_py_types": cpt, "wit_world": world,
                        "wit_world.imports": imports, "wit_world.exports": exports,
                        "wit_world.exports.rules": rules})
    return HOST


def event_from_input(value):
    """One fixture event (bare record, EventBridge envelope, LookupEvents item) as the WIT
    `event` the host would hand over, with its hot fields parsed as the host does."""
    import json

    if isinstance(value, dict) and isinstance(value.get("CloudTrailEvent"), str):
        value = json.loads(value["CloudTrailEvent"])
    envelope = {}
    if isinstance(value, dict) and isinstance(value.get("detail"), dict) and "detail-type" in value:
        envelope, value = value, value["detail"]

    def text(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, str) and v:
            return v
        return None

    def boolean(v):
        if isinstance(v, bool):
            return v
        if isinstance(v, str):
            s = v.strip().lower()
            if s in ("true", "yes", "1"):
                return True
            if s in ("false", "no", "0"):
                return False
        return None

    ident = value.get("userIdentity") if isinstance(value.get("userIdentity"), dict) else {}
    issuer = ((ident.get("sessionContext") or {}).get("sessionIssuer") or {}) if ident else {}
    attributes = (ident.get("sessionContext") or {}).get("attributes") or {} if ident else {}
    principal = Principal(
        type=text(ident.get("type")),
        arn=text(ident.get("arn")),
        account_id=text(ident.get("accountId")),
        user_name=text(ident.get("userName")) or text(issuer.get("userName")),
        access_key_id=text(ident.get("accessKeyId")),
        session_issuer_arn=text(issuer.get("arn")),
        invoked_by=text(ident.get("invokedBy")),
    )
    extra = value.get("additionalEventData") if isinstance(value.get("additionalEventData"), dict) else {}
    mfa = boolean(attributes.get("mfaAuthenticated"))
    if mfa is None:
        mfa = boolean(extra.get("MFAUsed"))
    return Event(
        id=text(value.get("eventID")) or synthetic_id(value),
        time=text(value.get("eventTime")) or text(envelope.get("time")),
        source=text(value.get("eventSource")),
        name=text(value.get("eventName")),
        region=text(value.get("awsRegion")) or text(envelope.get("region")),
        account=text(value.get("recipientAccountId")) or principal.account_id or text(envelope.get("account")),
        principal=principal,
        mfa_authenticated=mfa,
        source_ip=text(value.get("sourceIPAddress")),
        user_agent=text(value.get("userAgent")),
        error_code=text(value.get("errorCode")),
        error_message=text(value.get("errorMessage")),
        read_only=boolean(value.get("readOnly")),
        event_type=text(value.get("eventType")),
        self_caused=False,
        raw=json.dumps(value),
    )


def synthetic_id(record):
    """The host's id for a record without an `eventID`: `synthetic-` + the first 32 hex
    digits of the SHA-256 of its canonical JSON (keys sorted, no spaces)."""
    import hashlib
    import json

    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "synthetic-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def finding_json(finding):
    """A finding as the JSON object fixtures compare against (as the host writes it)."""
    import json

    try:
        context = json.loads(finding.context)
    except ValueError:
        context = None
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity.name.lower(),
        "title": finding.title,
        "description": finding.description,
        "resources": list(finding.resources),
        "dedup_key": finding.dedup_key,
        "event_id": finding.event_id,
        "context": context,
    }


def subset(expected, actual):
    """Whether every key of `expected` is in `actual` with a matching value (objects
    recursively, as the host compares fixture `args`)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and subset(v, actual[k]) for k, v in expected.items())
    return expected == actual


def compare_actions(expected, calls):
    """The differences between a fixture's `actions` and the calls made (in order)."""
    differences = []
    if len(expected) != len(calls):
        differences.append("expected %d action(s), %d call(s): %r" % (len(expected), len(calls), calls))
    for i, (want, (capability, _, args)) in enumerate(zip(expected, calls)):
        if want["capability"] != capability or not subset(want.get("args", {}), args):
            differences.append("action %d: expected %r, called %s %r" % (i + 1, want, capability, args))
    return differences


def receipts_for(actions):
    """The receipts a fixture's `actions` ask for (default accepted)."""
    return [RECEIPT_KINDS[a.get("receipt", "accepted")]("fixture-action-%d" % (i + 1))
            for i, a in enumerate(actions)]


def finding_matches(want, have):
    """Whether the finding `have` has every field of `want` (severity in any case), as the
    host's fixture-spec compares."""
    for key, value in want.items():
        if key == "severity" and isinstance(value, str) and isinstance(have.get(key), str):
            if value.lower() != have[key].lower():
                return False
        elif have.get(key) != value:
            return False
    return True


def compare(expected, actual):
    """Pairs the expected subsets one-to-one with the actual findings (a maximum matching,
    as the host's fixture-spec pairs them, so an expectation that fits several findings
    never takes the one another needs); returns the differences, empty when they agree."""
    fits = [[i for i, have in enumerate(actual) if finding_matches(want, have)] for want in expected]
    owner = [None] * len(actual)

    def augment(row, seen):
        for col in fits[row]:
            if col not in seen:
                seen.add(col)
                if owner[col] is None or augment(owner[col], seen):
                    owner[col] = row
                    return True
        return False

    for row in range(len(expected)):
        augment(row, set())
    differences = ["- expected, not raised: %r" % want
                   for row, want in enumerate(expected) if row not in owner]
    for have, row in zip(actual, owner):
        if row is None:
            differences.append("+ raised, not expected: %r" % {k: have[k] for k in ("rule_id", "event_id", "title")})
    return differences
