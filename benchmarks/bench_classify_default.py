"""Benchmark: classifying one face (ten-crop) with the shipped default vs a previous default.

Why: issue 12 requires the new default to classify a face no slower than `fast` v0.2 did, and
issue 21 no slower than `fast` v1.0. Without ``--baseline`` v0.2 is rebuilt from the registry with
its architecture (`fast`, width 32, blocks (1, 1, 1)): weights do not change speed. With
``--baseline FILE`` that model file (e.g. v1.0 taken from git history) is the baseline. Both are
timed in the same process, interleaved, through the live pipeline's own call
(:meth:`FramePipeline.classify`: resize, equalise, ten crops, one TorchScript forward pass, mean
softmax). Reports medians and the per-repeat ratio.

    .venv/bin/python benchmarks/bench_classify_default.py --threads 2 --repeats 7
    git show 92dc47f:models/fast.pt > /tmp/fast-v1.0.pt
    .venv/bin/python benchmarks/bench_classify_default.py --baseline /tmp/fast-v1.0.pt \
        --baseline-label "fast v1.0"
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np
import torch

from fer_core.detection import Box
from fer_core.labels import FER2013_CLASSES
from fer_core.models.architectures import count_macs, create_model
from fer_core.models.file_format import LoadedModel, load_model
from fer_core.models.shipped import resolve_model_path
from fer_core.pipeline import FramePipeline

FACE = Path(__file__).resolve().parent.parent / "tests/fixtures/fer2013/test/happy"


def _previous_default(shipped: LoadedModel) -> LoadedModel:
    net = create_model("fast", num_classes=7, width=32, blocks=(1, 1, 1)).eval()
    return LoadedModel(net=net, arch="fast", arch_config={"width": 32}, classes=FER2013_CLASSES,
                       preprocess=shipped.preprocess, name="fast v0.2 architecture")  # fmt: skip


def _time_calls(pipeline: FramePipeline, gray: np.ndarray, boxes: list[Box], calls: int) -> float:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        pipeline.classify(gray, boxes)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--calls", type=int, default=50, help="timed calls per repeat")
    p.add_argument("--out", type=Path)
    p.add_argument("--baseline", type=Path, help="model file to compare with (default: v0.2)")
    p.add_argument("--baseline-label", default=None, help="its name in the report")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    shipped = load_model(resolve_model_path(None))
    previous = load_model(args.baseline) if args.baseline else _previous_default(shipped)
    label = args.baseline_label or (args.baseline.stem if args.baseline else "v0.2")
    face = cv2.imread(str(sorted(FACE.iterdir())[0]), cv2.IMREAD_GRAYSCALE)
    gray = cv2.resize(face, (160, 160))  # a face crop as the detector hands it over
    boxes = [Box(0, 0, 160, 160)]
    pipes = {"shipped": FramePipeline(shipped), label: FramePipeline(previous)}
    for pipe in pipes.values():  # warm-up: TorchScript's first calls optimise the graph
        _time_calls(pipe, gray, boxes, 10)
    runs: dict[str, list[float]] = {k: [] for k in pipes}
    for _ in range(args.repeats):
        for name, pipe in pipes.items():
            runs[name].append(_time_calls(pipe, gray, boxes, args.calls))
    ratios = [a / b for a, b in zip(runs["shipped"], runs[label], strict=True)]
    result = {
        "command": " ".join(sys.argv),
        "threads": args.threads,
        "shipped": {"arch_config": shipped.arch_config, "macs_per_crop": count_macs(shipped.net),
                    "median_ms": statistics.median(runs["shipped"]), "runs_ms": runs["shipped"]},
        label: {"arch_config": previous.arch_config, "macs_per_crop": count_macs(previous.net),
                 "median_ms": statistics.median(runs[label]), "runs_ms": runs[label]},
        "ratio_shipped_over_baseline": {"baseline": label, "min": min(ratios),
                                        "median": statistics.median(ratios), "max": max(ratios)},
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
