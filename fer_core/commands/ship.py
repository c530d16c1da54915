"""``python -m fer_core ship``: put a trained run's model into models/ with a measured card."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "ship"
HELP = "copy a run's model.pt into models/ (fp16 when accuracy allows) and write its model card"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", required=True, help="a run's model.pt")
    p.add_argument("--name", required=True, help="shipped model name, e.g. fast or paper")
    p.add_argument("--version", default="1.0")
    p.add_argument("--data", required=True, help="FER2013 folder (PublicTest is evaluated)")
    p.add_argument("--out-dir", default=None, help="default: the models folder")
    p.add_argument("--train-command", required=True, help="the command that trained it")
    p.add_argument("--notes", default="", help="a paragraph for the card (status, caveats)")
    p.add_argument("--ckplus-json", default=None, help="evaluate --json output of CK+ folds")


def run(args: argparse.Namespace) -> int:
    from fer_core.config import models_dir
    from fer_core.model_card import ship_model

    ckplus = json.loads(Path(args.ckplus_json).read_text()) if args.ckplus_json else None
    card = ship_model(
        Path(args.weights), args.name, args.version, Path(args.data),
        Path(args.out_dir) if args.out_dir else models_dir(),
        train_command=args.train_command, notes=args.notes, ckplus=ckplus,
    )  # fmt: skip
    print(f"shipped {card['file']} ({card['precision']}): PublicTest ten-crop "
          f"{card['publictest']['accuracy']:.3f}%")  # fmt: skip
    return 0
