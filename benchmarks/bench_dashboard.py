"""Benchmark: the Subject history page for a subject with ~1M rows (9+ hours at 30 frames/s).

Builds (once, reusable with --root) a log store holding one subject with ``--hours`` of 30 fps
synthetic frames in ``--sessions`` sessions, written through the real LogStore writer, then
times:

1. ``load+aggregate``: what the history page does on a cache miss — the subject's history from
   its sessions' summaries (``analytics.subject_history``; the writer wrote one per session at
   close), ``session_table`` and the derived day/heatmap/baseline tables plus the plotly
   figures;
2. ``page cold`` / ``page warm``: the whole history page through Streamlit's AppTest, first with
   empty caches, then again (cache hit keyed on the store's state token).

Usage: .venv/bin/python benchmarks/bench_dashboard.py [--root /tmp/bench_store] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from dashboard import charts  # noqa: E402  (imported before timing: plotly import is one-off)
from fer_core import analytics as an  # noqa: E402
from fer_core.demo_data import PROFILES, _records, session_frame  # noqa: E402
from fer_core.logstore import LogStore  # noqa: E402

SUBJECT = "bench-1m"
log = logging.getLogger("bench_dashboard")


def build_store(root: Path, hours: float, sessions: int, fps: float) -> int:
    """Write the benchmark subject unless it is already there; returns its row count."""
    store = LogStore(root)
    if not store.list_subjects().empty and SUBJECT in set(store.list_subjects()["subject"]):
        return int(store.list_subjects().set_index("subject").at[SUBJECT, "n_rows"])
    from tqdm import tqdm

    rng = np.random.default_rng(1)
    start = datetime(2026, 10, 1, 8, tzinfo=UTC)
    minutes = hours * 60 / sessions
    for k in tqdm(range(sessions), desc="writing sessions"):
        started = start + timedelta(days=k, hours=int(rng.integers(0, 8)))
        frame = session_frame(rng, PROFILES[k % len(PROFILES)], started, minutes, fps)
        writer = store.open_session(SUBJECT, f"s{k:02d}", source="synthetic", synthetic=True,
                                    started_at=started, model_name="synthetic")
        try:
            writer.append_many(_records(frame))
        finally:
            writer.close(ended_at=frame["timestamp"].iloc[-1].to_pydatetime())
    return int(store.list_subjects().set_index("subject").at[SUBJECT, "n_rows"])


def load_and_aggregate(root: Path, tz: str = "Europe/Berlin") -> int:
    """The history page's cache-miss path; returns the number of points sent to charts."""
    counts, bounds = an.subject_history(root, SUBJECT)
    table = an.session_table(counts, bounds)
    summary = an.summarise_period(counts, bounds)
    day = an.shares_by_day(counts, tz)
    heat = an.time_of_day_heatmap(counts, tz)
    an.baseline_flags(table)
    shares = pd.Series({c: summary[f"share_{c}"] for c in an.CLASSES})
    trend = table.rename(columns={f"share_{c}": c for c in an.CLASSES})
    figs = [charts.shares_bar(shares), charts.stacked_shares(trend, "start", "t", "x"),
            charts.class_lines(day.rename(columns={"day": "x"}), "x", "t", "x"),
            charts.valence_line(table["start"], table["mean_valence"]), charts.heatmap(heat)]
    return sum(len(t.x if t.x is not None else []) * max(1, len(t.z) if t.type == "heatmap"
                                                        else 1) for f in figs for t in f.data)


def page_runs(root: Path) -> tuple[float, float]:
    """Cold and warm run of the history page through AppTest."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["FER_LOG_ROOT"] = str(root)
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=300)
    at.session_state["shared.subject"] = SUBJECT
    at.run()  # overview first, as a user would land there
    at.switch_page("pages/history.py")
    t0 = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value.endswith(SUBJECT)
    t0 = time.perf_counter()
    at.run()
    warm = time.perf_counter() - t0
    return cold, warm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/tmp/fer_bench_store")
    parser.add_argument("--hours", type=float, default=9.3)
    parser.add_argument("--sessions", type=int, default=9)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = Path(args.root)
    t0 = time.perf_counter()
    n_rows = build_store(root, args.hours, args.sessions, args.fps)
    log.info("store ready: %d rows for %s (%.0f s)", n_rows, SUBJECT, time.perf_counter() - t0)
    times, points = [], 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        points = load_and_aggregate(root)
        times.append(time.perf_counter() - t0)
    cold, warm = page_runs(root)
    log.info("machine: %s, %d CPUs, python %s", platform.platform(), os.cpu_count(),
             platform.python_version())
    log.info("rows: %d; points sent to the history charts: %d", n_rows, points)
    log.info("load+aggregate (cache miss), median of %d: %.2f s (runs: %s)", args.repeat,
             statistics.median(times), ", ".join(f"{t:.2f}" for t in times))
    log.info("history page via AppTest: cold %.2f s, warm (cached) %.2f s", cold, warm)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
