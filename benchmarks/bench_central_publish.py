"""Where one publish's time goes as the central tables fill up (issue 22's scale fix).

Publishes ``--sessions`` synthetic sessions (``--rows`` each, ``--subjects`` subjects, written
locally with ``install_session``) one by one to moto's S3 server on 127.0.0.1, and prints for
every ``--every`` publishes the mean seconds of a whole publish and of its three central reads
and writes: the frames count (is the session there already?), the published sessions row (is
it up to date?), and the sessions-table merge. A flat line means a publish costs the same for
the 1,000th session as for the 10th; a rising one means each publish scans what came before.

    PYTHONPATH=.:benchmarks .venv/bin/python benchmarks/bench_central_publish.py \\
        --sessions 200 --rows 1000 --subjects 50
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from bench_central_scale import _server
from bench_logstore import _session_table

PHASES = ("_frames_count", "_published_row", "_merge_row")


def _timed(spent: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - t0
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--subjects", type=int, default=50)
    ap.add_argument("--every", type=int, default=25)
    args = ap.parse_args()
    import boto3

    proc, endpoint = _server()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench-secret",
                      AWS_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint, AWS_ALLOW_HTTP="true")
    try:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="fer-bench")
        from fer_core.central import publish, resolve_central
        from fer_core.logstore import LogStore
        from fer_core.logstore.export import install_session
        from fer_core.logstore.meta import SessionMeta

        spent: dict[str, float] = defaultdict(float)
        for name in PHASES:
            setattr(publish, name, _timed(spent, name, getattr(publish, name)))
        central = resolve_central("s3://fer-bench/study", "bench")
        rng = np.random.default_rng(7)
        with tempfile.TemporaryDirectory() as tmp:
            store = LogStore(Path(tmp) / "logs", fsync=False)
            pairs = []
            for i in range(args.sessions):
                subject, session = f"S{i % args.subjects:03d}", f"x{i:05d}"
                start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i)
                meta = SessionMeta(subject, session, started_at=start,
                                   ended_at=start + timedelta(seconds=args.rows / 30),
                                   model_name="fast", model_version="1.0", synthetic=True,
                                   source="webcam")
                install_session(store, meta, _session_table(rng, args.rows, start))
                pairs.append((subject, session))
            print(f"{args.sessions} sessions x {args.rows} rows, {args.subjects} subjects; "
                  "mean seconds per publish over each block:")
            print("published | publish | frames count | sessions row | merge | load")
            total = 0.0
            for n, (subject, session) in enumerate(pairs, 1):
                t0 = time.perf_counter()
                result = publish.publish_session(store, central, subject, session)
                total += time.perf_counter() - t0
                assert result.action == "published", result.summary()
                if n % args.every == 0:
                    block = [spent[p] / args.every for p in PHASES]
                    print(f"{n} | {total / args.every:.3f} | "
                          + " | ".join(f"{v:.3f}" for v in block)
                          + f" | {os.getloadavg()[0]:.1f}", flush=True)
                    spent.clear()
                    total = 0.0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
