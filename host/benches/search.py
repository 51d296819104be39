#!/usr/bin/env python3
"""`trailwarden search` throughput against zcat | grep and zcat | jq (`make bench-search`).

Builds a set of gzip CloudTrail log files (`{"Records": [...]}`, one line each, as S3
delivers them) from the corpus's bare records, every record with a distinct eventID, about
2,000 records per file, until the compressed total reaches SIZE_MB (default 200; the set is
kept in target/bench-search/ and reused when its parameters match). Then, in one run, over the
same files, counts the events whose eventName is NAME (default ConsoleLogin):

  - trailwarden search --where eventName=NAME --count, with 1 thread and with every core;
  - zcat FILES | grep -o '"eventName":"NAME"' | wc -l (a text match: the files are one JSON
    line each, so grep -c would count files, not events);
  - zcat FILES | jq -c '.Records[] | select(.eventName == "NAME")' | wc -l, if jq exists.

Reports compressed MB/s and events/s for each, the ratios to zcat | grep, and checks that
every tool found the same count. Bounded: one pass per tool.

usage: search.py REPO TRAILWARDEN_BINARY [--size-mb 200] [--name ConsoleLogin] [--json OUT]
"""
import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

RECORDS_PER_FILE = 2000


def corpus_records(corpus: Path):
    """Bare CloudTrail records of the corpus (the record, logstash and LookupEvents forms)."""
    found = []
    for line in (corpus / "records/records.jsonl").read_text().splitlines():
        item = json.loads(line)
        record = item["record"]
        if item["form"] == "lookup_events":
            try:
                record = json.loads(record.get("CloudTrailEvent", ""))
            except (ValueError, AttributeError):
                continue
        elif item["form"] == "eventbridge":
            record = record.get("detail")
        elif item["form"] not in ("record", "logstash_record"):
            continue
        if isinstance(record, dict) and "eventName" in record:
            record = {k: v for k, v in record.items() if not k.startswith("@")}
            found.append(record)
    return found


def build(folder: Path, corpus: Path, size_mb: int) -> tuple[int, int]:
    """Writes the files; returns (files, events). Reused if the same parameters built it."""
    stamp = folder / "built.json"
    wanted = {"size_mb": size_mb, "records_per_file": RECORDS_PER_FILE}
    if stamp.is_file():
        done = json.loads(stamp.read_text())
        if done.get("params") == wanted:
            return done["files"], done["events"]
    shutil.rmtree(folder, ignore_errors=True)
    logs = folder / "AWSLogs"
    logs.mkdir(parents=True)
    records = corpus_records(corpus)
    # Each record as JSON text with a placeholder id, so a file is assembled by formatting.
    templates = []
    for record in records:
        record = dict(record, eventID="@ID@")
        templates.append(json.dumps(record, separators=(",", ":")).replace('"@ID@"', '"{id}"'))
    budget = size_mb * 1_000_000
    written = files = events = 0
    n = 0
    while written < budget:
        day = 1 + files % 28
        path = logs / f"2024/05/{day:02d}/111122223333_CloudTrail_us-east-1_{files:06d}.json.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        parts = []
        for i in range(RECORDS_PER_FILE):
            text = templates[n % len(templates)]
            parts.append(text.replace("{id}", f"bench-{files:06d}-{i:05d}", 1))
            n += 1
        body = ('{"Records":[' + ",".join(parts) + "]}\n").encode()
        data = gzip.compress(body, compresslevel=6)
        path.write_bytes(data)
        written += len(data)
        files += 1
        events += RECORDS_PER_FILE
    stamp.write_text(json.dumps({"params": wanted, "files": files, "events": events}))
    return files, events


def timed(command: str) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(command, shell=True, capture_output=True, text=True,
                         executable="/bin/bash")
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"{command!r} failed ({out.returncode}): {out.stderr.strip()}")
    return elapsed, out.stdout.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("binary")
    parser.add_argument("--size-mb", type=int, default=int(os.environ.get("SIZE_MB", 200)))
    parser.add_argument("--name", default="ConsoleLogin")
    parser.add_argument("--json")
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    corpus = repo / "../shared/corpus"
    folder = repo / "target/bench-search"
    print(f"building ~{args.size_mb} MB of gzip log files in {folder} ...", flush=True)
    files, events = build(folder, corpus, args.size_mb)
    paths = sorted(str(p) for p in (folder / "AWSLogs").rglob("*.json.gz"))
    compressed = sum(os.path.getsize(p) for p in paths)
    listing = folder / "files.txt"
    listing.write_text("\n".join(paths) + "\n")
    cores = os.cpu_count() or 1
    print(f"{files} files, {events} events, {compressed / 1e6:.1f} MB compressed; "
          f"counting eventName={args.name}; {cores} cores\n")
    name = args.name
    runs = []
    for threads in sorted({1, cores}):
        runs.append((f"trailwarden search, {threads} thread{'s' if threads > 1 else ''}",
                     f"{args.binary} search --where eventName={name} --count "
                     f"--threads {threads} {folder / 'AWSLogs'} 2>/dev/null"))
    runs.append(("search, 1 thread, --no-prefilter",
                 f"{args.binary} search --where eventName={name} --count --no-prefilter "
                 f"--threads 1 {folder / 'AWSLogs'} 2>/dev/null"))
    runs.append(("zcat | grep -o | wc -l",
                 f"xargs -a {listing} zcat | grep -o '\"eventName\":\"{name}\"' | wc -l"))
    if shutil.which("jq"):
        runs.append(("zcat | jq select | wc -l",
                     f"xargs -a {listing} zcat | jq -c '.Records[] | "
                     f"select(.eventName == \"{name}\")' | wc -l"))
    else:
        print("jq not found: its row is left out")
    results = []
    for label, command in runs:
        elapsed, out = timed(command)
        results.append({"tool": label, "seconds": elapsed, "count": int(out),
                        "compressed_mb_per_s": compressed / 1e6 / elapsed,
                        "events_per_s": events / elapsed})
    grep = next(r for r in results if r["tool"].startswith("zcat | grep"))
    print(f"{'tool':<34} {'seconds':>8} {'MB/s (gz)':>10} {'events/s':>12} "
          f"{'vs grep':>8} {'count':>8}")
    for r in results:
        r["speed_vs_grep"] = grep["seconds"] / r["seconds"]
        print(f"{r['tool']:<34} {r['seconds']:>8.2f} {r['compressed_mb_per_s']:>10.1f} "
              f"{r['events_per_s']:>12.0f} {r['speed_vs_grep']:>7.2f}x {r['count']:>8}")
    counts = {r["count"] for r in results}
    if len(counts) != 1:
        sys.exit(f"the tools disagree on the count: {counts}")
    if args.json:
        Path(args.json).write_text(json.dumps({"files": files, "events": events,
                                               "compressed_bytes": compressed,
                                               "results": results}, indent=2))


if __name__ == "__main__":
    main()
