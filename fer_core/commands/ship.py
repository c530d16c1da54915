"""``python -m fer_core ship``: put a trained run's model into models/ with a measured card."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "ship"
HELP = (
    "copy a run's model.pt into models/ (fp16 when accuracy allows), write its model card and "
    "its ONNX graph (the app's torch-free runtime)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", required=True, help="a run's model.pt")
    p.add_argument("--name", required=True, help="shipped model name, e.g. fast or paper")
    p.add_argument("--version", default="1.0")
    p.add_argument(
        "--data", required=True,
        help="FER2013 folder (PublicTest is scored) or, for a CK+ fold model, the CK+48 folder "
        "(the fold it did not train on is scored)",
    )  # fmt: skip
    p.add_argument("--out-dir", default=None, help="default: the models folder")
    p.add_argument("--train-command", required=True, help="the command that trained it")
    p.add_argument("--notes", default="", help="a paragraph for the card (status, caveats)")
    p.add_argument(
        "--robustness", action="store_true",
        help="score the shipped file under the camera-like perturbations for its card",
    )  # fmt: skip
    p.add_argument(
        "--ckplus-json", action="append", default=[],
        help="`evaluate --json` output of a 10-fold CK+ run (repeat for each protocol)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from fer_core.config import models_dir
    from fer_core.onnx_export import export_onnx
    from fer_core.shipping import ship_model

    ckplus = {}
    for path in args.ckplus_json:
        summary = json.loads(Path(path).read_text())
        if "fold_accuracies" not in summary:
            raise SystemExit(f"{path} is not a 10-fold `evaluate --json` output")
        ckplus[summary["protocol"]] = summary
    card = ship_model(
        Path(args.weights), args.name, args.version, Path(args.data),
        Path(args.out_dir) if args.out_dir else models_dir(),
        train_command=args.train_command, notes=args.notes, ckplus=ckplus or None,
        robustness=args.robustness,
    )  # fmt: skip
    out_dir = Path(args.out_dir) if args.out_dir else models_dir()
    onnx = export_onnx(out_dir / card["file"])
    test = card.get("publictest") or card["ckplus_test"]
    print(f"shipped {card['file']} ({card['precision']}): {card['test_set']} ten-crop "
          f"{test['accuracy']:.3f}%; ONNX graph {onnx.name}")  # fmt: skip
    return 0
