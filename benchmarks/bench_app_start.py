"""Benchmark: how long the app takes to start, with the interpreter of a given venv.

Two figures, each the median of ``--repeats`` fresh processes:

* ``healthy_s``: ``streamlit run dashboard/serve.py`` (what ``make app`` runs) until
  ``/_stcore/health`` answers, on a free 127.0.0.1 port with a throw-away log store;
* ``model_ready_s``: a fresh Python importing the live path (pipeline, recorder, the WebRTC glue)
  and loading the default model the way the Record page does
  (:func:`fer_core.classifier.load_classifier`, which picks ONNX Runtime when the graph is
  shipped and PyTorch otherwise), i.e. the wait of the first visit to Record.

    python benchmarks/bench_app_start.py --python /tmp/appvenv/bin/python --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_LOAD = """
import time
t0 = time.perf_counter()
import fer_core.pipeline, fer_core.recording, dashboard.webrtc_glue
from fer_core.classifier import load_classifier
from fer_core.models.shipped import resolve_model_path
clf = load_classifier(resolve_model_path())
import sys
print(f"READY {time.perf_counter() - t0:.3f} {clf.runtime} {'torch' in sys.modules}")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy_s(python: str, timeout: float = 120.0) -> float:
    """Seconds from ``streamlit run`` to a healthy server."""
    port = _free_port()
    streamlit = str(Path(python).with_name("streamlit"))
    with tempfile.TemporaryDirectory() as logs:
        env = {**os.environ, "FER_LOG_ROOT": logs, "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [streamlit, "run", "dashboard/serve.py", "--server.address", "127.0.0.1",
             "--server.port", str(port), "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while time.perf_counter() - t0 < timeout:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                                timeout=1) as r:  # fmt: skip
                        if r.status == 200:
                            return time.perf_counter() - t0
                except OSError:
                    time.sleep(0.05)
            raise TimeoutError(f"not healthy after {timeout} s")
        finally:
            proc.terminate()
            proc.wait(30)


def model_ready(python: str) -> tuple[float, str, bool]:
    """Seconds to import the live path and load the default model; runtime; torch loaded?"""
    out = subprocess.run([python, "-c", _LOAD], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)  # fmt: skip
    _, secs, runtime, torch_loaded = out.stdout.split()[-4:]
    return float(secs), runtime, torch_loaded == "True"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", default=sys.executable, help="the venv's interpreter")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    health = [healthy_s(args.python) for _ in range(args.repeats)]
    loads = [model_ready(args.python) for _ in range(args.repeats)]
    result = {
        "python": args.python,
        "healthy_s": round(statistics.median(health), 2),
        "healthy_s_all": [round(x, 2) for x in health],
        "model_ready_s": round(statistics.median(x[0] for x in loads), 2),
        "model_ready_s_all": [round(x[0], 2) for x in loads],
        "runtime": loads[0][1],
        "torch_imported": loads[0][2],
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
