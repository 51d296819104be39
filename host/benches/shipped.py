#!/usr/bin/env python3
"""Replay throughput of the whole shipped plugin set (`make bench-shipped`).

Builds an input of N CloudTrail records (the corpus records and Panther's test events,
repeated with distinct eventIDs), then runs the release binary's `replay` with the example
configuration (every shipped plugin, responses in dry-run or approve, nothing executed) on a
fresh audit store, and prints the summary it writes. One bounded run; no AWS account.

usage: shipped.py REPO TRAILWARDEN_BINARY [EVENTS] [--without PLUGIN]...
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def records(corpus: Path):
    for line in (corpus / "records/records.jsonl").read_text().splitlines():
        item = json.loads(line)
        if item["form"] == "record" and isinstance(item["record"], dict):
            yield item["record"]
    for line in (corpus / "panther/panther_cloudtrail_tests.jsonl").read_text().splitlines():
        event = json.loads(line)["event"]
        if isinstance(event, dict) and "eventName" in event:
            yield event


def main() -> int:
    repo, binary = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    wanted = int(sys.argv[3]) if len(sys.argv) > 3 else 50_000
    without = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--without"]
    base = list(records(repo.parent / "shared/corpus"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with open(tmp / "events.jsonl", "w") as out:
            for i in range(wanted):
                record = dict(base[i % len(base)])
                record["eventID"] = f"bench-{i:08d}"
                out.write(json.dumps(record) + "\n")
        examples = repo / "examples"
        text = (examples / "trailwarden.toml").read_text()
        # Leave out the named plugins (their whole [[plugins]] block), to see each one's cost.
        blocks = text.split("\n[[plugins]]\n")
        text = "\n[[plugins]]\n".join(
            [blocks[0]] + [b for b in blocks[1:] if not any(f'name = "{w}"' in b for w in without)]
        )
        text = text.replace('"../', f'"{examples}/../')
        text = text.replace('database = "demo.db"', f'database = "{tmp}/bench.db"')
        text = text.replace('cache_dir = ".trailwarden/cache"', f'cache_dir = "{repo}/target/bench-cache"')
        (tmp / "trailwarden.toml").write_text(text)
        # A first, small run compiles the components into the cache, so the measured run
        # is the steady state a long-running daemon would see.
        with open(tmp / "warm.jsonl", "w") as warm:
            warm.write(json.dumps(dict(base[0], eventID="warm-up")) + "\n")
        common = [str(binary), "replay", "--config", str(tmp / "trailwarden.toml"), "--format", "json"]
        # Denials (budgets, accounts outside the grants) are logged per call: keep only errors.
        env = dict(os.environ, RUST_LOG="error")
        subprocess.run(
            common + [str(tmp / "warm.jsonl")], check=True, stdout=subprocess.DEVNULL, env=env
        )
        (tmp / "bench.db").unlink()
        subprocess.run(
            common + ["--stats-json", str(tmp / "stats.json"), str(tmp / "events.jsonl")],
            check=True,
            stdout=subprocess.DEVNULL,
            env=env,
        )
        stats = json.loads((tmp / "stats.json").read_text())
    plugins = sorted(stats["matched"])
    print(
        f"shipped set: {len(plugins)} plugins, {wanted} events from {len(base)} distinct records"
        + (f", without {', '.join(without)}" if without else "")
    )
    print(json.dumps(stats, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
