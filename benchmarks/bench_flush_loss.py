"""SIGKILL loss of the log writer under CPU load: how much recorded time a crash can lose.

Run from the repo root::

    .venv/bin/python benchmarks/bench_flush_loss.py                  # ~1 min
    .venv/bin/python benchmarks/bench_flush_loss.py --rounds 5 --writers 4 --load 2

Each round starts ``--writers`` writer processes (the real ``SessionWriter``, default
``flush_interval`` 1.0 s, fsync on), each appending one row every 1/30 s stamped with the wall
clock, plus ``--load`` busy-looping processes so that flushes compete for the CPU. After a
random 3-6 s each writer is killed with SIGKILL; its loss is the kill time minus the timestamp
of the newest row found on disk afterwards. The bound to meet (issue 14): the flush interval
plus one row interval (1.0 + 1/30 s).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core.logstore import LogStore

REPO = Path(__file__).resolve().parent.parent
RATE = 30.0
WRITER = r"""
import sys, time
from datetime import UTC, datetime
from fer_core.logstore import LogStore
from fer_core.logstore.synthetic import synthetic_rows

root, session, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
w = LogStore(root).open_session("P001", session, model_name="fast")
rows = [r for r in synthetic_rows(600, model_name="fast", source="webcam") if r["face_index"] <= 0]
print("ready", flush=True)
pace, next_t, i = 1.0 / rate, time.monotonic(), 0
while True:
    row = dict(rows[i % len(rows)], timestamp=datetime.now(UTC), frame_index=i)
    w.append(row)
    i += 1
    next_t += pace
    time.sleep(max(0.0, next_t - time.monotonic()))
"""


def _burn(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x += 1


def run_round(root: Path, round_no: int, writers: int, load: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = []
    for k in range(writers):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(root), f"r{round_no}-w{k}",
                              str(RATE)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
        procs.append(p)
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    burners = [multiprocessing.Process(target=_burn, args=(time.time() + 7.0,))
               for _ in range(load)]
    for b in burners:
        b.start()
    start = time.time()
    kill_at = sorted((start + random.uniform(3.0, 6.0), i) for i in range(writers))
    killed: dict[int, float] = {}
    for t, i in kill_at:
        time.sleep(max(0.0, t - time.time()))
        procs[i].send_signal(signal.SIGKILL)
        killed[i] = time.time()
    for p in procs:
        p.wait(timeout=30)
    for b in burners:
        b.join()
    store = LogStore(root)
    losses = []
    for i in range(writers):
        df = store.read("P001", f"r{round_no}-w{i}", columns=["timestamp"])
        last = df["timestamp"].max().timestamp()
        losses.append(killed[i] - last)
    return losses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--load", type=int, default=2, help="busy-looping processes")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    random.seed(args.seed)
    losses: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            got = run_round(Path(tmp), r, args.writers, args.load)
            print(f"round {r}: loss (s) " + " ".join(f"{x:.3f}" for x in got), flush=True)
            losses.extend(got)
    bound = 1.0 + 1.0 / RATE
    result = {"trials": len(losses), "max_s": max(losses), "median_s": statistics.median(losses),
              "min_s": min(losses), "bound_s": bound, "within_bound": max(losses) <= bound,
              "writers": args.writers, "load": args.load, "cpus": os.cpu_count()}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps({**result, "losses_s": losses}, indent=1))


if __name__ == "__main__":
    main()
