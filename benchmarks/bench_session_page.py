"""Benchmark: opening one long session's page (summary + charts), whole vs downsampled.

For each size (default 2M and 6M rows) a store holding one session of that many rows is
generated the way ``bench_logstore.py`` does it (numpy rows written directly as a compacted
session file at 30 frames/s, one row per frame, 10% without a face), and its ``_summary.json``
is written by ``refresh_summaries`` (what closing a session does). Then, each in a **fresh
Python process** (so peak RSS is that of one page open, not of the generator), the session page's
data work is timed:

* ``whole`` (the page before issue 23): ``LogStore.read`` of every row and column into pandas,
  ``session_summary``, the raw and smoothed timelines, ethogram, shares, transitions, peaks;
* ``downsampled`` (the page now): ``analytics.session_view`` (above 1M rows: every n-th frame's
  primary row for the charts, read in pyarrow batches; exact figures from the summary), then
  the same chart functions on its rows.

Printed per run: wall seconds, the process's CPU seconds and its peak resident memory
(``VmHWM``) including the interpreter and imported libraries (a bare ``import`` of the
modules is measured too, as ``baseline``).

Usage: .venv/bin/python benchmarks/bench_session_page.py [--sizes 2000000 6000000]
The store is built under a temporary folder in /tmp and deleted at the end (unless --root).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

WINDOW_S = 2.0  # the page's default smoothing window
FLICKER_S = 0.1


def _peak_rss_mb() -> float:
    """Peak resident memory of this process image (``VmHWM``; unlike ``ru_maxrss`` it starts
    afresh at exec, so a large parent that forked us does not count)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def open_page(root: str, mode: str) -> dict:
    """The session page's data work in this process; returns timings and peak RSS (MB)."""
    from fer_core import analytics as an
    from fer_core.logstore import LogStore

    t0, c0 = time.perf_counter(), time.process_time()
    if mode == "baseline":
        pass
    else:
        if mode == "whole":
            rows = LogStore(root).read(subject="p1", session="s0000")
            summary = an.session_summary(rows)
            shares = an.class_shares(rows)
        else:
            view = an.session_view(root, "p1", "s0000")
            rows, summary, shares = view.rows, view.summary, view.shares
        tl_raw = an.timeline(rows, 0.0, max_points=3000)
        tl = an.timeline(rows, WINDOW_S)
        an.ethogram_segments(rows, bin_s=max(WINDOW_S / 2, tl.attrs["bin_s"]))
        an.transition_counts(rows, min_run_s=FLICKER_S)
        an.class_peaks(rows, WINDOW_S)
        assert summary["n_frames"] > 0 and len(tl_raw) and float(shares.sum()) > 0.99
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = _peak_rss_mb()
    return {"mode": mode, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "peak_rss_mb": round(peak_mb)}


def build(root: Path, n_rows: int) -> None:
    from bench_logstore import generate_subject

    from fer_core.logstore.summary_file import refresh_summaries

    generate_subject(root, "p1", n_rows, per_session=n_rows)
    refresh_summaries(root, fsync=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000_000, 6_000_000])
    parser.add_argument("--modes", nargs="+", default=["baseline", "downsampled", "whole"])
    parser.add_argument("--root", type=Path, default=None, help="keep the stores here")
    parser.add_argument("--child", nargs=2, metavar=("ROOT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(open_page(*args.child)))
        return 0
    print(f"# {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}")
    base = args.root or Path(tempfile.mkdtemp(prefix="bench-session-page-"))
    try:
        for n in args.sizes:
            root = base / f"rows-{n}"
            if not root.exists():
                t0 = time.perf_counter()
                build(root, n)
                print(f"built {n:,} rows in {time.perf_counter() - t0:.0f} s")
            for mode in args.modes:
                out = subprocess.run([sys.executable, __file__, "--child", str(root), mode],
                                     capture_output=True, text=True, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                print(json.dumps({"rows": n, **result}), flush=True)
    finally:
        if args.root is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
