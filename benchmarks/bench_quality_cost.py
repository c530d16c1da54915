"""Benchmark: what recording quality adds to one live frame (budget: 0.3 ms).

Recording quality costs the live frame three things, each timed here on its own and then
together, as a median over many calls:

1. ``crop_light``: brightness and contrast of the frame's face crops (48x48 uint8), computed in
   :meth:`fer_core.pipeline.FramePipeline.process_many` from crops it has already cut;
2. the two extra float values of each face row in :meth:`SessionWriter.append` (validation, on
   the caller's thread): an append of a row with them minus an append of the same row without;
3. the live recorder's dropped-frame bookkeeping: two integer additions under the lock
   :meth:`LiveRecorder.process_image` already holds (the queued callback itself replaces
   streamlit-webrtc's own fallback coroutine, which did the same list handling).

The Arrow conversion of the two columns happens on the writer thread once a second, not in the
frame; it is reported per row for completeness. Run::

    .venv/bin/python benchmarks/bench_quality_cost.py [--faces 1] [--calls 20000]

Prints one JSON object (microseconds per frame).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from fer_core.bench.timing import machine_info
from fer_core.labels import FER2013_CLASSES
from fer_core.logstore import LogStore
from fer_core.logstore.rows import RowBuffer, row_template, validate_row
from fer_core.pipeline import crop_light

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _median_us(fn, calls: int, repeats: int = 7) -> float:
    """Median over ``repeats`` runs of the mean time of ``calls`` calls, microseconds."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - t0) / calls * 1e6)
    return float(np.median(runs))


def _row(i: int, with_light: bool) -> dict:
    row = {"timestamp": T0 + timedelta(milliseconds=i), "frame_index": i, "face_index": 0,
           "face_detected": True, "box_x": 10, "box_y": 20, "box_w": 120, "box_h": 120,
           "label": "happy", "confidence": 0.8,
           **{f"prob_{c}": 1 / 7 for c in FER2013_CLASSES}}
    if with_light:
        row.update(face_brightness=121.5, face_contrast=40.25)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=1, help="faces per frame")
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (args.faces, 48, 48), dtype=np.uint8)
    light_us = _median_us(lambda: crop_light(crops), args.calls)

    template = row_template({"model_name": "fast", "model_version": "1.0", "source": "webcam"})
    with_row, without_row = _row(0, True), _row(0, False)
    validate_with = _median_us(lambda: validate_row(with_row, template), args.calls)
    validate_without = _median_us(lambda: validate_row(without_row, template), args.calls)
    append_extra_us = max(validate_with - validate_without, 0.0) * args.faces

    with tempfile.TemporaryDirectory() as tmp:  # the real append (lock + buffer), for scale
        writer = LogStore(Path(tmp), fsync=False).open_session(
            "bench", "s", started_at=T0, flush_interval=3600)
        i = iter(range(10**9))
        append_us = _median_us(lambda: writer.append(_row(next(i), True)), args.calls // 4)
        writer._compact_on_close = False
        writer.close()

    class _Counts:
        received = dropped = 0

    noop = _Counts()
    bookkeeping_us = _median_us(lambda: (setattr(noop, "received", noop.received + 2),
                                         setattr(noop, "dropped", noop.dropped + 1)),
                                args.calls)

    buffers = {}
    for light in (True, False):
        buf = RowBuffer()
        for k in range(2000):
            buf.add(validate_row(_row(k, light), template))
        buffers[light] = buf
    to_table = {light: _median_us(buf.to_table, 5, 5) / 2000 for light, buf in buffers.items()}

    per_frame = light_us + append_extra_us + bookkeeping_us
    out = {
        "faces_per_frame": args.faces,
        "crop_light_us": round(light_us, 2),
        "append_extra_columns_us": round(append_extra_us, 2),
        "append_row_total_us": round(append_us, 2),
        "dropped_count_bookkeeping_us": round(bookkeeping_us, 3),
        "added_per_live_frame_us": round(per_frame, 2),
        "budget_us": 300.0,
        "writer_thread_to_table_extra_us_per_row": round(to_table[True] - to_table[False], 3),
        "machine": machine_info(1),
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
