"""``python -m fer_core export-onnx``: write a model file's ONNX graph (the app's runtime)."""

from __future__ import annotations

import argparse

NAME = "export-onnx"
HELP = "write <model>.onnx beside a model file, so the app can run it without PyTorch"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", required=True, help="a model file (.pt)")
    p.add_argument("--out", default=None, help="default: beside the model file, .onnx")


def run(args: argparse.Namespace) -> int:
    from fer_core.onnx_export import export_onnx

    out = export_onnx(args.weights, args.out)
    print(f"wrote {out}")
    return 0
