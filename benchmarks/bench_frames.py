"""Benchmark: `python -m fer_core bench frames` (see docs/benchmarks.md for results and options).

Thin wrapper so benchmarks/ lists every benchmark; the measurement code lives in
:mod:`fer_core.bench`. Example (what docs/benchmarks.md ran)::

    .venv/bin/python benchmarks/bench_frames.py --out benchmarks/results/frames.json

Any `python -m fer_core bench` option works (`--threads`, `--repeats`, `--smoke`, ...).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fer_core.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "frames", *sys.argv[1:]]))
