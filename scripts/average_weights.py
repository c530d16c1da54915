"""Average the weights of model files that are fine-tunes of one another (a research check).

Why: weight averaging across a cosine tail (issue 21's routes) only helps when the files lie in
one basin of the loss, as the default's versions do (v2.0 -> v2.1 -> v2.2 are fine-tunes). This
writes one model file whose floating-point tensors (batch-norm running statistics included) are
the mean of the inputs'; everything else (architecture, preprocessing, temperature, card meta)
is the last file's. Score it with ``python -m fer_core evaluate``; nothing here is selected or
shipped (docs/reproduction.md, session 18).

    git show 13ffb22:models/fast.pt > runs/avg/v21.pt
    .venv/bin/python scripts/average_weights.py --out runs/avg/a12.pt runs/avg/v21.pt models/fast.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core.models.file_format import load_model, write_payload


def average_model_files(files: list[Path]) -> dict:
    """Load each file and return the last one with its float tensors replaced by the mean.

    Files of another architecture or shape would average into nonsense, so they are refused.
    """
    for path in files:
        load_model(path)  # refuses anything that is not a loadable model file, with its message
    payloads = [torch.load(f, map_location="cpu", weights_only=True) for f in files]
    base = payloads[-1]
    for path, payload in zip(files, payloads, strict=True):
        if payload["arch"] != base["arch"] or payload["arch_config"] != base["arch_config"]:
            raise ValueError(f"{path}: another architecture than {files[-1]}")
        if payload["state_dict"].keys() != base["state_dict"].keys():
            raise ValueError(f"{path}: other tensors than {files[-1]}")
    averaged = {}
    for key, tensor in base["state_dict"].items():
        if tensor.is_floating_point():
            total = sum(p["state_dict"][key].float() for p in payloads)
            averaged[key] = (total / len(payloads)).to(tensor.dtype)
        else:
            averaged[key] = tensor
    base["state_dict"] = averaged
    return base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="model files of one architecture")
    parser.add_argument("--out", required=True, type=Path, help="the averaged model file")
    args = parser.parse_args(argv)
    if len(args.files) < 2:
        parser.error("average at least two files")
    write_payload(average_model_files(args.files), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
