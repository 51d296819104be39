"""Unit tests of the brute-force plugin under plain python3, the WIT imports stubbed.

    cd plugins/python/brute-force && python3 -m unittest -v
"""

import copy
import glob
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGIN = os.path.dirname(HERE)
sys.path.insert(0, PLUGIN)

from tests import wit_stubs  # noqa: E402

HOST = wit_stubs.install()
import app  # noqa: E402


def load_fixtures():
    fixtures = []
    for path in sorted(glob.glob(os.path.join(PLUGIN, "fixtures", "*.json"))):
        with open(path, encoding="utf-8") as f:
            fixtures.append((os.path.basename(path), json.load(f)))
    return fixtures


def reset(config="{}"):
    HOST.config = config
    HOST.logs.clear()
    HOST.state = wit_stubs.State()
    HOST.calls.clear()
    HOST.receipts.clear()


def failure(i, user="alice", ip="198.51.100.1", time="2024-01-01T00:00:00Z", account="111122223333"):
    return wit_stubs.Event(
        id="e%d" % i,
        time=time,
        name="ConsoleLogin",
        source="signin.amazonaws.com",
        account=account,
        principal=wit_stubs.Principal(type="IAMUser", user_name=user, account_id=account),
        source_ip=ip,
        error_message="Failed authentication",
        event_type="AwsConsoleSignIn",
        raw=json.dumps({"eventName": "ConsoleLogin", "responseElements": {"ConsoleLogin": "Failure"}}),
    )


def at(seconds):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(1704067200 + seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Fixtures(unittest.TestCase):
    def test_fixtures_in_one_batch_with_a_frozen_clock(self):
        # As `trailwarden test` runs them: the whole fixture in one batch, one clock.
        for name, fixture in load_fixtures():
            with self.subTest(fixture=name):
                reset()
                HOST.receipts = wit_stubs.receipts_for(fixture["actions"])
                events = [wit_stubs.event_from_input(e) for e in fixture["events"]]
                found = [wit_stubs.finding_json(f) for f in app.WitWorld().handle(events)]
                self.assertEqual(wit_stubs.compare(fixture["findings"], found), [], found)
                self.assertEqual(wit_stubs.compare_actions(fixture["actions"], HOST.calls), [])

    def test_fixtures_one_event_per_batch_with_the_clock_on_event_time(self):
        # As the pipeline may deliver them: small batches, the TTL clock following the events.
        for name, fixture in load_fixtures():
            with self.subTest(fixture=name):
                reset()
                HOST.receipts = wit_stubs.receipts_for(fixture["actions"])
                found = []
                for raw in fixture["events"]:
                    event = wit_stubs.event_from_input(raw)
                    HOST.state.now = max(HOST.state.now, app.epoch_seconds(event.time) or 0)
                    found += [wit_stubs.finding_json(f) for f in app.WitWorld().handle([event])]
                self.assertEqual(wit_stubs.compare(fixture["findings"], found), [], found)
                self.assertEqual(wit_stubs.compare_actions(fixture["actions"], HOST.calls), [])

    def test_fixture_files_are_shipped_and_well_formed(self):
        files = load_fixtures()
        self.assertGreaterEqual(len(files), 5)
        shipped = app.WitWorld().describe().fixtures
        self.assertEqual([json.loads(t) for t in shipped], [f for _, f in files])
        positives = 0
        for name, fixture in files:
            self.assertEqual(set(fixture) - {"name", "events", "findings", "actions"}, set(), name)
            self.assertTrue(fixture["name"] and fixture["events"], name)
            # One notify.send per finding, in order; the target is the admin's, so left out.
            self.assertEqual(
                [(a["capability"], a["args"]["finding"]["event_id"]) for a in fixture["actions"]],
                [("notify.send", f["event_id"]) for f in fixture["findings"]],
                name,
            )
            ids = [(e.get("detail") or e)["eventID"] for e in fixture["events"]]
            self.assertEqual(len(ids), len(set(ids)), "%s: event ids repeat" % name)
            positives += bool(fixture["findings"])
        self.assertGreaterEqual(positives, 2)
        self.assertGreaterEqual(len(files) - positives, 3)


class Describe(unittest.TestCase):
    def test_descriptor(self):
        d = app.WitWorld().describe()
        self.assertEqual(
            (d.name, d.capabilities, d.self_caused_events), ("brute-force", ["notify.send"], False)
        )
        self.assertEqual(
            [json.loads(p) for p in d.patterns],
            [
                {
                    "detail-type": ["AWS Console Sign In via CloudTrail"],
                    "detail": {"eventName": ["ConsoleLogin"], "responseElements": {"ConsoleLogin": ["Failure"]}},
                },
                {
                    "detail-type": ["AWS Console Sign In via CloudTrail"],
                    "detail": {"eventName": ["ConsoleLogin"], "errorMessage": ["Failed authentication"]},
                },
            ],
        )


class Catalog(unittest.TestCase):
    def test_one_rule_with_techniques_runbook_and_notify_as_response(self):
        reset()
        rules = app.Rules().rules()
        self.assertEqual([r.id for r in rules], [app.RULE_ID])
        rule = rules[0]
        self.assertEqual(rule.severity, wit_stubs.Severity.HIGH)
        self.assertEqual(rule.techniques, ["T1110.001", "T1110.003", "T1110.004"])
        self.assertTrue(rule.title and rule.description and rule.runbook)
        self.assertEqual(rule.response, ["notify.send"])  # as describe().capabilities
        self.assertIsNone(rule.refused)
        self.assertIn("5 failed", rule.description)
        self.assertIn("10 minutes", rule.description)
        self.assertIn("sent to security-team", rule.description)

    def test_it_follows_the_config(self):
        reset('{"threshold": 3, "window_seconds": 90, "dimensions": ["source_ip"], "notify_target": "soc"}')
        description = app.Rules().rules()[0].description
        self.assertIn("sent to soc", description)
        self.assertIn("3 failed", description)
        self.assertIn("90 seconds", description)
        self.assertIn("from one source IP", description)
        self.assertNotIn("for one user", description)

    def test_every_rule_id_the_fixtures_raise_is_catalogued(self):
        reset()
        ids = {r.id for r in app.Rules().rules()}
        for name, fixture in load_fixtures():
            reset()
            events = [wit_stubs.event_from_input(e) for e in fixture["events"]]
            for finding in app.WitWorld().handle(events):
                self.assertIn(finding.rule_id, ids, name)


class Windows(unittest.TestCase):
    def run_events(self, events):
        return app.WitWorld().handle(events)

    def test_threshold_fires_once_per_window_and_again_in_the_next(self):
        reset()
        findings = self.run_events([failure(i, time=at(10 * i)) for i in range(8)])
        self.assertEqual([f.event_id for f in findings], ["e4"])
        f = findings[0]
        self.assertEqual((f.rule_id, f.severity), ("aws.console.brute-force", wit_stubs.Severity.HIGH))
        self.assertEqual(f.dedup_key, "aws.console.brute-force:111122223333:user:alice")
        self.assertEqual(f.resources, ["arn:aws:iam::111122223333:user/alice"])
        ctx = json.loads(f.context)
        self.assertEqual(ctx["dimensions"], ["user", "source_ip"])
        self.assertEqual(ctx["failures"], {"user": 5, "source_ip": 5})
        self.assertEqual(ctx["window_start"], at(0))
        # The window opened at 0 closes at 600: five more failures after it fire again.
        later = self.run_events([failure(100 + i, time=at(600 + i)) for i in range(5)])
        self.assertEqual([f.event_id for f in later], ["e104"])

    def test_window_is_fixed_from_its_first_failure(self):
        reset()
        # 0, 150, 300, 450 in the first window; 610 opens a new one: never five in one.
        times = [0, 150, 300, 450, 610, 700, 800, 900]
        self.assertEqual(self.run_events([failure(i, time=at(t)) for i, t in enumerate(times)]), [])
        # ... until the fifth failure of the window opened at 610.
        self.assertEqual([f.event_id for f in self.run_events([failure(9, time=at(1000))])], ["e9"])

    def test_host_ttl_also_closes_windows_between_batches(self):
        reset()
        self.run_events([failure(i, time=at(i)) for i in range(4)])
        HOST.state.now = 1704067200 + 10_000
        self.assertEqual(self.run_events([failure(9, time=at(10_000))]), [])

    def test_config_threshold_window_and_dimensions(self):
        reset('{"threshold": 3, "window_seconds": 60, "dimensions": ["user"]}')
        events = [failure(i, user="u%d" % i, time=at(i)) for i in range(5)]  # one IP, 5 users
        self.assertEqual(self.run_events(events), [])
        events = [failure(10 + i, time=at(100 + 30 * i)) for i in range(4)]  # windows 100-159, 160-219
        self.assertEqual(self.run_events(events), [])
        events = [failure(20 + i, time=at(300 + 10 * i)) for i in range(3)]
        self.assertEqual([f.event_id for f in self.run_events(events)], ["e22"])
        self.assertEqual([m for level, m in HOST.logs if level != wit_stubs.Level.INFO], [])

    def test_source_ip_dimension_alone(self):
        reset('{"dimensions": ["source_ip"]}')
        events = [failure(i, user="u%d" % i, ip="192.0.2.9", time=at(i)) for i in range(5)]
        findings = self.run_events(events)
        self.assertEqual(len(findings), 1)
        self.assertEqual(findings[0].dedup_key, "aws.console.brute-force:111122223333:source_ip:192.0.2.9")
        self.assertEqual(findings[0].title, "5 failed console sign-ins from 192.0.2.9 in account 111122223333")

    def test_bad_config_falls_back_to_defaults_with_a_warning(self):
        for text in ('{"threshold": "five", "window_seconds": 0, "extra": 1}', "[1]", "not json"):
            with self.subTest(config=text):
                reset(text)
                findings = self.run_events([failure(i, time=at(i)) for i in range(5)])
                self.assertEqual(len(findings), 1)
                self.assertTrue(HOST.logs and HOST.logs[0][0] == wit_stubs.Level.WARN, HOST.logs)

    def test_accounts_and_users_are_counted_apart(self):
        reset()
        events = [failure(i, account="111111111111" if i % 2 else "222222222222", time=at(i)) for i in range(8)]
        self.assertEqual(self.run_events(events), [])
        events = [failure(10 + i, user="bob" if i % 2 else "carol", ip="10.0.0.%d" % i, time=at(i)) for i in range(8)]
        self.assertEqual(self.run_events(events), [])

    def test_only_failed_console_logins_count(self):
        reset()
        ok = failure(0)
        ok.error_message = None
        ok.raw = json.dumps({"responseElements": {"ConsoleLogin": "Success"}})
        other = failure(1)
        other.name = "GetUser"
        no_raw = failure(2)  # raw is not JSON: the error message alone tells
        no_raw.raw = "not json"
        response_only = failure(3)  # unknown user: only responseElements says Failure
        response_only.error_message = "No username found in supplied account"
        self.assertEqual(self.run_events([ok, ok, ok, other, other, no_raw, response_only]), [])
        self.assertEqual(HOST.state.get("user:111122223333:alice:%d:count" % app.epoch_seconds(at(0))), "2")

    def test_hidden_user_name_counts_only_by_address(self):
        reset()
        events = [failure(i, user=app.HIDDEN_USER, ip="192.0.2.%d" % i, time=at(i)) for i in range(6)]
        self.assertEqual(self.run_events(events), [])

    def test_missing_time_still_counts(self):
        reset()
        self.assertEqual(len(self.run_events([failure(i, time=None) for i in range(5)])), 1)

    def test_errors_are_reported_not_raised_as_traps(self):
        reset()
        broken = failure(0)
        broken.principal = None
        with self.assertRaises(wit_stubs.Err) as caught:
            self.run_events([broken])
        self.assertIsInstance(caught.exception.value, wit_stubs.PluginError_Internal)


class Respond(unittest.TestCase):
    def test_each_finding_is_sent_to_the_configured_target(self):
        reset('{"notify_target": "oncall"}')
        findings = app.WitWorld().handle([failure(i, time=at(i)) for i in range(5)])
        self.assertEqual(len(HOST.calls), 1)
        capability, event_id, args = HOST.calls[0]
        self.assertEqual((capability, event_id, args["target"]), ("notify.send", "e4", "oncall"))
        self.assertEqual(args["finding"], wit_stubs.finding_json(findings[0]))
        self.assertEqual(HOST.logs[-1][0], wit_stubs.Level.INFO)
        self.assertIn("accepted", HOST.logs[-1][1])

    def test_default_target_and_no_call_without_a_finding(self):
        reset()
        app.WitWorld().handle([failure(i, time=at(i)) for i in range(4)])
        self.assertEqual(HOST.calls, [])
        app.WitWorld().handle([failure(4, time=at(4))])
        self.assertEqual([(c[1], c[2]["target"]) for c in HOST.calls], [("e4", "security-team")])

    def test_self_caused_events_raise_the_finding_but_are_not_sent(self):
        reset()
        events = [failure(i, time=at(i)) for i in range(5)]
        events[4].self_caused = True
        findings = app.WitWorld().handle(events)
        self.assertEqual([f.event_id for f in findings], ["e4"])
        self.assertEqual(HOST.calls, [])

    def test_a_denied_notification_is_logged_and_the_finding_kept(self):
        reset()
        HOST.receipts = [wit_stubs.Receipt_Denied("not granted")]
        findings = app.WitWorld().handle([failure(i, time=at(i)) for i in range(5)])
        self.assertEqual(len(findings), 1)
        self.assertEqual(len(HOST.calls), 1)
        self.assertEqual(HOST.logs[-1][0], wit_stubs.Level.WARN)
        self.assertIn("not granted", HOST.logs[-1][1])

    def test_a_bad_target_falls_back_to_the_default_with_a_warning(self):
        for text in ('{"notify_target": ""}', '{"notify_target": 5}'):
            with self.subTest(config=text):
                reset(text)
                app.WitWorld().handle([failure(i, time=at(i)) for i in range(5)])
                self.assertEqual(HOST.calls[0][2]["target"], "security-team")
                self.assertEqual(HOST.logs[0][0], wit_stubs.Level.WARN)


class Parsing(unittest.TestCase):
    def test_epoch_seconds(self):
        self.assertEqual(app.epoch_seconds("2024-01-01T00:00:00Z"), 1704067200)
        self.assertEqual(app.epoch_seconds("2024-01-01 00:00:01.000"), 1704067201)
        self.assertEqual(app.epoch_seconds("2024-01-01T01:00:00+01:00"), 1704067200)
        self.assertIsNone(app.epoch_seconds("yesterday"))
        self.assertIsNone(app.epoch_seconds(None))


if __name__ == "__main__":
    unittest.main()
