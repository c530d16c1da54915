"""Benchmark: the live classify step with ONNX Runtime (the app) vs TorchScript, in one process.

Why: issue 20 moves the app to ONNX Runtime so it installs without torch, on the condition that
classifying is no slower than the TorchScript backend it replaces. Both classifiers are loaded
from the shipped default model (:func:`fer_core.classifier.load_classifier`) and timed through
the pipeline's own call (:meth:`FramePipeline.classify`: crop, resize, equalise, the test-time
crops, one forward pass, temperature softmax), interleaved repeat by repeat so a busy machine
slows both alike. Reports per-call medians and the per-repeat ratio ONNX Runtime / TorchScript.

    .venv/bin/python benchmarks/bench_classifier_runtimes.py --threads 2 --repeats 7
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np
import torch

from benchmarks.bench_classify_default import _time_calls
from fer_core.classifier import load_classifier
from fer_core.detection import Box
from fer_core.models.shipped import resolve_model_path
from fer_core.pipeline import FramePipeline

FACE = Path(__file__).resolve().parent.parent / "tests/fixtures/fer2013/test/happy"
RUNTIMES = ("onnxruntime", "torchscript")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--calls", type=int, default=50, help="timed calls per repeat")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    path = resolve_model_path()
    face = cv2.imread(str(sorted(FACE.glob("*.jpg"))[0]), cv2.IMREAD_GRAYSCALE)
    gray = np.full((480, 640), 120, np.uint8)
    boxes = [Box(20 + 155 * i, 100, 140, 140) for i in range(4)]
    for b in boxes:
        gray[b.y : b.y + b.h, b.x : b.x + b.w] = cv2.resize(face, (b.w, b.h))
    cases = [(crops, n) for crops in ("flip", "ten") for n in (1, 4)]
    pipes = {}
    for runtime in RUNTIMES:
        clf = load_classifier(path, runtime=runtime)
        assert clf.runtime == runtime, clf.runtime
        pipes[runtime] = FramePipeline(clf)
    results = []
    for crops, n in cases:
        for pipe in pipes.values():
            pipe.crops = crops
            _time_calls(pipe, gray, boxes[:n], 10)  # warm-up
        ms: dict[str, list[float]] = {r: [] for r in RUNTIMES}
        for rep in range(args.repeats):
            order = RUNTIMES if rep % 2 == 0 else RUNTIMES[::-1]
            for runtime in order:
                ms[runtime].append(_time_calls(pipes[runtime], gray, boxes[:n], args.calls))
        ratio = [o / t for o, t in zip(ms["onnxruntime"], ms["torchscript"], strict=True)]
        row = {
            "crops": crops, "faces": n,
            **{f"{r}_ms": round(statistics.median(ms[r]), 3) for r in RUNTIMES},
            "ratio_median": round(statistics.median(ratio), 3),
            "ratio_per_repeat": [round(x, 3) for x in ratio],
        }  # fmt: skip
        results.append(row)
        print(f"{crops:>4} crops, {n} face(s): ONNX Runtime {row['onnxruntime_ms']:.2f} ms, "
              f"TorchScript {row['torchscript_ms']:.2f} ms, ratio {row['ratio_median']:.2f}")
    if args.out:
        args.out.write_text(json.dumps({
            "command": " ".join(["benchmarks/bench_classifier_runtimes.py", *sys.argv[1:]]),
            "model": str(path.name), "threads": args.threads, "repeats": args.repeats,
            "calls": args.calls, "python": platform.python_version(),
            "torch": torch.__version__, "onnxruntime": __import__("onnxruntime").__version__,
            "machine": platform.machine(), "results": results,
        }, indent=2) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
