"""Plausible synthetic rows, for tests, benchmarks and demo data (marked ``source="synthetic"``).

Why in the library: the tests, the benchmark and the dashboard's demo mode all need rows that look
like the pipeline's (a face most of the time, probabilities summing to 1, occasional no-face
frames) without a camera or a model.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from fer_core.labels import FER2013_CLASSES
from fer_core.logstore.schema import PROB_COLUMNS


def synthetic_rows(
    n_frames: int,
    start: datetime | None = None,
    *,
    fps: float = 30.0,
    first_frame: int = 0,
    no_face_every: int = 10,
    seed: int = 0,
    model_name: str = "synthetic",
    model_version: str = "0",
    source: str = "synthetic",
) -> Iterator[dict[str, Any]]:
    """Yield one row per frame; every ``no_face_every``-th frame has no face."""
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n_frames, len(PROB_COLUMNS))).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    boxes = rng.integers(0, 400, size=(n_frames, 4))
    for i in range(n_frames):
        frame = first_frame + i
        ts = start + timedelta(milliseconds=int(1000 * frame / fps))
        common = {"timestamp": ts, "frame_index": frame, "model_name": model_name,
                  "model_version": model_version, "source": source}
        if no_face_every and frame % no_face_every == no_face_every - 1:
            yield {**common, "face_index": -1, "face_detected": False}
            continue
        p = probs[i]
        k = int(p.argmax())
        row = {**common, "face_index": 0, "face_detected": True,
               "box_x": int(boxes[i, 0]), "box_y": int(boxes[i, 1]),
               "box_w": int(boxes[i, 2]) + 20, "box_h": int(boxes[i, 3]) + 20,
               "label": FER2013_CLASSES[k], "confidence": float(p[k])}
        row.update({c: float(v) for c, v in zip(PROB_COLUMNS, p, strict=True)})
        yield row
