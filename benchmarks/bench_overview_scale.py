"""The app's Overview and Subject history loaders on a large local store, in fresh processes.

A review machine's cache of the central store (``fer_core.central.cache``) is an ordinary local
store, so this is what such a machine, or a recording machine with as many sessions, does when
the app starts: ``--sessions`` sessions of ``--rows`` rows over ``--subjects`` subjects are
written once (compacted files, one Arrow write each, as the cache's sync writes them), then each
``--runs`` fresh Python process times the loaders the pages call (``dashboard/loaders.py``):

* the store's state token (every page visit checks it);
* Overview: ``list_subjects`` + ``list_sessions`` + ``summary_label_counts`` +
  ``overview_table``; first in the process (every data file's footer read and its pages
  verified once per process), then again (the in-process footer cache warm);
* Subject history of one subject: per-session digests, ``subject_history``,
  ``session_table`` and the quality verdicts.

    PYTHONPATH=.:benchmarks .venv/bin/python benchmarks/bench_overview_scale.py \\
        --sessions 1000 --rows 100000 --subjects 50 --store /tmp/overview-store
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

MEASURE = r"""
import json, sys, time
from fer_core import analytics as an
from fer_core.logstore import LogStore
root, subject = sys.argv[1], sys.argv[2]
out = {}
t0 = time.perf_counter()
LogStore(root).state_token()
out["state token"] = time.perf_counter() - t0
for name in ("Overview, first in the process", "Overview, again"):
    t0 = time.perf_counter()
    s = LogStore(root)
    table = an.overview_table(s.list_subjects(), s.list_sessions(), an.summary_label_counts(root))
    out[name] = time.perf_counter() - t0
t0 = time.perf_counter()
digests = an.read_digests(root, subject)
counts, bounds = an.subject_history(root, subject, digests)
sessions = an.session_table(counts, bounds)
an.session_verdicts(root, subject, digests)
out["Subject history"] = time.perf_counter() - t0
out["subjects"], out["sessions of the subject"] = len(table), len(sessions)
print(json.dumps(out))
"""


def _write(root: Path, sessions: int, rows: int, subjects: int) -> None:
    import numpy as np
    from bench_logstore import _session_table

    from fer_core.logstore import LogStore
    from fer_core.logstore.export import install_session
    from fer_core.logstore.meta import SessionMeta

    store = LogStore(root, fsync=False)
    rng = np.random.default_rng(7)
    t0 = time.perf_counter()
    for i in range(sessions):
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i)
        meta = SessionMeta(f"S{i % subjects:03d}", f"x{i:05d}", started_at=start,
                           ended_at=start + timedelta(seconds=rows / 30), model_name="fast",
                           model_version="1.0", synthetic=True, source="webcam")
        install_session(store, meta, _session_table(rng, rows, start))
        if (i + 1) % 100 == 0:
            print(f"  written {i + 1}", flush=True)
    print(f"wrote {sessions} sessions x {rows} rows in {time.perf_counter() - t0:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--subjects", type=int, default=50)
    ap.add_argument("--store", type=Path, required=True,
                    help="store folder; written when it does not exist, reused when it does")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not args.store.exists():
        _write(args.store, args.sessions, args.rows, args.subjects)
    size = sum(p.stat().st_size for p in args.store.rglob("*") if p.is_file())
    print(f"store {args.store}: {size / 1e9:.2f} GB; {os.cpu_count()} cores")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    for run in range(1, args.runs + 1):
        load = os.getloadavg()[0]
        got = subprocess.run([sys.executable, "-c", MEASURE, str(args.store), "S000"], env=env,
                             capture_output=True, text=True, check=True)
        figures = json.loads(got.stdout.strip().splitlines()[-1])
        print(f"run {run} (fresh process, load {load:.1f}): " + ", ".join(
            f"{k} {v:.2f} s" if isinstance(v, float) else f"{k} {v}"
            for k, v in figures.items()), flush=True)


if __name__ == "__main__":
    main()
