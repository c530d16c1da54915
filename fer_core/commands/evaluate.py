"""``python -m fer_core evaluate``: the seed's accuracy tables for a model file."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path

NAME = "evaluate"
HELP = "evaluate a model file on a FER2013 split or on CK+ folds (seed's per-class tables)"

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--weights",
        default=None,
        help="model file (default: the shipped default model); for CK+ a folder with "
        "fold01/model.pt ... fold10/model.pt evaluates all ten folds",
    )
    p.add_argument("--dataset", choices=["fer2013", "ckplus"], default="fer2013")
    p.add_argument("--data", required=True, help="FER2013 folder or fer2013.csv, or CK+48 folder")
    p.add_argument("--split", default="PublicTest", help="Training, PublicTest or PrivateTest")
    p.add_argument("--protocol", choices=["seed", "subject"], default="seed", help="CK+ folds")
    p.add_argument("--fold", type=int, default=0, help="CK+: evaluate one fold with one file")
    p.add_argument("--no-tencrop", action="store_true", help="centre crop instead of ten-crop")
    p.add_argument(
        "--crops",
        choices=("ten", "flip", "center"),  # fer_core.preprocess.TEST_CROPS (torch-free here)
        default=None,
        help="test-time crops: ten (the seed's protocol, default), flip (centre and mirror: the "
        "live pipeline's default) or center; wins over --no-tencrop",
    )
    p.add_argument(
        "--ensemble", nargs="+", default=None, metavar="MODEL",
        help="FER2013: evaluate the mean of these model files' calibrated probabilities "
        "(research use; instead of --weights)",
    )  # fmt: skip
    p.add_argument(
        "--perturb", action="store_true",
        help="FER2013: also score the split under camera-like perturbations (blur, low "
        "resolution, JPEG, noise, rotation, light, loose/tight boxes; fixed seeds) and print "
        "each accuracy and its drop from clean",
    )  # fmt: skip
    p.add_argument(
        "--near-duplicates", action="store_true",
        help="FER2013: also report accuracy apart for the faces with a near-duplicate in the "
        "Training split of --data (the same photograph, re-encoded, shifted or mirrored) and "
        "for the unseen rest",
    )  # fmt: skip
    p.add_argument(
        "--near-duplicate-threshold", type=float, default=None,
        help="thumbnail similarity from which two faces count as one photograph (default 0.94)",
    )  # fmt: skip
    p.add_argument("--perturb-seed", type=int, default=0, help="seed of the perturbations")
    p.add_argument(
        "--reliability", default=None,
        help="FER2013: write a reliability diagram (PNG) of the probabilities here",
    )  # fmt: skip
    p.add_argument("--json", default=None, help="write results as JSON here")
    p.add_argument(
        "--confusion",
        default=None,
        help="confusion-matrix PNG path (default: beside --json, or ./confusion.png)",
    )


def run(args: argparse.Namespace) -> int:
    from fer_core.data import load_ckplus, protocol_folds
    from fer_core.models.file_format import load_model
    from fer_core.models.shipped import resolve_model_path
    from fer_core.training.evaluate import FoldSummary, evaluate_faces, fold_model_paths
    from fer_core.training.metrics import save_confusion_png

    if args.dataset != "fer2013" and (
        args.ensemble or args.perturb or args.reliability or args.near_duplicates
    ):
        raise SystemExit(
            "--ensemble, --perturb, --reliability and --near-duplicates work on FER2013 splits"
        )
    crops = args.crops or ("center" if args.no_tencrop else "ten")
    weights = resolve_model_path(args.weights)
    png = (
        Path(args.confusion)
        if args.confusion
        else (Path(args.json).with_suffix(".png") if args.json else Path("confusion.png"))
    )
    if args.dataset == "fer2013":
        payload = _evaluate_fer2013(args, weights, crops, png)
    else:
        faces = load_ckplus(args.data)
        folds = protocol_folds(faces, args.protocol)
        if weights.is_dir():
            paths = fold_model_paths(weights, len(folds))
            results = []
            for k, (path, (_tr, te)) in enumerate(zip(paths, folds, strict=True), start=1):
                results.append(
                    evaluate_faces(
                        load_model(path),
                        faces.subset(te),
                        dataset="ckplus",
                        split=f"{args.protocol} fold {k}",
                        crops=crops,
                    )
                )
            summary = FoldSummary(args.protocol, results)
            print(summary.format())
            pooled = sum(r.confusion for r in results)
            save_confusion_png(
                pooled,
                faces.classes,
                png,
                f"CK+ {args.protocol} folds: {summary.mean:.2f}% +- {summary.sd:.2f}",
            )
            payload = summary.to_json()
            payload["model"] = results[0].model_name
        else:
            if not 1 <= args.fold <= len(folds):
                raise SystemExit(
                    "CK+ with one model file needs --fold 1..10 (the fold it did not train on), "
                    "or pass a folder of fold01..fold10 models to evaluate all folds"
                )
            _tr, te = folds[args.fold - 1]
            result = evaluate_faces(
                load_model(weights),
                faces.subset(te),
                dataset="ckplus",
                split=f"{args.protocol} fold {args.fold}",
                crops=crops,
            )
            print(result.format())
            save_confusion_png(
                result.confusion,
                result.classes,
                png,
                f"{result.model_name}: CK+ {result.split} {result.accuracy:.2f}%",
            )
            payload = result.to_json()
    log.info("confusion matrix written to %s", png)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return 0


def _evaluate_fer2013(args: argparse.Namespace, weights: Path, crops: str, png: Path) -> dict:
    """One FER2013 split: the table with ECE, optionally an ensemble, perturbations, a diagram."""
    from fer_core.calibration import save_reliability_png
    from fer_core.data import load_fer2013
    from fer_core.models.file_format import load_model
    from fer_core.robustness import format_robustness
    from fer_core.training.evaluate import evaluate_models, robustness_of
    from fer_core.training.metrics import save_confusion_png

    paths = [Path(p) for p in args.ensemble] if args.ensemble else [weights]
    models = [load_model(p) for p in paths]
    faces = load_fer2013(args.data, args.split)
    reference, threshold = _near_duplicate_reference(args) if args.near_duplicates else (None, 0)
    result, probs = evaluate_models(
        models, faces, dataset="fer2013", split=args.split, crops=crops
    )
    print(result.format())
    save_confusion_png(
        result.confusion,
        result.classes,
        png,
        f"{result.model_name}: FER2013 {args.split} {result.accuracy:.2f}%",
    )
    payload = result.to_json()
    if reference is not None:
        from fer_core.training.evaluate import split_by_near_duplicates

        parts = split_by_near_duplicates(
            result.model_name, probs, faces,
            reference, reference_name=f"FER2013 Training, {len(reference)} faces",
            threshold=threshold, dataset="fer2013", split=args.split, crops=crops,
            temperature=result.temperature,
        )  # fmt: skip
        print()
        print(parts.format())
        payload["near_duplicates"] = parts.to_json()
    if args.reliability:
        title = f"{result.model_name}: FER2013 {args.split}"
        label = f"T={result.temperature:.2f}, ECE {100 * result.ece:.2f}%"
        save_reliability_png({label: result.bins}, args.reliability, title)
        log.info("reliability diagram written to %s", args.reliability)
    if args.perturb:
        rows = robustness_of(models, faces, crops=crops, seed=args.perturb_seed)
        print()
        print(format_robustness(rows, f"Robustness on FER2013 {args.split} ({crops} crops, "
                                      f"seed {args.perturb_seed})"))  # fmt: skip
        payload["robustness"] = {
            "crops": crops,
            "seed": args.perturb_seed,
            "rows": [asdict(r) for r in rows],
        }
    return payload


def _near_duplicate_reference(args: argparse.Namespace):  # -> tuple[FaceSet, float]
    """(the Training split ``--near-duplicates`` compares the evaluated faces with, the threshold),
    checked before any model runs: a folder without Training (a PrivateTest-only copy) is a clear
    error."""
    from fer_core.data import DatasetError, load_fer2013
    from fer_core.data.near_duplicates import NEAR_DUPLICATE

    if args.split == "Training":
        raise SystemExit("--near-duplicates compares a test split with Training: "
                         "choose --split PublicTest or PrivateTest")  # fmt: skip
    threshold = args.near_duplicate_threshold
    if threshold is not None and not 0 < threshold <= 1:
        raise SystemExit(f"--near-duplicate-threshold must be in (0, 1], got {threshold}")
    try:
        reference = load_fer2013(args.data, "Training")
    except (DatasetError, FileNotFoundError) as exc:
        raise SystemExit(f"--near-duplicates needs the Training split in {args.data}: {exc}"
                         ) from exc  # fmt: skip
    return reference, NEAR_DUPLICATE if threshold is None else threshold
