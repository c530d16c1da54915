"""Turn `pip freeze` output into a lock file: exact pins that install on any machine.

`make lock` pipes a fresh environment's `pip freeze` through this filter. Two things in a raw
freeze would make the lock install only where it was made:

- local version labels (``torch==2.13.0+cpu`` from the CPU wheel on the development machines'
  disk, ``+cu130`` from PyPI's Linux build) name wheels that PyPI may not serve under that name;
  ``torch==2.13.0`` matches both, and pip still prefers the local CPU wheel where it lies;
- pip hides setuptools from a plain freeze, yet torch depends on it: `make lock` freezes with
  ``--all``, and only pip itself is left out (the Makefile pins it);
- PyPI's Linux torch wheels pull CUDA packages (``nvidia-*``, ``cuda-*``, ``triton``) that exist
  only for Linux: their pins carry the same ``platform_system == "Linux"`` marker that torch's
  own metadata puts on them, so a Mac or Windows install skips them.
"""

from __future__ import annotations

import argparse
import re
import sys

LINUX_ONLY = re.compile(r"^(nvidia-[\w.-]+|cuda-[\w.-]+|triton)$", re.IGNORECASE)
LINUX_MARKER = 'platform_system == "Linux"'
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;+]+)(?:\+\S+)?$")


class LockError(ValueError):
    """A freeze line that is not an exact pin (a URL, an editable or a VCS install)."""


def normalise(freeze: str, python: str, *, app: bool = False) -> str:
    """Return the lock file text for ``freeze`` (pip freeze output) made with Python ``python``.

    ``app``: the freeze of the app alone (``pip install .``: no torch, no test tools), which
    ``make app`` installs; otherwise the full set (``.[train,test]``) of ``make test`` and CI.
    """
    pins: list[tuple[str, str]] = []
    for number, raw in enumerate(freeze.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if match is None:
            raise LockError(f"line {number}: not an exact pin: {line!r}")
        name, version = match["name"].lower(), match["version"]
        if name == "pip":
            continue  # the Makefile pins pip itself, before it reads the lock
        marker = f"  ; {LINUX_MARKER}" if LINUX_ONLY.match(name) else ""
        pins.append((name, f"{name}=={version}{marker}"))
    if not pins:
        raise LockError("no pins in the freeze output")
    who = ("the app alone (`pip install .`, no torch): `make app` installs these" if app
           else "the app, the train and test extras: `make test` and CI install these")
    header = (
        f"# Exact pins for Python {python}, {who}.\n"
        "# Written by `make lock` (scripts/lockfile.py) from a fresh environment; do not edit.\n"
    )
    return header + "\n".join(line for _, line in sorted(pins)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the Python version, e.g. 3.13")
    parser.add_argument("--app", action="store_true", help="the app-only lock (lock/app/)")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(normalise(sys.stdin.read(), args.python, app=args.app))
    except LockError as exc:
        print(f"lockfile: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
