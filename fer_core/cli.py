"""Command line: ``python -m fer_core <command>``.

The CLI only parses arguments and calls library functions. Each command lives in its own module
under :mod:`fer_core.commands` exposing ``NAME``, ``HELP`` and ``add_arguments(parser)`` plus
``run(args) -> int``; this file discovers them, so adding a command never touches shared code.
Command modules import heavy libraries (torch, cv2) inside ``run`` only, keeping ``--help`` instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
from collections.abc import Sequence

from fer_core import __version__, commands
from fer_core.errors import FerError

log = logging.getLogger("fer_core")

#: Packages of the ``train`` extra: commands that need them fail with a one-line hint without them
TRAIN_ONLY = ("torch", "onnx")


def _command_modules() -> list:
    modules = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            modules.append(module)
    return modules


def command_names() -> list[str]:
    """Names of every discovered command, sorted (for docs and tests)."""
    return sorted(module.NAME for module in _command_modules())


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one subparser per command module."""
    parser = argparse.ArgumentParser(
        prog="python -m fer_core",
        description="Facial-expression recognition and monitoring: train, evaluate, analyse, "
        "benchmark and manage the expression log store.",
    )
    parser.add_argument("--version", action="version", version=f"fer_core {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except (FerError, FileNotFoundError) as exc:
        log.error("%s", exc)
        return 2
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in TRAIN_ONLY:
            raise
        # the app installs without torch (pip install .): say what to install, no traceback
        log.error("`%s` needs %s, which the app install leaves out: pip install '.[train]' "
                  "(or make test)", args.command, missing)  # fmt: skip
        return 2
