"""``python -m fer_core list-models``: registered architectures and shipped model files."""

from __future__ import annotations

import argparse

NAME = "list-models"
HELP = "list registered architectures (with params and MACs) and shipped models"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-count", action="store_true", help="skip building nets to count MACs")


def run(args: argparse.Namespace) -> int:
    from fer_core.labels import FER2013_CLASSES
    from fer_core.models.architectures import (
        arch_info,
        count_macs,
        count_params,
        create_model,
        list_models,
    )
    from fer_core.models.file_format import load_model
    from fer_core.models.shipped import default_model_name, shipped_models

    print("Architectures:")
    for name in list_models():
        info = arch_info(name)
        if args.no_count:
            print(f"  {name:<14} {info.description}")
            continue
        net = create_model(name)
        print(
            f"  {name:<14} {count_params(net) / 1e6:6.2f} M params  "
            f"{count_macs(net) / 1e6:7.1f} MMAC/crop  {info.description}"
        )
    print("Shipped models:")
    default = default_model_name()
    models = shipped_models()
    if not models:
        print("  (none)")
    for name, path in models.items():
        mark = " (default)" if name == default else ""
        if tuple(load_model(path).classes) != FER2013_CLASSES:
            mark += " (CK+ classes: for evaluation on CK+, not the live pipeline)"
        print(f"  {name:<14} {path}{mark}")
    return 0
