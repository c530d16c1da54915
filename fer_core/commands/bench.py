"""``python -m fer_core bench``: the seed's timing tables, inference, frame pipeline, scaling.

Each part times its contenders side by side in this one process and reports per-repeat ratios
(min / median / max), because the machine is shared and absolute times drift. Results print as
Markdown (the tables of docs/benchmarks.md) and, with ``--out``, are saved as JSON together with
the machine description and the exact command line.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

NAME = "bench"
HELP = "benchmark: seed timing tables, inference backends, frame pipeline, scaling"
PARTS = ("seed", "inference", "frames", "live", "offline", "scaling")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("parts", nargs="*", choices=[*PARTS, "all"], default="all",
                   help="what to run (default: all)")  # fmt: skip
    p.add_argument("--threads", type=int, default=1,
                   help="torch and OpenCV threads (default 1: the machine is shared)")  # fmt: skip
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats (default 3)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes, 1 repeat: checks the plumbing in seconds")  # fmt: skip
    p.add_argument("--out", type=Path, help="write results (JSON) here")
    g = p.add_argument_group("seed tables")
    g.add_argument("--datasets", nargs="+", choices=["ckplus", "fer2013"],
                   default=["ckplus", "fer2013"])  # fmt: skip
    g.add_argument("--fer-data", type=Path, help="FER2013 folder (default $FER_DATA_DIR/fer2013)")
    g.add_argument("--ck-data", type=Path, help="CK+48 folder (default $FER_DATA_DIR/ck+48)")
    g.add_argument("--ck-train", type=int, default=128, help="CK+ fold-1 train images")
    g.add_argument("--ck-test", type=int, default=14, help="CK+ fold-1 test images")
    g.add_argument("--fer-train", type=int, default=128, help="FER2013 Training images")
    g.add_argument(
        "--fer-test",
        type=int,
        default=32,
        help="FER2013 test images, split between PublicTest and PrivateTest",
    )
    g.add_argument("--epochs", type=int, default=1, help="epochs timed (scaled to the seed's 5)")
    g.add_argument("--batch-size", type=int, default=128, help="the seed's batch size")
    g.add_argument("--full", action="store_true",
                   help="the seed's full protocol sizes and 5 epochs (for a GPU)")  # fmt: skip
    g = p.add_argument_group("inference and frames")
    g.add_argument("--backends", nargs="+",
                   help="inference: any of fer_core.bench.backends (default: eager torchscript "
                   "channels_last, plus onnxruntime when installed); frames: the shipped eager "
                   "and torchscript (default: both)")  # fmt: skip
    g.add_argument(
        "--models",
        nargs="+",
        help="time only these models (names of shipped models or registry nets)",
    )
    g.add_argument("--archs", nargs="*", default=[],
                   help="registry nets to time besides the shipped/expected models")  # fmt: skip
    g.add_argument(
        "--faces-dir",
        type=Path,
        help="face images for inputs and clips (default tests/fixtures/fer2013)",
    )
    g.add_argument("--frames", type=int, default=60, help="frames per generated clip")
    g.add_argument("--crops", choices=("ten", "flip", "center"), default=None,
                   help="frames/scaling: test-time crops per face (default: the live "
                        "pipeline's, fer_core.pipeline.DEFAULT_SETTINGS)")


def run(args: argparse.Namespace) -> int:
    import cv2
    import torch

    from fer_core.bench.timing import machine_info
    from fer_core.config import PROJECT_ROOT

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    chosen = [args.parts] if isinstance(args.parts, str) else args.parts  # argparse default
    parts = PARTS if "all" in chosen else tuple(dict.fromkeys(chosen))
    faces_dir = args.faces_dir or PROJECT_ROOT / "tests" / "fixtures" / "fer2013"
    repeats = 1 if args.smoke else args.repeats
    results: dict = {
        "command": "python -m fer_core " + shlex.join(sys.argv[1:]) if sys.argv else "",
        "machine": machine_info(args.threads),
    }
    markdown: list[str] = []
    from fer_core.bench import report

    markdown.append(report.machine_md(results["machine"]))
    if "seed" in parts:
        results["seed"] = _seed(args, repeats)
        markdown += ["## Seed timing tables", report.seed_md(results["seed"])]
    if "inference" in parts:
        results["inference"] = _inference(args, repeats, faces_dir)
        markdown += ["## Inference", report.inference_md(results["inference"])]
    if "frames" in parts:
        results["frames"] = _frames(args, repeats, faces_dir)
        markdown += [
            "## Frame pipeline",
            report.grid_md(results["frames"]["faces_640x480"]),
            report.sweep_md(results["frames"]["detector_settings"]),
        ]
    if "live" in parts:
        results["live"] = _live(args, repeats, faces_dir)
        markdown += ["## Live frame path", report.live_md(results["live"])]
    if "offline" in parts:
        results["offline"] = _offline(args, repeats, faces_dir)
        markdown += ["## Offline analysis", report.offline_md(results["offline"])]
    if "scaling" in parts:
        results["scaling"] = _scaling(args, repeats, faces_dir)
        markdown += ["## Scaling", report.grid_md(results["scaling"])]
    print("\n\n".join(markdown))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, default=str))
        print(f"\nresults written to {args.out}")
    return 0


def _seed(args: argparse.Namespace, repeats: int) -> dict:
    import torch

    from fer_core.bench.seed_tables import (
        SEED_EPOCHS,
        ckplus_workload,
        fer2013_workload,
        run_seed_tables,
    )
    from fer_core.config import data_dir

    full = args.full
    smoke = args.smoke
    work = []
    if "ckplus" in args.datasets:
        ck = args.ck_data or data_dir() / "ck+48"
        n_tr, n_te = (None, None) if full else (8, 4) if smoke else (args.ck_train, args.ck_test)
        work.append(ckplus_workload(ck, n_tr, n_te))
    if "fer2013" in args.datasets:
        fer = args.fer_data or data_dir() / "fer2013"
        n_tr, n_te = (None, None) if full else (8, 4) if smoke else (args.fer_train, args.fer_test)
        work.append(fer2013_workload(fer, n_tr, n_te))
    epochs = SEED_EPOCHS if full else args.epochs
    batch = 4 if smoke else args.batch_size
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return run_seed_tables(work, epochs=epochs, repeats=repeats, batch_size=batch, device=device)


def _inference(args: argparse.Namespace, repeats: int, faces_dir: Path) -> dict:
    import numpy as np

    from fer_core.bench.backends import available_backends
    from fer_core.bench.clip import load_face_images
    from fer_core.bench.inference_bench import inference_bench
    from fer_core.bench.models import bench_models

    backends = args.backends or [
        b for b in available_backends() if b in ("eager", "torchscript", "channels_last",
                                                  "onnxruntime")
    ]  # fmt: skip
    faces = np.stack([_to48(f) for f in load_face_images(faces_dir)])
    models = _select(bench_models(tuple(args.archs)), args.models)
    return inference_bench(
        models,
        faces,
        backends=backends,
        repeats=repeats,
        scale_calls=0.1 if args.smoke else 1,
        large_batch=4 if args.smoke else 64,
    )


def _select(models: list, names: list[str] | None) -> list:
    """The benchmark models named in ``--models`` (all when not given)."""
    if not names:
        return models
    from fer_core.bench.models import BenchModel, registry_model

    by_name = {m.name: m for m in models}
    return [
        by_name.get(n) or BenchModel(n, registry_model(n), "registry (untrained)") for n in names
    ]


def _to48(face):
    import cv2

    return face if face.shape == (48, 48) else cv2.resize(face, (48, 48))


def _frames(args: argparse.Namespace, repeats: int, faces_dir: Path) -> dict:
    from fer_core.bench.clip import load_face_images, make_clip
    from fer_core.bench.frames import DEFAULT_SETTINGS, detection_sweep, frame_grid
    from fer_core.bench.models import bench_models

    faces = load_face_images(faces_dir)
    n = 3 if args.smoke else args.frames
    models = {m.name: m.model for m in _select(bench_models(tuple(args.archs)), args.models)}
    clips = [make_clip(faces, n_faces=k, frames=max(n // 2, 2)) for k in (0, 1, 3)]
    backends = args.backends or ["eager", "torchscript"]
    crops = crop_choice(args)
    grid = frame_grid(models, clips, backends=backends, repeats=repeats, crops=crops)
    settings = DEFAULT_SETTINGS[:2] if args.smoke else DEFAULT_SETTINGS
    one_face = make_clip(faces, n_faces=1, frames=n)
    sweep = detection_sweep(models, one_face, settings, repeats=repeats, crops=crops)
    return {"faces_640x480": grid, "detector_settings": sweep}


def crop_choice(args: argparse.Namespace) -> str:
    """``--crops``, or the live pipeline's default crops."""
    from fer_core.pipeline import DEFAULT_SETTINGS

    return args.crops or DEFAULT_SETTINGS.crops


def _live(args: argparse.Namespace, repeats: int, faces_dir: Path) -> dict:
    from fer_core.bench.clip import load_face_images, make_clip
    from fer_core.bench.frames import live_comparison
    from fer_core.bench.models import bench_models

    faces = load_face_images(faces_dir)
    n = 2 if args.smoke else args.frames
    models = _select(bench_models(tuple(args.archs)), args.models or ["fast"])
    clips = [make_clip(faces, n_faces=1, frames=n), make_clip(faces, n_faces=3, frames=n // 2)]
    return live_comparison(models[0].model, clips, repeats=repeats)


def _offline(args: argparse.Namespace, repeats: int, faces_dir: Path) -> dict:
    from fer_core.bench.clip import load_face_images, make_clip
    from fer_core.bench.models import bench_models
    from fer_core.bench.offline import offline_comparison

    faces = load_face_images(faces_dir)
    n = 2 if args.smoke else args.frames
    models = _select(bench_models(tuple(args.archs)), args.models or ["fast"])
    clip = make_clip(faces, n_faces=1, frames=n)
    return offline_comparison(models[0].model, clip, repeats=repeats, progress=not args.smoke)


def _scaling(args: argparse.Namespace, repeats: int, faces_dir: Path) -> dict:
    from fer_core.bench.clip import load_face_images, make_clip
    from fer_core.bench.frames import frame_grid
    from fer_core.bench.models import bench_models
    from fer_core.models.shipped import DEFAULT_MODEL

    faces = load_face_images(faces_dir)
    sizes = [(320, 240), (640, 480)] if args.smoke else [
        (320, 240), (640, 480), (1280, 720), (1920, 1080)
    ]  # fmt: skip
    counts = (0, 1) if args.smoke else (0, 1, 3)
    n = 2 if args.smoke else max(args.frames // 3, 4)
    clips = [make_clip(faces, n_faces=k, width=w, height=h, frames=n)
             for w, h in sizes for k in counts]  # fmt: skip
    default = next(m for m in bench_models() if m.name == DEFAULT_MODEL or m.model.arch == "fast")
    return frame_grid({default.name: default.model}, clips, backends=["torchscript"],
                      repeats=repeats, crops=crop_choice(args))  # fmt: skip
