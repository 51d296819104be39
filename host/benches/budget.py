#!/usr/bin/env python3
"""The cost of one capability budget check as the hour's denied calls pile up.

A plugin past its budget keeps calling, and each call is decided (denied) and recorded. The
budget check counts the plugin's decisions that spend budget in the last hour. This runs the
outbox's old query (a count over an index of every decision) and its current one (a partial
index of the decisions that spend budget, counted up to the budget) on SQLite with N
decisions in the hour, `budget` of them granted, and prints microseconds per check.

usage: python3 host/benches/budget.py [N] [BUDGET]
"""
import sqlite3
import sys
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
budget = int(sys.argv[2]) if len(sys.argv) > 2 else 30
conn = sqlite3.connect(":memory:")
conn.executescript("""
CREATE TABLE actions (id TEXT PRIMARY KEY, plugin TEXT, capability TEXT, status TEXT,
    decided_status TEXT, undo_of TEXT, request TEXT, decided_us INTEGER);
CREATE INDEX actions_by_budget ON actions (plugin, capability, decided_us);
CREATE INDEX actions_spending_budget ON actions (plugin, capability, decided_us)
    WHERE decided_status != 'denied' AND undo_of IS NULL;
""")
now = 10**15
rows = []
for i in range(n):
    status = "dry_run" if i < budget else "denied"
    rows.append((str(i), "p", "notify.send", status, status, None, "x" * 300, now + i))
conn.executemany("INSERT INTO actions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

old = """SELECT COUNT(*) FROM actions INDEXED BY actions_by_budget WHERE plugin = ? AND capability = ?
         AND decided_us >= ? AND status != 'denied' AND undo_of IS NULL"""
new = """SELECT COUNT(*) FROM (SELECT 1 FROM actions WHERE plugin = ? AND capability = ?
         AND decided_us >= ? AND decided_status != 'denied' AND undo_of IS NULL LIMIT ?)"""


def per_check(query, args, rounds=200):
    assert conn.execute(query, args).fetchone()[0] == budget
    started = time.perf_counter()
    for _ in range(rounds):
        conn.execute(query, args).fetchone()
    return (time.perf_counter() - started) / rounds * 1e6


before = per_check(old, ("p", "notify.send", now))
after = per_check(new, ("p", "notify.send", now, budget))
print(f"{n} decisions in the hour, {budget} granted: old check {before:.1f} us, "
      f"current {after:.1f} us ({before / after:.0f}x)")
