"""Log store benchmark: append latency under live load, and read + aggregate at scale.

Run from the repo root::

    .venv/bin/python benchmarks/bench_logstore.py                 # default (~2-3 min)
    .venv/bin/python benchmarks/bench_logstore.py --seconds 60 --sizes 1000000 10000000

Part 1 -- append latency: first a burst of back-to-back appends (the intrinsic cost, warm
caches), then N sessions (1 and 8) are recorded concurrently in one process, each by
its own thread appending one row every 1/30 s (30 rows/s, the webcam rate) through the real
``SessionWriter``; each ``append`` call is timed with ``perf_counter_ns``. The writer threads
flush every second meanwhile, so the percentiles include their contention for the GIL.

Part 2 -- read + aggregate: a store holding one subject with 1M and 10M rows. The rows are
generated with numpy and written *directly* as compacted Parquet files in the store layout
(100k rows per session, same schema, options, manifest and metadata as the writer produces),
not through the writer -- pushing 10M rows through the 30 rows/s path would take days. Timed:
``LogStore.read(subject)`` of all columns, ``LogStore.read(subject, columns=...)`` of the columns
a history view needs followed by a pandas per-session aggregation, ``list_sessions()``, and the
same aggregation in DuckDB SQL straight over the hive-partitioned files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core.labels import FER2013_CLASSES
from fer_core.logstore import PROB_COLUMNS, ROW_SCHEMA, SCHEMA_VERSION, LogStore
from fer_core.logstore.layout import compact_name, manifest_name, session_dir
from fer_core.logstore.meta import SessionMeta, write_meta
from fer_core.logstore.parquet_io import write_parquet
from fer_core.logstore.rows import with_summary
from fer_core.logstore.synthetic import synthetic_rows

RATE = 30.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k] / 1000.0  # ns -> µs


def bench_append(root: Path, n_sessions: int, seconds: float) -> dict:
    store = LogStore(root)
    n_rows = int(seconds * RATE)
    latencies: list[list[int]] = [[] for _ in range(n_sessions)]
    start_barrier = threading.Barrier(n_sessions)

    def record(k: int) -> None:
        rows = list(synthetic_rows(n_rows, T0, seed=k, source="webcam"))
        writer = store.open_session(f"bench{n_sessions}", f"s{k}", started_at=T0,
                                    flush_interval=1.0)
        out = latencies[k]
        start_barrier.wait()
        t_next = time.perf_counter()
        for row in rows:
            t0 = time.perf_counter_ns()
            writer.append(row)
            out.append(time.perf_counter_ns() - t0)
            t_next += 1.0 / RATE
            delay = t_next - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        writer.close()

    threads = [threading.Thread(target=record, args=(k,)) for k in range(n_sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    allv = [v for per in latencies for v in per]
    df = store.read(f"bench{n_sessions}")
    assert len(df) == n_sessions * n_rows, "rows lost in the benchmark"
    return {"sessions": n_sessions, "appends": len(allv), "p50_us": _percentile(allv, 50),
            "p99_us": _percentile(allv, 99), "max_us": max(allv) / 1000.0,
            "mean_us": statistics.fmean(allv) / 1000.0}


def bench_append_burst(root: Path, n_rows: int = 20_000) -> dict:
    """Append back-to-back (warm caches): the intrinsic CPU cost of one append."""
    store = LogStore(root)
    rows = list(synthetic_rows(n_rows, T0))
    lat = []
    with store.open_session("burst", "s0", started_at=T0) as writer:
        for row in rows:
            t0 = time.perf_counter_ns()
            writer.append(row)
            lat.append(time.perf_counter_ns() - t0)
    return {"appends": n_rows, "p50_us": _percentile(lat, 50), "p99_us": _percentile(lat, 99)}


def _session_table(rng: np.random.Generator, n: int, start: datetime) -> pa.Table:
    logits = rng.normal(size=(n, 7)).astype(np.float32)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    face = rng.random(n) > 0.1
    k = probs.argmax(axis=1)
    ts = int(start.timestamp() * 1000) + (np.arange(n) * 1000 // 30)
    boxes = rng.integers(0, 400, size=(n, 4)).astype(np.int32)
    cols = {
        "schema_version": pa.array(np.full(n, SCHEMA_VERSION, np.int16)),
        "timestamp": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "frame_index": pa.array(np.arange(n, dtype=np.int64)),
        "face_index": pa.array(np.where(face, 0, -1).astype(np.int16)),
        "face_detected": pa.array(face),
    }
    for i, name in enumerate(["box_x", "box_y", "box_w", "box_h"]):
        cols[name] = pa.array(boxes[:, i], mask=~face)
    for i, name in enumerate(PROB_COLUMNS):
        cols[name] = pa.array(probs[:, i], mask=~face)
    labels = np.array(FER2013_CLASSES, dtype=object)[k]
    cols["label"] = pa.array(labels, pa.string(), mask=~face)
    cols["confidence"] = pa.array(probs.max(axis=1), mask=~face)
    cols["model_name"] = pa.array(["fast"] * n)
    cols["model_version"] = pa.array(["1.0"] * n)
    cols["source"] = pa.array(["webcam"] * n)
    light = rng.normal([120.0, 40.0], [20.0, 8.0], size=(n, 2)).astype(np.float32)
    cols["face_brightness"] = pa.array(light[:, 0], mask=~face)
    cols["face_contrast"] = pa.array(light[:, 1], mask=~face)
    return pa.Table.from_pydict(cols, schema=ROW_SCHEMA)


def generate_subject(root: Path, subject: str, n_rows: int, per_session: int = 100_000) -> None:
    """Write ``n_rows`` for ``subject`` directly as compacted session files (see docstring)."""
    rng = np.random.default_rng(7)
    n_sessions = -(-n_rows // per_session)
    for s in range(n_sessions):
        n = min(per_session, n_rows - s * per_session)
        start = T0 + timedelta(days=s)
        d = session_dir(root, subject, f"s{s:04d}")
        d.mkdir(parents=True)
        table = with_summary(_session_table(rng, n, start))
        (d / manifest_name(1)).write_text(json.dumps(
            {"generation": 1, "compacted": compact_name(1), "superseded": [], "rows": n}))
        write_parquet(table, d / compact_name(1), fsync=False)
        meta = SessionMeta(subject, f"s{s:04d}", started_at=start,
                           ended_at=start + timedelta(seconds=n / 30), model_name="fast",
                           model_version="1.0", synthetic=True, source="webcam")
        write_meta(d, meta, fsync=False)


HISTORY_COLUMNS = ["timestamp", "face_detected", "label", "confidence", *PROB_COLUMNS]


def _timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def bench_read(root: Path, n_rows: int, repeat: int) -> dict:
    import duckdb

    subject = f"big{n_rows}"
    t0 = time.perf_counter()
    generate_subject(root, subject, n_rows)
    gen_s = time.perf_counter() - t0
    store = LogStore(root)

    def pandas_agg():
        df = store.read(subject, columns=HISTORY_COLUMNS)
        face = df[df["face_detected"]]
        per_session = face.groupby("session").agg(
            n=("label", "size"), **{c: (c, "mean") for c in PROB_COLUMNS})
        labels = face.groupby(["session", "label"]).size()
        return len(df), len(per_session), int(labels.sum())

    def duck_agg():
        con = duckdb.connect()
        q = f"""
            select session, count(*) as n, {", ".join(f"avg({c})" for c in PROB_COLUMNS)}
            from read_parquet('{root}/subject={subject}/session=*/*.parquet',
                              hive_partitioning=true,
                              hive_types={{'subject': VARCHAR, 'session': VARCHAR}})
            where face_detected group by session"""
        rows = con.sql(q).fetchall()
        con.close()
        return len(rows)

    full_s, full = _timed(lambda: len(store.read(subject)), repeat=1 if n_rows > 2e6 else repeat)
    agg_s, agg = _timed(pandas_agg, repeat)
    list_s, listing = _timed(lambda: store.list_sessions(subject), repeat)
    duck_s, _ = _timed(duck_agg, repeat)
    assert full == n_rows and agg[0] == n_rows and int(listing["n_rows"].sum()) == n_rows
    return {"rows": n_rows, "sessions": len(listing), "generate_s": round(gen_s, 1),
            "read_all_columns_s": round(full_s, 3), "read_history_columns_agg_s": round(agg_s, 3),
            "list_sessions_s": round(list_s, 4), "duckdb_agg_s": round(duck_s, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="recording time per append case (default 20)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="best of N for read timings")
    parser.add_argument("--root", type=Path, default=None,
                        help="where to build the stores (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="bench_logstore_"))
    print("machine: {} cpus, load average at start {:.1f} {:.1f} {:.1f}".format(
        os.cpu_count(), *os.getloadavg()), flush=True)
    results = {"python": platform.python_version(), "cpus": os.cpu_count(),
               "loadavg_at_start": os.getloadavg(),
               "pyarrow": pa.__version__, "append": [], "read": []}
    try:
        r = bench_append_burst(root / "burst")
        results["append_burst"] = r
        print(f"append  burst (no pacing)  appends={r['appends']:<6} p50={r['p50_us']:.1f} µs "
              f"p99={r['p99_us']:.1f} µs", flush=True)
        for n in args.sessions:
            r = bench_append(root / f"append{n}", n, args.seconds)
            results["append"].append(r)
            print(f"append  sessions={n:<2} appends={r['appends']:<6} p50={r['p50_us']:.1f} µs "
                  f"p99={r['p99_us']:.1f} µs max={r['max_us']:.0f} µs", flush=True)
        for size in args.sizes:
            r = bench_read(root / f"read{size}", size, args.repeat)
            results["read"].append(r)
            print(f"read    rows={size:<9} sessions={r['sessions']:<4} "
                  f"read(all cols)={r['read_all_columns_s']:.2f} s  "
                  f"read(history cols)+pandas agg={r['read_history_columns_agg_s']:.2f} s  "
                  f"list_sessions={r['list_sessions_s']:.3f} s  "
                  f"duckdb agg={r['duckdb_agg_s']:.2f} s  (generated in {r['generate_s']} s)",
                  flush=True)
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)
    results["loadavg_at_end"] = os.getloadavg()
    print("machine: {} cpus, load average at end {:.1f} {:.1f} {:.1f}".format(
        os.cpu_count(), *results["loadavg_at_end"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
