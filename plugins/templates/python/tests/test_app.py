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


if __name__ == "__main__":
    unittest.main()
