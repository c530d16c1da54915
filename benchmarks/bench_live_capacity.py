"""Capacity of one app server: 1, 2, 4 and 8 simultaneous live recordings (issue 22, item 5).

Not browsers: each stream is the app's own ``LiveRecorder`` (dashboard/webrtc_glue.py, the
object the Record page's WebRTC callback calls) fed at camera rate by a thread standing in for
a camera: a 640x480 frame with one real face every 1/fps s into a one-frame mailbox, the newest
frame replacing an unprocessed one (counted as dropped), as streamlit-webrtc's receiver does
when processing falls behind. A processing thread per stream takes the newest frame and runs
``process_image`` (detect, classify, log to a real local store). Reported per stream: frames
processed per second, frames dropped, and latency (frame made -> processed, median and p95).
Fairness: the slowest stream's fps over the mean.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_live_capacity.py --streams 1 2 4 8 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

CONSENT = {"given": True, "text": "consent text shown", "at": "2026-11-27T10:00:00+00:00"}
FACE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "fer2013" / "test" / "happy"


def run_streams(n: int, seconds: float, fps: float, model, frame, root: Path) -> list[dict]:
    from dashboard.webrtc_glue import LiveRecorder, RecordSettings
    from fer_core.logstore import LogStore

    stop = threading.Event()
    results = []

    def stream(i: int) -> None:
        rec = LiveRecorder(model, LogStore(root, fsync=False))
        rec.arm(RecordSettings(subject=f"S{i}", consent=CONSENT))
        mailbox: list = [None]
        lock = threading.Condition()
        made = dropped = 0
        latencies: list[float] = []
        processed = 0

        def camera() -> None:
            nonlocal made, dropped
            t_next = time.monotonic()
            while not stop.is_set():
                with lock:
                    if mailbox[0] is not None:
                        dropped += 1
                    mailbox[0] = time.monotonic()
                    made += 1
                    lock.notify()
                t_next += 1 / fps
                time.sleep(max(0.0, t_next - time.monotonic()))

        cam = threading.Thread(target=camera, daemon=True)
        cam.start()
        t0 = time.monotonic()
        while not stop.is_set():
            with lock:
                while mailbox[0] is None and not stop.is_set():
                    lock.wait(0.1)
                stamp, mailbox[0] = mailbox[0], None
            if stamp is None:
                continue
            rec.process_image(frame.copy(), time.monotonic() - t0)
            latencies.append(time.monotonic() - stamp)
            processed += 1
        elapsed = time.monotonic() - t0
        cam.join()
        rec.finish()
        lat = sorted(latencies) or [float("nan")]
        results.append({"stream": i, "fps": processed / elapsed, "processed": processed,
                        "made": made, "dropped": dropped,
                        "latency_ms_median": 1000 * statistics.median(lat),
                        "latency_ms_p95": 1000 * lat[int(0.95 * (len(lat) - 1))]})

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sorted(results, key=lambda r: r["stream"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from fer_core.models.file_format import load_model
    from fer_core.models.shipped import resolve_model_path
    from tests.core_data import detectable_face_frame

    print(f"torch threads: {torch.get_num_threads()}")
    model = load_model(resolve_model_path(None))
    frame = detectable_face_frame(FACE)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.streams:
            rows = run_streams(n, args.seconds, args.fps, model, frame, Path(tmp) / f"n{n}")
            fps = [r["fps"] for r in rows]
            mean = statistics.mean(fps)
            print(f"{n} stream(s): total {sum(fps):.1f} frames/s, mean {mean:.1f}, "
                  f"min/mean {min(fps) / mean:.2f}")
            for r in rows:
                print(f"  stream {r['stream']}: {r['fps']:.1f} fps, processed {r['processed']}"
                      f" of {r['made']}, dropped {r['dropped']}, latency median "
                      f"{r['latency_ms_median']:.0f} ms, p95 {r['latency_ms_p95']:.0f} ms")
            out[n] = rows
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
