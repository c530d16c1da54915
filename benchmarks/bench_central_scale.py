"""Central store at scale (issue 22, item 6, scaled down): many published sessions on a local
S3-compatible server; objects before and after ``logs optimize``; reading times.

Records ``--sessions`` synthetic sessions of ``--rows`` frames over ``--subjects`` subjects
into a local store, publishes them one by one through ``fer_core.central.publish`` (one frames
commit and one sessions merge each) to moto's S3 server on 127.0.0.1, then reports: seconds per
publish; objects in the bucket (data files and log entries) per session and in all; the time to
read the sessions table (what Overview needs) and one subject's frames with fer_core, Polars
``scan_delta`` and DuckDB over the Arrow dataset; then the same after ``optimize``; then what a
review machine (``FER_CENTRAL_REVIEW=1``) does: the first sync of its local cache (every
session copied once), a sync with nothing new (what a page visit costs at most every 30 s), and
the Overview and Subject history loaders on the cache.

``--direct`` writes the local sessions as compacted files in one Arrow write each
(``install_session``, numpy rows as ``bench_logstore.py`` makes them) instead of through the
30-rows-a-second writer path, so 100M rows can be set up in minutes; publishing is the same.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_central_scale.py --sessions 1000 \
        --rows 1000 --subjects 50
    PYTHONPATH=. .venv/bin/python benchmarks/bench_central_scale.py --sessions 1000 \
        --rows 100000 --subjects 50 --direct        # 100M rows
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from bench_logstore import _session_table


def _server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}"


def _objects(s3, bucket: str) -> dict[str, int]:
    out = {"data": 0, "log": 0}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            out["log" if "/_delta_log/" in o["Key"] else "data"] += 1
    return out


def _reads(central, subject: str) -> dict[str, float]:
    import duckdb
    import polars as pl
    from deltalake import DeltaTable

    from fer_core.central import reader

    t = {}
    t0 = time.perf_counter()
    n_sessions = len(reader.list_sessions(central))
    t["sessions table (Overview), s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_fer = reader.read_frames(central, subject).num_rows
    t["fer_core one subject, s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    committed = pl.scan_delta(central.sessions_uri).select("subject", "session")
    shares = (pl.scan_delta(central.frames_uri).filter(pl.col("subject") == subject)
              .join(committed, on=["subject", "session"], how="semi")
              .filter(pl.col("face_detected")).group_by("label").len().collect())
    t["Polars one subject's label shares, s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frames = DeltaTable(central.frames_uri).to_pyarrow_dataset()  # noqa: F841 (DuckDB scans it)
    sessions = DeltaTable(central.sessions_uri).to_pyarrow_dataset()  # noqa: F841
    got = duckdb.sql(f"select label, count(*) from frames semi join sessions using "
                     f"(subject, session) where subject = '{subject}' and face_detected "
                     "group by all").fetchall()
    t["DuckDB one subject's label shares, s"] = time.perf_counter() - t0
    assert sum(n for _, n in got) == int(shares["len"].sum())
    print(f"  sessions {n_sessions}, rows of {subject}: {n_fer}")
    return t


def _review(central, subject: str) -> None:
    """A review machine: first sync of an empty cache, a sync with nothing new, then the
    Overview and Subject history loaders (the functions the pages call) on the cache."""
    from fer_core import analytics as an
    from fer_core.central.cache import sync
    from fer_core.logstore import LogStore

    with tempfile.TemporaryDirectory() as tmp:
        cache = LogStore(Path(tmp) / "cache", fsync=False)
        t0 = time.perf_counter()
        first = sync(central, cache)
        print(f"review cache, first sync: {time.perf_counter() - t0:.1f} s ({first.summary()})")
        t0 = time.perf_counter()
        again = sync(central, cache)
        print(f"review cache, sync with nothing new: {time.perf_counter() - t0:.2f} s "
              f"({again.summary()})")
        t0 = time.perf_counter()
        n = len(an.summary_label_counts(cache.root))
        print(f"  Overview loader on the cache (summary_label_counts, {n} rows): "
              f"{time.perf_counter() - t0:.2f} s")
        t0 = time.perf_counter()
        counts, bounds = an.subject_history(cache.root, subject)
        table = an.session_table(counts, bounds)
        an.shares_by_day(counts, "Europe/Berlin")
        print(f"  Subject history loader on the cache ({subject}, {len(table)} sessions): "
              f"{time.perf_counter() - t0:.2f} s")
        size = sum(p.stat().st_size for p in Path(cache.root).rglob("*") if p.is_file())
        print(f"  cache on disk: {size / 1e9:.2f} GB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--subjects", type=int, default=50)
    ap.add_argument("--direct", action="store_true",
                    help="write local sessions with install_session (numpy rows)")
    args = ap.parse_args()
    print(f"{platform.node()} {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at start")

    import boto3

    proc, endpoint = _server()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench-secret",
                      AWS_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint, AWS_ALLOW_HTTP="true")
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="fer-bench")
        from fer_core.central import maintenance, resolve_central
        from fer_core.central.publish import publish_session
        from fer_core.logstore import LogStore
        from fer_core.logstore.export import install_session
        from fer_core.logstore.meta import SessionMeta
        from fer_core.logstore.synthetic import synthetic_rows

        rng = np.random.default_rng(7)

        central = resolve_central("s3://fer-bench/study", "bench")
        with tempfile.TemporaryDirectory() as tmp:
            store = LogStore(Path(tmp) / "logs", fsync=False)
            t0 = time.perf_counter()
            pairs = []
            for i in range(args.sessions):
                subject = f"S{i % args.subjects:03d}"
                start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i)
                if args.direct:
                    meta = SessionMeta(subject, f"x{i:05d}", started_at=start,
                                       ended_at=start + timedelta(seconds=args.rows / 30),
                                       model_name="fast", model_version="1.0",
                                       synthetic=True, source="webcam")
                    install_session(store, meta, _session_table(rng, args.rows, start))
                else:
                    with store.open_session(subject, f"x{i:05d}", started_at=start,
                                            source="synthetic", synthetic=True) as w:
                        w.append_many(synthetic_rows(args.rows, start, seed=i))
                if (i + 1) % 100 == 0:
                    print(f"  recorded {i + 1}", flush=True)
                pairs.append((subject, f"x{i:05d}"))
            print(f"recorded {args.sessions} sessions x {args.rows} rows in "
                  f"{time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            for n, (subject, session) in enumerate(pairs, 1):
                r = publish_session(store, central, subject, session)
                assert r.action == "published", r.summary()
                if n % 25 == 0:
                    print(f"  published {n} ({(time.perf_counter() - t0) / n:.3f} s each, "
                          f"load {os.getloadavg()[0]:.1f})",
                          flush=True)
            per = (time.perf_counter() - t0) / len(pairs)
            print(f"published {len(pairs)} sessions: {per:.3f} s per session")
        before = _objects(s3, "fer-bench")
        print(f"objects before optimize: {before} = "
              f"{(before['data'] + before['log']) / args.sessions:.2f} per session")
        for k, v in _reads(central, "S000").items():
            print(f"  {k}: {v:.3f}")
        t0 = time.perf_counter()
        for r in maintenance.optimize(central, retention_hours=0):
            print("  " + r.summary())
        print(f"optimize: {time.perf_counter() - t0:.1f} s")
        after = _objects(s3, "fer-bench")
        print(f"objects after optimize (replaced files vacuumed at once): {after} = "
              f"{(after['data'] + after['log']) / args.sessions:.2f} per session")
        for k, v in _reads(central, "S000").items():
            print(f"  {k}: {v:.3f}")
        _review(central, "S000")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
