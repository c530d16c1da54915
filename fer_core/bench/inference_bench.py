"""Per-face latency, batch-64 throughput and peak memory, eager vs optimised backends.

The backends are those of :mod:`fer_core.bench.backends`: the shipped TorchScript path and the
contenders it was chosen over.

One "face" is a 48x48 uint8 crop; the measured call is
:func:`fer_core.preprocess_torch.predict_proba` (normalise, ten-crop or centre crop,
forward, softmax), i.e. the
classification half of a frame.
Real fixture faces are used as input (content does not change speed, but it keeps the inputs
honest). For each repeat every backend of a model runs back to back in rotated order, and each
backend's time is divided by eager's from the same repeat.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fer_core.bench.backends import build
from fer_core.bench.models import BenchModel
from fer_core.bench.timing import Stats, median_time, peak_rss_bytes, reset_peak_rss, rotate
from fer_core.models.file_format import LoadedModel
from fer_core.preprocess import Preprocess
from fer_core.preprocess_torch import predict_proba

log = logging.getLogger(__name__)

#: (name, batch of faces, ten-crop?, timed calls per repeat)
CASES: tuple[tuple[str, int, bool, int], ...] = (
    ("b1_tencrop", 1, True, 20),
    ("b1_single", 1, False, 40),
    ("b64_single", 64, False, 4),
    ("b64_tencrop", 64, True, 2),
)


def _cases(large_batch: int) -> list[tuple[str, int, bool, int]]:
    """CASES with the large batch resized (the smoke run uses a tiny one, keeping the names)."""
    return [(name, large_batch if b > 1 else b, t, c) for name, b, t, c in CASES]


def _faces(pool: np.ndarray, n: int) -> np.ndarray:
    reps = -(-n // len(pool))
    return np.concatenate([pool] * reps)[:n]


def inference_bench(
    models: Sequence[BenchModel],
    faces: np.ndarray,
    *,
    backends: Sequence[str] = ("eager", "torchscript", "channels_last"),
    repeats: int = 3,
    scale_calls: float = 1.0,
    large_batch: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Latency/throughput per (model, backend, case) and peak memory of batch-64 ten-crop."""
    if backends[0] != "eager":
        raise ValueError("the first backend is the baseline and must be 'eager'")
    nets: dict[tuple[str, str], Any] = {}
    build_s: dict[tuple[str, str], float] = {}
    skipped: dict[str, str] = {}
    for bm in models:
        for b in backends:
            t0 = time.perf_counter()
            try:
                nets[(bm.name, b)] = build(bm.model, b)
            except Exception as exc:  # a backend that cannot run here is reported, not fatal
                skipped[b] = f"{type(exc).__name__}: {exc}"
                log.warning("backend %s skipped for %s: %s", b, bm.name, exc)
                continue
            build_s[(bm.name, b)] = time.perf_counter() - t0
    used = [b for b in backends if b not in skipped]
    times: dict[tuple[str, str, str], list[float]] = {}
    bar = tqdm(total=repeats * len(models) * len(used), desc="inference", disable=not progress)
    for r in range(repeats):
        for bm in models:
            for b in rotate(used, r):
                net, m = nets[(bm.name, b)], bm.model
                for case, batch, tencrop, calls in _cases(large_batch):
                    x = _faces(faces, batch)

                    def call(net=net, m=m, x=x, tencrop=tencrop) -> None:
                        predict_proba(net, x, _crops(m, tencrop), batch_size=256)

                    # first-call cost (oneDNN primitive creation, JIT profiling) is excluded
                    t = median_time(call, max(int(calls * scale_calls), 1), warmup=2)
                    times.setdefault((bm.name, b, case), []).append(t)
                bar.update(1)
    bar.close()
    memory = _peak_memory(models, nets, used, faces, large_batch)
    rows = []
    for bm in models:
        for b in used:
            row: dict[str, Any] = {
                "model": bm.name,
                "source": bm.source,
                "backend": b,
                "build_s": round(build_s[(bm.name, b)], 2),
            }
            for case, batch, _t, _c in _cases(large_batch):
                ts = times[(bm.name, b, case)]
                base = times[(bm.name, "eager", case)]
                row[f"{case}_ms"] = Stats.of([1000 * t for t in ts]).as_dict()
                row[f"{case}_faces_per_s"] = Stats.of([batch / t for t in ts]).as_dict()
                row[f"{case}_time_vs_eager"] = Stats.of(
                    [t / e for t, e in zip(ts, base, strict=True)]
                ).as_dict()
            row.update(memory[(bm.name, b)])
            rows.append(row)
    return {"backends": used, "skipped_backends": skipped, "cases": [c[0] for c in CASES],
            "rows": rows}  # fmt: skip


def _peak_memory(
    models: Sequence[BenchModel],
    nets: dict,
    backends: Sequence[str],
    faces: np.ndarray,
    batch: int = 64,
) -> dict[tuple[str, str], dict[str, float]]:
    """Peak RSS while classifying 64 faces with ten crops (the largest batch we run).

    Reported as the rise above the RSS just before the call (activations and workspace; the
    weights are already resident) and the process peak, in MiB. ``clear_refs`` resets the kernel's
    peak counter per measurement; without it the figures are upper bounds.
    """
    out: dict[tuple[str, str], dict[str, float]] = {}
    x = _faces(faces, batch)
    for bm in models:
        for b in backends:
            net, m = nets[(bm.name, b)], bm.model
            predict_proba(net, x, _crops(m, True))
            exact = reset_peak_rss()
            before = peak_rss_bytes()
            with torch.inference_mode():
                predict_proba(net, x, _crops(m, True), batch_size=256)
            peak = peak_rss_bytes()
            out[(bm.name, b)] = {
                "peak_rise_mib": round((peak - before) / 2**20, 1),
                "peak_rss_mib": round(peak / 2**20, 1),
                "peak_exact": exact,
            }
    return out


def _crops(model: LoadedModel, tencrop: bool) -> Preprocess:
    """The model's own preprocessing with ten-crop or centre crop, as the case being timed."""
    return dataclasses.replace(model.preprocess, test_crops="ten" if tencrop else "center")
