#!/usr/bin/env python3
"""Event-to-committed latency of the daemon under a steady offered load (`make bench-daemon`).

Starts the release binary's `trailwarden run` with the example configuration (every shipped
plugin, responses in dry-run or approve, nothing executed) on 127.0.0.1 and a fresh audit
store, then offers CloudTrail records over HTTP at fixed rates, open loop (each request has a
scheduled send time; latency counts from that time, so a slow answer cannot hide the
queueing behind it). The daemon answers a POST only once its events have been through every
plugin and their findings and capability decisions are committed, so a request's latency is
the latency from event to finding committed (and an upper bound of event to decision).
Each rate runs for a bounded time; the daemon is stopped at the end.

The load is offered by OFFER_LOAD (`host/examples/offer_load.rs`, 64 kept-alive connections,
each on a thread of its own), which also reports how late it sent (its own delay, counted in
the latency) and the CPU it used: this machine has two cores, which the daemon and its
client share.

usage: daemon.py REPO TRAILWARDEN_BINARY OFFER_LOAD [--seconds S] [--rates 1000,20000]
"""
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from shipped import records  # noqa: E402


def option(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def offer(load_binary, port, token_file, bodies, requests_per_s, seconds, tmp):
    """Offers `bodies` (bytes each) at requests_per_s for `seconds`; returns the load
    generator's report (latencies_ms, late_ms, errors) and the CPU seconds it used."""
    path = tmp / "bodies"
    with open(path, "wb") as out:
        for body in bodies:
            out.write(f"{len(body)}\n".encode() + body)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run(
        [str(load_binary), str(port), str(token_file), str(path), str(requests_per_s), str(seconds)],
        check=True, capture_output=True, timeout=seconds + 120,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(run.stdout)
    report["cpu_s"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return report


def main() -> int:
    repo, binary, load_binary = (Path(a).resolve() for a in sys.argv[1:4])
    seconds = float(option("--seconds", "10"))
    rates = [int(r) for r in option("--rates", "1000,20000").split(",")]
    base = list(records(repo.parent / "shared/corpus"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        examples = repo / "examples"
        text = (examples / "trailwarden.toml").read_text()
        text = text.replace('"../', f'"{examples}/../')
        text = text.replace('database = "demo.db"', f'database = "{tmp}/bench.db"')
        text = text.replace('cache_dir = ".trailwarden/cache"', f'cache_dir = "{repo}/target/bench-cache"')
        config = tmp / "trailwarden.toml"
        config.write_text(text)
        port = free_port()
        env = dict(os.environ, RUST_LOG="error")
        daemon = subprocess.Popen(
            [str(binary), "run", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if daemon.poll() is not None:
                    sys.exit(f"the daemon exited with {daemon.returncode}")
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    c.request("GET", "/healthz")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("the daemon did not answer /healthz within 120 s")
                time.sleep(0.2)
            print(f"daemon: every shipped plugin (example config), {seconds:.0f} s per rate, loopback")
            print(f"{'events/s':>9} {'ev/request':>10} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7} {'sent late p99':>13} {'client CPU s':>12}")
            for rate in rates:
                per_request = max(1, rate // 1000)
                requests_per_s = rate / per_request

                # Every event id distinct (the daemon's dedup window would drop a repeat).
                bodies = []
                for n in range(int(requests_per_s * seconds)):
                    lines = []
                    for j in range(per_request):
                        i = n * per_request + j
                        record = dict(base[i % len(base)])
                        record["eventID"] = f"daemon-{rate}-{i:09d}"
                        lines.append(json.dumps(record))
                    bodies.append("\n".join(lines).encode())
                report = offer(load_binary, port, tmp / "trailwarden.token", bodies, requests_per_s, seconds, tmp)
                latencies, late = report["latencies_ms"], report["late_ms"]
                print(
                    f"{rate:>9} {per_request:>10} {len(latencies):>9} {percentile(latencies, 0.5):>8.2f} "
                    f"{percentile(latencies, 0.99):>8.2f} {max(latencies, default=float('nan')):>8.2f} "
                    f"{len(report['errors']):>7} {percentile(late, 0.99):>13.2f} {report['cpu_s']:>12.2f}"
                )
            status = Path(f"/proc/{daemon.pid}/status").read_text()
            peak = next(l for l in status.splitlines() if l.startswith("VmHWM"))
            print(f"daemon peak RSS: {int(peak.split()[1]) / 1024:.0f} MB")
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
