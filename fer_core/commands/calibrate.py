"""``python -m fer_core calibrate``: fit a model file's temperature on held-out Training faces."""

from __future__ import annotations

import argparse
import logging

NAME = "calibrate"
HELP = "fit a temperature on faces the model did not train on, and write a calibrated model file"

log = logging.getLogger(__name__)

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", required=True, help="model file to calibrate")
    p.add_argument("--data", required=True, help="FER2013 folder or fer2013.csv")
    p.add_argument("--out", required=True, help="calibrated model file to write")
    p.add_argument(
        "--holdout", type=float, default=None,
        help="fraction of Training held out (default: the one the model file records from "
        "`train --val-from-train`)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="seed of that hold-out")
    p.add_argument(
        "--allow-seen", action="store_true",
        help="the model trained on the whole Training split: fit on a part it has seen anyway "
        "(recorded in the file and its card as such)",
    )  # fmt: skip
    p.add_argument(
        "--crops", choices=("ten", "flip", "center"), default=None,
        help="test-time crops to fit under (default: the file's own, ten-crop)",
    )  # fmt: skip
    p.add_argument(
        "--objective", choices=("nll", "ece"), default="ece",
        help="what the temperature minimises on the hold-out: ece (the default: the gap between "
        "confidence and accuracy the dashboard's figures rely on; on three networks with a clean "
        "hold-out it gave PublicTest the lower ECE every time) or nll (Guo et al.)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from fer_core.calibration import (
        crop_softmax,
        expected_calibration_error,
        fit_temperature,
        fit_temperature_ece,
        negative_log_likelihood,
    )
    from fer_core.data import holdout_split, load_fer2013
    from fer_core.inference import predict_faces_logits
    from fer_core.models.file_format import load_model, with_temperature
    from fer_core.training.lineage import recorded_or_checked

    model = load_model(args.weights)
    recorded = model.meta.get("holdout") or {}
    fraction = args.holdout if args.holdout is not None else recorded.get("fraction")
    seed = args.seed if args.seed is not None else recorded.get("seed", 0)
    seen = not recorded or (fraction, seed) != (recorded.get("fraction"), recorded.get("seed"))
    if fraction is None:
        raise SystemExit(
            f"{args.weights} records no held-out part of Training (it was not trained with "
            "`--val-from-train`): pass --holdout F --allow-seen to fit on faces it has seen, or "
            "retrain with --val-from-train"
        )
    if seen and not args.allow_seen:
        raise SystemExit(
            f"{args.weights} trained on those Training faces ({fraction:.0%}, seed {seed} is not "
            f"its own hold-out {recorded or 'none'}): add --allow-seen to fit on them anyway"
        )
    # a teacher or the starting weights may have learned the hold-out even when the network never
    # trained on it (fer_core.training.lineage): the temperature would then over-sharpen
    seen_by = [] if seen else recorded_or_checked(model.meta)
    if seen_by and not args.allow_seen:
        raise SystemExit(
            f"{args.weights} never trained on its hold-out, but these files it learned from may "
            f"have: {', '.join(seen_by)} (trained without a hold-out covering it). A temperature "
            "fitted there is not honest: retrain them with the same --val-from-train and "
            "--holdout-seed, or add --allow-seen to fit anyway"
        )
    seen = seen or bool(seen_by)
    train = load_fer2013(args.data, "Training")
    held, _rest = holdout_split(train, fraction, seed)
    crops = args.crops or model.preprocess.test_crops
    logits = predict_faces_logits(model, held.images, crops=crops)
    fit = fit_temperature_ece if args.objective == "ece" else fit_temperature
    t = fit(logits, held.labels)
    before, after = crop_softmax(logits, 1.0), crop_softmax(logits, t)
    info = {
        "temperature": t,
        "fitted_on": f"FER2013 Training, {fraction:.0%} hold-out (seed {seed}), "
        f"{len(held)} faces, {crops} crops, minimising its {args.objective.upper()}",
        "objective": args.objective,
        "faces_seen_in_training": seen,
        "holdout_seen_by": seen_by,
        "nll_before": negative_log_likelihood(logits, held.labels, 1.0),
        "nll_after": negative_log_likelihood(logits, held.labels, t),
        "holdout_ece_before": expected_calibration_error(before, held.labels),
        "holdout_ece_after": expected_calibration_error(after, held.labels),
    }
    with_temperature(args.weights, args.out, t, info)
    # the app runs the ONNX graph beside a model file: one already there would now be stale
    # (fer_core.classifier refuses it), so it is exported again with the new temperature
    from fer_core.classifier import onnx_path_for

    if onnx_path_for(args.out).is_file() or onnx_path_for(args.weights).is_file():
        from fer_core.onnx_export import export_onnx

        export_onnx(args.out)
    print(f"temperature {t:.4f} ({args.objective.upper()} fit) fitted on {len(held)} held-out "
          "Training faces"
          f"{' (seen in training)' if seen else ''}: ECE there "
          f"{100 * info['holdout_ece_before']:.2f}% -> {100 * info['holdout_ece_after']:.2f}%, "
          f"NLL {info['nll_before']:.4f} -> {info['nll_after']:.4f}; wrote {args.out}")
    return 0
