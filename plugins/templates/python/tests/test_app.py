"""Runs fixtures/*.json through app.py under plain python3, the WIT imports stubbed
(tests/wit_stubs.py). `python3 -m unittest` in the plugin's folder."""

import glob
import json
import os
import sys
import unittest

PLUGIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PLUGIN)

from tests import wit_stubs  # noqa: E402

HOST = wit_stubs.install()
import app  # noqa: E402


class Fixtures(unittest.TestCase):
    def test_fixtures(self):
        paths = sorted(glob.glob(os.path.join(PLUGIN, "fixtures", "*.json")))
        self.assertTrue(paths, "no fixtures")
        for path in paths:
            with self.subTest(fixture=os.path.basename(path)):
                with open(path, encoding="utf-8") as f:
                    fixture = json.load(f)
                HOST.config, HOST.state = "{}", wit_stubs.State()
                events = [wit_stubs.event_from_input(e) for e in fixture["events"]]
                found = [wit_stubs.finding_json(f) for f in app.WitWorld().handle(events)]
                self.assertEqual(wit_stubs.compare(fixture["findings"], found), [], found)

    def test_describe_ships_the_fixtures(self):
        d = app.WitWorld().describe()
        self.assertEqual(d.name, "{{name}}")
        files = sorted(glob.glob(os.path.join(PLUGIN, "fixtures", "*.json")))
        self.assertEqual(len(d.fixtures), len(files))
        for p in d.patterns:
            self.assertIsInstance(json.loads(p), dict)

    def test_catalogues_every_rule_it_raises(self):
        HOST.config = "{}"
        rules = app.Rules().rules()
        ids = {r.id for r in rules}
        for rule in rules:
            self.assertTrue(rule.title and rule.description and rule.runbook, rule.id)
            self.assertTrue(rule.techniques, "%s: ATT&CK technique ids, e.g. T1136.003" % rule.id)
        for path in sorted(glob.glob(os.path.join(PLUGIN, "fixtures", "*.json"))):
            with open(path, encoding="utf-8") as f:
                fixture = json.load(f)
            events = [wit_stubs.event_from_input(e) for e in fixture["events"]]
            for finding in app.WitWorld().handle(events):
                self.assertIn(finding.rule_id, ids, os.path.basename(path))


if __name__ == "__main__":
    unittest.main()
