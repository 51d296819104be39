#!/usr/bin/env python3
"""Replay throughput of the whole shipped plugin set (`make bench-shipped`).

Builds an input of N CloudTrail records (the corpus records and Panther's test events,
repeated with distinct eventIDs), then, in one run:
  - the yardstick: the rate at which serde_json merely parses the same file into a Value
    (host/examples/json_parse_rate.rs);
  - the release binary's `replay` with the example configuration (every shipped plugin,
    responses in dry-run or approve, nothing executed) on a fresh audit store, once per
    worker count (`[engine] workers`), reporting events/s, the fraction of the yardstick,
    CPU-seconds per 1,000 events and peak RSS;
  - a check that every run recorded the same findings (plugin, rule, event, dedup key) as
    the first (one worker): parallelism must not change what is detected.
Bounded: each run replays the file once. No AWS account.

usage: shipped.py REPO TRAILWARDEN_BINARY PARSE_RATE_BINARY [EVENTS] [--workers 1,2]
                  [--without PLUGIN]... [--json OUT] [--before OTHER_BINARY]
  --before also runs OTHER_BINARY (e.g. a build of the previous commit) on the same input,
  interleaved with TRAILWARDEN_BINARY per worker count, so a change is measured as a ratio
  under the same load; its findings must equal the reference run's too.
       shipped.py REPO TRAILWARDEN_BINARY PARSE_RATE_BINARY --growth 10000,100000,1000000
  --growth replays each size once with the default worker count and prints, per size, the
  time, events/s, CPU per 1,000 events, peak RSS and the audit database's size, so the cost
  per event can be compared from the smallest to the largest.
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
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


def option(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def timed(cmd, env):
    """Runs cmd; returns (wall seconds, CPU seconds, peak RSS in MB) of that child alone."""
    started = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed with status {status}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def finding_set(db: Path):
    with sqlite3.connect(db) as conn:
        return set(conn.execute("SELECT plugin, rule_id, event_id, dedup_key FROM findings"))


def write_events(path: Path, base, wanted: int, first: int = 0):
    with open(path, "w") as out:
        for i in range(first, first + wanted):
            record = dict(base[i % len(base)])
            record["eventID"] = f"bench-{i:08d}"
            out.write(json.dumps(record) + "\n")


def example_config(repo: Path, db: Path, workers=None) -> str:
    examples = repo / "examples"
    text = (examples / "trailwarden.toml").read_text()
    text = text.replace('"../', f'"{examples}/../')
    text = text.replace('cache_dir = ".trailwarden/cache"', f'cache_dir = "{repo}/target/bench-cache"')
    text = text.replace('database = "demo.db"', f'database = "{db}"')
    if workers:
        text = text.replace("[engine]\n", f"[engine]\nworkers = {workers}\n", 1)
    return text


def grow(repo: Path, binary: Path, base, sizes) -> int:
    env = dict(os.environ, RUST_LOG="error")
    print(f"growth: every shipped plugin, default workers, events from {len(base)} distinct records")
    print(f"{'events':>9} {'seconds':>8} {'events/s':>9} {'CPU us/ev':>10} {'peak RSS MB':>12} {'db MB':>7}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            # In files of at most 100,000 events, as CloudTrail delivers many small files:
            # one file past replay's per-input cap (256 MiB) would be rejected whole.
            (tmp / "events").mkdir()
            for part, start in enumerate(range(0, n, 100_000)):
                write_events(tmp / "events" / f"part-{part:04d}.jsonl", base, min(100_000, n - start), start)
            db = tmp / "bench.db"
            config = tmp / "trailwarden.toml"
            config.write_text(example_config(repo, db))
            warm = tmp / "warm.jsonl"
            warm.write_text(json.dumps(dict(base[0], eventID="warm-up")) + "\n")
            common = [str(binary), "replay", "--config", str(config), "--format", "json"]
            subprocess.run(common + [str(warm)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            wall, cpu, rss = timed(common + [str(tmp / "events")], env)
            db_mb = sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists()) / 1e6
            print(f"{n:>9} {wall:>8.1f} {n / wall:>9.0f} {cpu / n * 1e6:>10.1f} {rss:>12.1f} {db_mb:>7.1f}")
    return 0


def main() -> int:
    repo, binary, parse_rate = (Path(a).resolve() for a in sys.argv[1:4])
    positional = [a for a in sys.argv[4:] if not a.startswith("--")]
    flagged = {sys.argv[i + 1] for i, a in enumerate(sys.argv) if a.startswith("--")}
    positional = [a for a in positional if a not in flagged]
    wanted = int(positional[0]) if positional else 50_000
    workers_list = [int(w) for w in option("--workers", "1,2").split(",")]
    without = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--without"]
    json_out = option("--json", None)
    base = list(records(repo.parent / "shared/corpus"))
    growth = option("--growth", None)
    if growth:
        return grow(repo, binary, base, [int(n) for n in growth.split(",")])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        events = tmp / "events.jsonl"
        with open(events, "w") as out:
            for i in range(wanted):
                record = dict(base[i % len(base)])
                record["eventID"] = f"bench-{i:08d}"
                out.write(json.dumps(record) + "\n")
        size_mb = events.stat().st_size / 1e6
        yardstick = json.loads(subprocess.run(
            [str(parse_rate), str(events)], check=True, capture_output=True, text=True
        ).stdout)["events_per_s"]

        examples = repo / "examples"
        text = (examples / "trailwarden.toml").read_text()
        # Leave out the named plugins (their whole [[plugins]] block), to see each one's cost.
        blocks = text.split("\n[[plugins]]\n")
        text = "\n[[plugins]]\n".join(
            [blocks[0]] + [b for b in blocks[1:] if not any(f'name = "{w}"' in b for w in without)]
        )
        text = text.replace('"../', f'"{examples}/../')
        text = text.replace('cache_dir = ".trailwarden/cache"', f'cache_dir = "{repo}/target/bench-cache"')
        # Denials (budgets, accounts outside the grants) are logged per call: keep only errors.
        env = dict(os.environ, RUST_LOG="error")
        runs = []
        reference = None
        before = option("--before", None)
        binaries = [("before", Path(before).resolve()), ("after", binary)] if before else [("", binary)]
        for workers, (label, binary) in ((w, b) for w in workers_list for b in binaries):
            db = tmp / f"bench-{workers}{label}.db"
            config = tmp / f"trailwarden-{workers}{label}.toml"
            config.write_text(
                text.replace('database = "demo.db"', f'database = "{db}"')
                .replace("[engine]\n", f"[engine]\nworkers = {workers}\n", 1)
            )
            common = [str(binary), "replay", "--config", str(config), "--format", "json"]
            # A first, small run compiles the components into the cache, so the measured
            # run is the steady state a long-running daemon would see.
            warm = tmp / "warm.jsonl"
            warm.write_text(json.dumps(dict(base[0], eventID="warm-up")) + "\n")
            subprocess.run(common + [str(warm)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            stats_path = tmp / f"stats-{workers}{label}.json"
            wall, cpu, rss = timed(
                common + ["--stats-json", str(stats_path), str(events)], env
            )
            stats = json.loads(stats_path.read_text())
            found = finding_set(db)
            if reference is None:
                reference = found
            elif found != reference:
                missing, extra = reference - found, found - reference
                sys.exit(
                    f"workers={workers} {label} recorded other findings than the first run: "
                    f"{len(missing)} missing, {len(extra)} extra (e.g. {sorted(missing | extra)[:3]})"
                )
            runs.append({
                "binary": label,
                "workers": workers,
                "events_per_s": round(stats["events_per_s"]),
                "wall_s": round(wall, 2),
                "cpu_s_per_1000_events": round(cpu / wanted * 1000, 4),
                "peak_rss_mb": round(rss, 1),
                "findings": len(found),
                "db_mb": round(db.stat().st_size / 1e6, 1),
                "plugin_failures": stats["plugin_failures"],
            })
    plugins = sorted(stats["matched"])
    print(
        f"shipped set: {len(plugins)} plugins, {wanted} events ({size_mb:.1f} MB) from "
        f"{len(base)} distinct records" + (f", without {', '.join(without)}" if without else "")
    )
    print(f"yardstick: serde_json parses the same file into Values at {yardstick:,.0f} events/s")
    print(f"{'binary':>7} {'workers':>7} {'events/s':>10} {'of parse':>9} {'CPU s/1k ev':>12} {'peak RSS MB':>12} {'findings':>9}")
    for run in runs:
        print(
            f"{run['binary']:>7} {run['workers']:>7} {run['events_per_s']:>10,} {run['events_per_s'] / yardstick:>9.3f} "
            f"{run['cpu_s_per_1000_events']:>12.4f} {run['peak_rss_mb']:>12.1f} {run['findings']:>9}"
        )
    for label, _ in binaries:
        mine = [r for r in runs if r["binary"] == label]
        if len(mine) > 1:
            print(f"{label + ': ' if label else ''}speed-up with {mine[-1]['workers']} workers: "
                  f"{mine[-1]['events_per_s'] / mine[0]['events_per_s']:.2f}x one worker")
    if before:
        for workers in workers_list:
            old, new = (next(r for r in runs if r["binary"] == b and r["workers"] == workers) for b in ("before", "after"))
            print(f"workers={workers}: after/before {new['events_per_s'] / old['events_per_s']:.2f}x events/s, "
                  f"CPU per event {new['cpu_s_per_1000_events'] / old['cpu_s_per_1000_events']:.2f}x")
    print("finding sets identical across runs: yes")
    busy = stats.get("plugin_busy_s", {})
    if busy:
        total = sum(busy.values())
        print(f"time in plugin batches (last run): {total:.2f} s; per plugin:")
        for name, seconds in sorted(busy.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<24} {seconds:7.3f} s  {seconds / max(1, stats['matched'].get(name, 0)) * 1e6:8.1f} us/event")
    if json_out:
        Path(json_out).write_text(json.dumps({"yardstick_events_per_s": yardstick, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
