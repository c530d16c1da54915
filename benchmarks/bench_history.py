"""Benchmark: a subject's history (and the store overview) from per-session summaries vs raw rows.

For each size (default 1M and 10M rows) a store holding one subject is generated the way
``bench_logstore.py`` does it (numpy rows written directly as compacted session files, 100k rows
per session; the 30 rows/s writer path would take days), then every session's ``_summary.json``
is written by ``refresh_summaries`` (what ``logs repair`` does for a store without summaries;
closing a session does the same per session). Timed, each **cold**: in a fresh Python process
(no footer cache, no Streamlit cache), after evicting the store's file pages from the OS page
cache with ``posix_fadvise(DONTNEED)`` (no root needed; directory metadata may stay cached);
then again in a fresh process with the files still in the page cache (a recently used store):

* ``history (summaries)``: what the history page's loader does on a cache miss now --
  ``analytics.subject_history`` + ``session_table`` -- plus the page's derived tables (period
  summary, shares and valence per day, time-of-day heatmap, baseline flags);
* ``history (raw rows)``: the same tables from ``LogStore.read`` of the 13 needed columns +
  ``bucket_counts`` + ``session_bounds`` (the path before summaries);
* ``overview (summaries)`` vs ``overview (DuckDB raw)``: the per-session label counts of the
  whole store.

Wall time and the process's CPU time are both printed: on a shared machine the wall time
includes waiting for a core.

Usage: .venv/bin/python benchmarks/bench_history.py [--sizes 1000000 10000000] [--repeat 3]
The store is built under a temporary folder in /tmp and deleted at the end (unless --root).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

RAW_COLUMNS = ["timestamp", "frame_index", "face_index", "face_detected", "label", "confidence",
               "prob_angry", "prob_disgust", "prob_fear", "prob_happy", "prob_sad",
               "prob_surprise", "prob_neutral"]


def evict(directory: Path) -> None:
    """Drop the page-cache pages of every file under ``directory`` (cold reads next time)."""
    for path in directory.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)  # dirty pages cannot be dropped
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _page_tables(counts, bounds, tz: str = "Europe/Berlin") -> int:
    from fer_core import analytics as an

    table = an.session_table(counts, bounds)
    an.summarise_period(counts, bounds)
    an.shares_by_day(counts, tz)
    an.valence_by_day(counts, tz)
    an.time_of_day_heatmap(counts, tz)
    an.baseline_flags(table)
    return len(table)


def measure(kind: str, root: Path, subject: str) -> dict:
    """One cold measurement (run in a fresh process by :func:`cold`)."""
    from fer_core import analytics as an
    from fer_core.logstore import LogStore

    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "history_summaries":
        counts, bounds = an.subject_history(root, subject)
        loader, loader_cpu = time.perf_counter() - t0, time.process_time() - c0
        n = _page_tables(counts, bounds)
    elif kind == "history_raw":
        rows = LogStore(root).read(subject=subject, columns=RAW_COLUMNS)
        counts, bounds = an.bucket_counts(rows), an.session_bounds(rows)
        loader, loader_cpu = time.perf_counter() - t0, time.process_time() - c0
        n = _page_tables(counts, bounds)
    elif kind == "overview_summaries":
        n = len(an.summary_label_counts(root))
        loader, loader_cpu = time.perf_counter() - t0, time.process_time() - c0
    elif kind == "overview_duckdb":
        n = len(an.session_label_counts(root))
        loader, loader_cpu = time.perf_counter() - t0, time.process_time() - c0
    else:
        raise ValueError(kind)
    return {"kind": kind, "loader_s": loader, "total_s": time.perf_counter() - t0,
            "loader_cpu_s": loader_cpu, "cpu_s": time.process_time() - c0, "n": n}


def cold(kind: str, root: Path, subject: str, page_cache: bool = False) -> dict:
    """A fresh process; the store's file pages evicted first unless ``page_cache``."""
    if not page_cache:
        evict(root)
    out = subprocess.run([sys.executable, __file__, "--measure", kind, "--root", str(root),
                          "--subject", subject], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="cold runs per path (median)")
    parser.add_argument("--raw-max", type=int, default=1_000_000,
                        help="time the raw-row paths only up to this many rows (default 1M: "
                        "reading 10M raw rows takes minutes on a shared 2-core machine)")
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--subject", default=None)
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.root, args.subject)))
        return 0

    from bench_logstore import generate_subject

    from fer_core.logstore import LogStore
    from fer_core.logstore.summary_file import refresh_summaries

    base = args.root or Path(tempfile.mkdtemp(prefix="bench_history_", dir="/tmp"))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python "
          f"{platform.python_version()}, load average at start "
          "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg()), flush=True)
    try:
        for size in args.sizes:
            root, subject = base / f"rows{size}", f"big{size}"
            t0 = time.perf_counter()
            generate_subject(root, subject, size)
            gen_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            written = refresh_summaries(root, fsync=False)
            sum_s = time.perf_counter() - t0
            kb = sum(p.stat().st_size for p in root.rglob("_summary.json")) / 1024
            n_rows = int(LogStore(root).list_sessions()["n_rows"].sum())
            print(f"rows={n_rows:,} sessions={len(written)}: generated in {gen_s:.1f} s, "
                  f"summaries written in {sum_s:.1f} s ({sum_s / len(written) * 1000:.0f} ms "
                  f"per session, {kb:.0f} kB in all)", flush=True)
            kinds = ["history_summaries", "overview_summaries"]
            if size <= args.raw_max:
                kinds += ["history_raw", "overview_duckdb"]
            for kind, page_cache in [(k, p) for k in kinds for p in (False, True)]:
                runs = [cold(kind, root, subject, page_cache) for _ in range(args.repeat)]
                loader = [r["loader_s"] for r in runs]
                total = [r["total_s"] for r in runs]
                cpu = [r["cpu_s"] for r in runs]
                loader_cpu = [r["loader_cpu_s"] for r in runs]
                mode = "fresh process, page cache warm" if page_cache else "cold"
                print(f"  {kind:<19} {mode}, median of {args.repeat}: loader "
                      f"{statistics.median(loader):.3f} s, with the page tables "
                      f"{statistics.median(total):.3f} s (runs: "
                      f"{', '.join(f'{t:.3f}' for t in total)}); CPU time: loader "
                      f"{statistics.median(loader_cpu):.3f} s, with the page tables "
                      f"{statistics.median(cpu):.3f} s", flush=True)
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if args.root is None:
            shutil.rmtree(base, ignore_errors=True)
    print("load average at end {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
