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
    the first (one worker): parallelism must not change what is detected;
  - with --floor FINDINGS_FLOOR_BINARY, the floor under the rate: the first run's findings
    recorded again alone, through the audit store's own chained write path, into a fresh
    database (host/examples/findings_floor.rs), and as plain inserts without the chain; with
    the yardstick's parse, the most events/s any plugin set could reach on this input while
    every finding is recorded;
  - with more than one worker count, this machine's own ceiling for that many: as many
    independent one-worker replays (each its own database) at once, their combined rate
    against one run alone just before. Two workers can scale no better than two separate
    processes do.
Bounded: each run replays the file once. No AWS account.

usage: shipped.py REPO TRAILWARDEN_BINARY PARSE_RATE_BINARY [EVENTS] [--workers 1,2]
                  [--without PLUGIN]... [--baseline-dist DIR] [--floor BINARY] [--json OUT]
  --baseline-dist DIR first replays with one worker and the components of DIR (e.g. another
  branch's plugins/dist) instead of plugins/dist, on the same binary and input, and checks
  that the runs after it record the same findings: plugin changes measured back to back.
       shipped.py REPO TRAILWARDEN_BINARY PARSE_RATE_BINARY --growth 10000,100000,1000000
  --growth replays each size once with the default worker count and prints, per size, the
  time, events/s, CPU per event (also past start-up: less a one-event replay's CPU, which a
  small run spreads over few events), peak RSS and the audit database's size, so the cost
  per event can be compared from the smallest to the largest.
       shipped.py REPO TRAILWARDEN_BINARY PARSE_RATE_BINARY [EVENTS] --cost-of PLUGIN
                  [--repeat 5] [--workers 1]
  --cost-of replays the same input with the whole set and with the set less PLUGIN, the two
  alternating REPEAT times on one worker count, and prints each run, the medians and what
  PLUGIN costs: one run each is within this machine's noise (runs swing by 10% and more),
  so it also prints a 95% bootstrap interval of the median of the rounds' own ratios.
  It checks that every run of a set recorded the same findings, and that leaving PLUGIN out
  removed its findings and changed no other plugin's.
  --records-only (any mode) builds the input from the corpus's recorded CloudTrail (its records
  and the real log file delivered to S3) without Panther's labelled test events, which are
  cases written to fire rules: what a plugin costs on recorded traffic rather than on a
  stream of its own test cases.
"""
import gzip
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def records(corpus: Path, with_panther_tests=True):
    for line in (corpus / "records/records.jsonl").read_text().splitlines():
        item = json.loads(line)
        if item["form"] == "record" and isinstance(item["record"], dict):
            yield item["record"]
    if not with_panther_tests:
        # The real log file delivered to S3 instead: recorded traffic, not test cases.
        for path in sorted((corpus / "records/logfiles").glob("*.json.gz")):
            yield from json.loads(gzip.decompress(path.read_bytes()))["Records"]
        return
    for line in (corpus / "panther/panther_cloudtrail_tests.jsonl").read_text().splitlines():
        event = json.loads(line)["event"]
        if isinstance(event, dict) and "eventName" in event:
            yield event


def option(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def timed(cmd, env):
    """Runs cmd; returns (wall seconds, CPU seconds, peak RSS in MB) of that child alone."""
    # The input just written and the previous run's database (hundreds of MB) go to disk
    # now, not while this run is timed.
    os.sync()
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


def without_plugins(text: str, names) -> str:
    """The config `text` less the whole [[plugins]] block of each of `names`."""
    blocks = text.split("\n[[plugins]]\n")
    return "\n[[plugins]]\n".join(
        [blocks[0]] + [b for b in blocks[1:] if not any(f'name = "{n}"' in b for n in names)]
    )


def example_config(repo: Path, db: Path, workers=None, without=()) -> str:
    examples = repo / "examples"
    text = without_plugins((examples / "trailwarden.toml").read_text(), without)
    text = text.replace('"../', f'"{examples}/../')
    text = text.replace('cache_dir = ".trailwarden/cache"', f'cache_dir = "{repo}/target/bench-cache"')
    text = text.replace('database = "demo.db"', f'database = "{db}"')
    if workers:
        text = text.replace("[engine]\n", f"[engine]\nworkers = {workers}\n", 1)
    return text


def parallel_walls(cmds, env):
    """Runs cmds at once; returns the wall seconds until the last one ends."""
    os.sync()
    started = time.monotonic()
    children = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env) for c in cmds]
    for cmd, child in zip(cmds, children):
        if child.wait() != 0:
            sys.exit(f"{' '.join(cmd)} failed with status {child.returncode}")
    return time.monotonic() - started


def delete_database(db: Path):
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def warm_up(common, base, db: Path, env):
    """A first, one-event replay compiles the components into the cache, so the measured run
    is the steady state a long-running daemon would see; its database is deleted."""
    warm = db.parent / "warm.jsonl"
    warm.write_text(json.dumps(dict(base[0], eventID="warm-up")) + "\n")
    subprocess.run(common + [str(warm)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    delete_database(db)


def grow(repo: Path, binary: Path, base, sizes) -> int:
    env = dict(os.environ, RUST_LOG="error")
    print(f"growth: every shipped plugin, default workers, events from {len(base)} distinct records")
    # Start-up (loading every plugin from the compiled cache, opening the stores) is the same
    # at every size: a one-event replay's CPU, shown apart so a small run's share of it does
    # not read as a cost per event that falls with size.
    print(f"{'events':>9} {'seconds':>8} {'events/s':>9} {'CPU us/ev':>10} {'past start':>11} "
          f"{'peak RSS MB':>12} {'db MB':>7}")
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
            common = [str(binary), "replay", "--config", str(config), "--format", "json"]
            warm_up(common, base, db, env)
            _, start_cpu, _ = timed(common + [str(db.parent / "warm.jsonl")], env)
            delete_database(db)
            wall, cpu, rss = timed(common + [str(tmp / "events")], env)
            db_mb = sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists()) / 1e6
            print(f"{n:>9} {wall:>8.1f} {n / wall:>9.0f} {cpu / n * 1e6:>10.1f} "
                  f"{(cpu - start_cpu) / n * 1e6:>11.1f} {rss:>12.1f} {db_mb:>7.1f}")
    return 0


def cost_of(repo: Path, binary: Path, base, wanted: int, plugin: str, repeat: int, workers: int) -> int:
    """The whole set and the set less `plugin`, alternating `repeat` times on one input."""
    env = dict(os.environ, RUST_LOG="error")
    variants = [("with", ()), ("without", (plugin,))]
    runs = {name: [] for name, _ in variants}
    finding_sets = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        events = tmp / "events.jsonl"
        write_events(events, base, wanted)
        db = tmp / "bench.db"
        configs = {}
        for name, without in variants:
            configs[name] = tmp / f"trailwarden-{name}.toml"
            text = example_config(repo, db, workers, without)
            if without and text == example_config(repo, db, workers):
                sys.exit(f"the example config has no plugin called {plugin!r}")
            configs[name].write_text(text)
        for round_ in range(repeat):
            # The order flips each round, so a drift of the machine's speed falls on both.
            for name, _ in variants if round_ % 2 == 0 else reversed(variants):
                common = [str(binary), "replay", "--config", str(configs[name]), "--format", "json"]
                delete_database(db)
                if round_ == 0:
                    warm_up(common, base, db, env)
                stats_path = tmp / "stats.json"
                wall, cpu, _ = timed(common + ["--stats-json", str(stats_path), str(events)], env)
                stats = json.loads(stats_path.read_text())
                found = finding_set(db)
                if finding_sets.setdefault(name, found) != found:
                    sys.exit(f"two runs {name} {plugin} recorded different findings")
                runs[name].append((stats["events_per_s"], cpu / wanted * 1000, wall))
    with_set, without_set = finding_sets["with"], finding_sets["without"]
    own = {f for f in with_set if f[0] == plugin}
    if with_set - own != without_set:
        sys.exit(f"leaving {plugin} out changed other plugins' findings: "
                 f"{len(without_set ^ (with_set - own))} differ")
    print(f"cost of {plugin}: {wanted} events from {len(base)} distinct records, {workers} worker(s), "
          f"{repeat} alternating runs of each set; {plugin} raised {len(own)} of {len(with_set)} findings")
    print(f"{'set':<9} {'events/s':>10} {'CPU s/1k ev':>12} {'wall s':>7}")
    for name, _ in variants:
        for rate, cpu, wall in runs[name]:
            print(f"{name:<9} {rate:>10,.0f} {cpu:>12.4f} {wall:>7.2f}")
    median = {name: (statistics.median(r[0] for r in runs[name]), statistics.median(r[1] for r in runs[name]))
              for name, _ in variants}
    for name, _ in variants:
        print(f"median {name:<9} {median[name][0]:>10,.0f} events/s {median[name][1]:>8.4f} CPU s/1k events")
    fewer_events = 1 - median["with"][0] / median["without"][0]
    more_time = median["without"][0] / median["with"][0] - 1
    more_cpu = median["with"][1] / median["without"][1] - 1
    print(f"with {plugin} (medians): {fewer_events:.1%} fewer events/s, {more_time:.1%} more time "
          f"per event, {more_cpu:.1%} more CPU per event")
    # The machine's speed drifts between minutes more than a plugin's cost: each round's two
    # runs, taken back to back, compared with each other, then the median of those ratios.
    fewer_by_round = [1 - w[0] / wo[0] for w, wo in zip(runs["with"], runs["without"])]
    paired_events = statistics.median(fewer_by_round)
    paired_cpu = statistics.median(w[1] / wo[1] - 1 for w, wo in zip(runs["with"], runs["without"]))
    print(f"with {plugin} (median of the {repeat} rounds' own ratios): {paired_events:.1%} fewer "
          f"events/s, {paired_cpu:.1%} more CPU per event")
    if repeat >= 5:
        low, high = bootstrap_interval(fewer_by_round)
        print(f"95% interval of that median (the rounds resampled 2,000 times): {low:.1%} to {high:.1%} "
              f"fewer events/s; rounds from {min(fewer_by_round):.1%} to {max(fewer_by_round):.1%}")
    return 0


def bootstrap_interval(values, resamples=2000, seed=1):
    """The 2.5th and 97.5th percentiles of the median of `values` resampled with replacement:
    how far the median of this many noisy rounds can be trusted."""
    draw = random.Random(seed)
    medians = sorted(
        statistics.median(draw.choices(values, k=len(values))) for _ in range(resamples)
    )
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def main() -> int:
    repo, binary, parse_rate = (Path(a).resolve() for a in sys.argv[1:4])
    positional = [a for a in sys.argv[4:] if not a.startswith("--")]
    switches = {"--records-only"}
    flagged = {sys.argv[i + 1] for i, a in enumerate(sys.argv)
               if a.startswith("--") and a not in switches and i + 1 < len(sys.argv)}
    positional = [a for a in positional if a not in flagged]
    wanted = int(positional[0]) if positional else 50_000
    workers_list = [int(w) for w in option("--workers", "1,2").split(",")]
    without = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--without"]
    json_out = option("--json", None)
    # --records-only: the corpus's recorded CloudTrail alone, without Panther's labelled test
    # events (each a case written to fire a rule: most of the set's findings come from them).
    base = list(records(repo.parent / "shared/corpus", "--records-only" not in sys.argv))
    growth = option("--growth", None)
    if growth:
        return grow(repo, binary, base, [int(n) for n in growth.split(",")])
    cost_of_plugin = option("--cost-of", None)
    if cost_of_plugin:
        repeat = int(option("--repeat", "5"))
        return cost_of(repo, binary, base, wanted, cost_of_plugin, repeat, workers_list[0])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        events = tmp / "events.jsonl"
        write_events(events, base, wanted)
        size_mb = events.stat().st_size / 1e6
        yardstick = json.loads(subprocess.run(
            [str(parse_rate), str(events)], check=True, capture_output=True, text=True
        ).stdout)["events_per_s"]

        examples = repo / "examples"
        # Denials (budgets, accounts outside the grants) are logged per call: keep only errors.
        env = dict(os.environ, RUST_LOG="error")
        runs = []
        first_db = None
        reference = None
        baseline_dist = option("--baseline-dist", None)
        dists = [("baseline", Path(baseline_dist).resolve(), 1)] if baseline_dist else []
        dists += [("", None, w) for w in workers_list]
        all_stats = []
        for label, dist, workers in dists:
            db = tmp / f"bench-{label}{workers}.db"
            config = tmp / f"trailwarden-{label}{workers}.toml"
            # Leave out the named plugins (their whole [[plugins]] block), to see each one's cost.
            run_text = example_config(repo, db, workers, without)
            if dist is not None:
                run_text = run_text.replace(f'"{examples}/../plugins/dist/', f'"{dist}/')
            config.write_text(run_text)
            common = [str(binary), "replay", "--config", str(config), "--format", "json"]
            warm_up(common, base, db, env)
            stats_path = tmp / f"stats-{label}{workers}.json"
            wall, cpu, rss = timed(
                common + ["--stats-json", str(stats_path), str(events)], env
            )
            stats = json.loads(stats_path.read_text())
            all_stats.append((label, workers, stats))
            found = finding_set(db)
            if reference is None:
                reference, first_db = found, db
            elif found != reference:
                missing, extra = reference - found, found - reference
                sys.exit(
                    f"{label} workers={workers} recorded other findings than the first run: "
                    f"{len(missing)} missing, {len(extra)} extra (e.g. {sorted(missing | extra)[:3]})"
                )
            runs.append({
                "label": label or "plugins/dist",
                "workers": workers,
                "events_per_s": round(stats["events_per_s"]),
                "wall_s": round(wall, 2),
                "cpu_s_per_1000_events": round(cpu / wanted * 1000, 4),
                "peak_rss_mb": round(rss, 1),
                "findings": len(found),
                "db_mb": round(db.stat().st_size / 1e6, 1),
                "plugin_failures": stats["plugin_failures"],
            })
        floor = None
        floor_binary = option("--floor", None)
        if floor_binary:
            floor = json.loads(subprocess.run(
                [floor_binary, str(first_db), str(tmp)], check=True, capture_output=True, text=True
            ).stdout)
        ceiling = None
        most = max(workers_list)
        if most > 1:
            # The same replay with one worker, alone and then `most` of them at once (each on
            # its own database), back to back: the machine's speed drifts between minutes.
            cmds = []
            for n in range(most):
                db = tmp / f"ceiling-{n}.db"
                config = tmp / f"trailwarden-ceiling-{n}.toml"
                config.write_text(example_config(repo, db, 1, without))
                cmds.append([str(binary), "replay", "--config", str(config), "--format", "json", str(events)])
            alone = parallel_walls(cmds[:1], env)
            delete_database(tmp / "ceiling-0.db")
            ceiling = (most, most * alone / parallel_walls(cmds, env))
    plugins = sorted(stats["matched"])
    print(
        f"shipped set: {len(plugins)} plugins, {wanted} events ({size_mb:.1f} MB) from "
        f"{len(base)} distinct records" + (f", without {', '.join(without)}" if without else "")
    )
    print(f"yardstick: serde_json parses the same file into Values at {yardstick:,.0f} events/s")
    print(f"{'components':<13} {'workers':>7} {'events/s':>10} {'of parse':>9} {'CPU s/1k ev':>12} {'peak RSS MB':>12} {'findings':>9}")
    for run in runs:
        print(
            f"{run['label']:<13} {run['workers']:>7} {run['events_per_s']:>10,} {run['events_per_s'] / yardstick:>9.3f} "
            f"{run['cpu_s_per_1000_events']:>12.4f} {run['peak_rss_mb']:>12.1f} {run['findings']:>9}"
        )
    ours = [r for r in runs if r["label"] == "plugins/dist"]
    if len(ours) > 1:
        print(f"speed-up with {ours[-1]['workers']} workers: "
              f"{ours[-1]['events_per_s'] / ours[0]['events_per_s']:.2f}x one worker")
    if floor:
        # Per event of the input: parsing it (the yardstick) and recording its findings are
        # both unavoidable while every finding is recorded; plugins, routing and event
        # records come on top.
        parse_us = 1e6 / yardstick
        record_us = floor["seconds"] * 1e6 / wanted
        print(f"floor: the first run's {floor['findings']:,} findings ({floor['findings'] / wanted:.2f} per event) "
              f"recorded alone through the audit store (chained, 256 per transaction, best of 3): "
              f"{floor['seconds']:.2f} s, {floor['seconds'] * 1e6 / max(1, floor['findings']):.1f} us per finding, "
              f"{record_us:.1f} us per event; as plain inserts without the chain "
              f"{floor['plain_seconds'] * 1e6 / max(1, floor['findings']):.1f} us per finding, "
              f"{floor['plain_seconds'] * 1e6 / wanted:.1f} us per event")
        print(f"floor with the yardstick's parse ({parse_us:.1f} us per event): {parse_us + record_us:.1f} us per event, "
              f"at most {1e6 / (parse_us + record_us):,.0f} events/s "
              f"({parse_us / (parse_us + record_us):.3f} of the yardstick) whatever the plugins cost")
    if ceiling:
        print(f"this machine's ceiling: {ceiling[0]} independent one-worker replays at once "
              f"run {ceiling[1]:.2f}x the events/s of one alone")
    if baseline_dist:
        print(f"plugins/dist vs {baseline_dist}, one worker each: "
              f"{ours[0]['events_per_s'] / runs[0]['events_per_s']:.2f}x the events/s")
    print("finding sets identical across runs: yes")
    for label, workers, run_stats in all_stats:
        if label != "baseline" and workers != workers_list[-1]:
            continue
        busy = run_stats.get("plugin_busy_s", {})
        if not busy:
            continue
        total = sum(busy.values())
        name_of_run = f"{label or 'plugins/dist'}, {workers} worker(s)"
        print(f"time in plugin batches ({name_of_run}): {total:.2f} s; per plugin (events routed):")
        for name, seconds in sorted(busy.items(), key=lambda kv: -kv[1]):
            routed = run_stats["matched"].get(name, 0)
            print(f"  {name:<24} {seconds:7.3f} s  {routed:>7}  {seconds / max(1, routed) * 1e6:8.1f} us/event")
    if json_out:
        Path(json_out).write_text(json.dumps(
            {"yardstick_events_per_s": yardstick, "runs": runs, "findings_floor": floor}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
