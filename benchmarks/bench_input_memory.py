"""Peak memory of ``analyze`` on giant images and of ``logs import`` on hostile ZIPs (issue 23).

Run from the repo root::

    .venv/bin/python benchmarks/bench_input_memory.py     # ~1 min, writes ~1.2 GB of scratch

Every case runs the real CLI in a fresh Python process; its peak resident memory is that
process's ``VmHWM`` from ``/proc/self/status``, read when it exits (the whole process, model and
libraries included). Not ``ru_maxrss``: Linux carries a process's high-water mark across
``fork``/``exec``, so a child of this (large) benchmark process would report the parent's size.
The limits to meet: ``analyze`` of any single image under 600 MB, any import under 400 MB.

Cases (inputs generated in a temporary folder, deleted afterwards):

* ``analyze 640x480 face`` -- the reference: a committed FER2013 face on a 640x480 frame;
* ``analyze 10000x10000 PNG`` -- that frame upscaled 4x on a 10000x10000 gray canvas;
* ``analyze 12000x12000 PNG`` -- a 12000x12000 canvas compressed to a few hundred KB;
* ``import 1 GiB-zeros ZIP`` -- a ~1 MB export ZIP whose data.parquet is 1 GiB of zeros;
* ``import PAR1 + 1 GiB zeros`` -- the same with Parquet's magic bytes first (copied to the
  scratch file, then refused from its footer);
* ``import valid export`` -- a real export of 200,000 synthetic rows, for comparison.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fer_core.detection import FaceDetector  # noqa: E402
from fer_core.logstore import LogStore  # noqa: E402
from fer_core.logstore.synthetic import synthetic_rows  # noqa: E402
from fer_core.video_fixture import compose_face_frame  # noqa: E402

FACE = REPO / "tests" / "fixtures" / "fer2013" / "test" / "happy"
GIB = 1 << 30
#: Runs ``python -m fer_core ARGS`` in this process and prints its VmHWM when it exits.
PEAK = (
    "import atexit, runpy, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM'):\n"
    "            sys.stderr.write(f'PEAK_KB {line.split()[1]}\\n')\n"
    "atexit.register(peak)\n"
    "sys.argv = ['fer_core', *sys.argv[1:]]\n"
    "runpy.run_module('fer_core', run_name='__main__', alter_sys=True)\n"
)


def face_frame() -> np.ndarray:
    detector = FaceDetector()
    for path in sorted(FACE.glob("*.jpg")):
        frame = compose_face_frame(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
        if len(detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))) == 1:
            return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    raise SystemExit(f"Haar finds none of the faces in {FACE}")


def canvas(face: np.ndarray, side: int, upscale: int) -> np.ndarray:
    big = cv2.resize(face, (face.shape[1] * upscale, face.shape[0] * upscale),
                     interpolation=cv2.INTER_CUBIC)
    out = np.full((side, side), 128, np.uint8)
    y0, x0 = (side - big.shape[0]) // 2, (side - big.shape[1]) // 2
    out[y0:y0 + big.shape[0], x0:x0 + big.shape[1]] = big
    return out


def zeros_zip(good: bytes, head: bytes) -> bytes:
    """``good`` with data.parquet replaced by ``head`` + zeros, 1 GiB in all, streamed in."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, \
            zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            if name != "data.parquet":
                out.writestr(name, src.read(name))
        with out.open("data.parquet", "w", force_zip64=True) as fh:
            fh.write(head)
            block = b"\0" * (1 << 24)
            left = GIB - len(head)
            while left > 0:
                fh.write(block[:left])
                left -= len(block)
    return buf.getvalue()


def run(args: list[str]) -> dict:
    """``python -m fer_core ARGS`` in a fresh process: exit status, seconds, peak RSS (MB)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PEAK, *args], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=1200)
    peaks = [int(ln.split()[1]) for ln in done.stderr.splitlines() if ln.startswith("PEAK_KB")]
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and "PEAK_KB" not in ln]
    return {"exit": done.returncode, "seconds": round(time.perf_counter() - t0, 1),
            "peak_rss_mb": round(peaks[-1] / 1024) if peaks else None,
            "last_line": lines[-1] if lines else "", "traceback": "Traceback" in done.stderr}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "input-memory.json"))
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-input-") as tmp:
        tmp = Path(tmp)
        face = face_frame()
        inputs = {
            "analyze 640x480 face": (face, [cv2.IMWRITE_PNG_COMPRESSION, 3]),
            "analyze 10000x10000 PNG": (canvas(face, 10_000, 4), [cv2.IMWRITE_PNG_COMPRESSION, 1]),
            "analyze 12000x12000 PNG": (canvas(face, 12_000, 1), [cv2.IMWRITE_PNG_COMPRESSION, 9]),
        }
        for i, (case, (image, params)) in enumerate(inputs.items()):
            path = tmp / f"image{i}.png"
            cv2.imwrite(str(path), image, params)
            del image
            size = path.stat().st_size
            res = run(["analyze", str(path), "--subject", "B", "--root", str(tmp / f"logs{i}"),
                       "--no-progress"])
            results.append({"case": case, "input_bytes": size, **res})
            print(results[-1], flush=True)
        inputs.clear()

        src = LogStore(tmp / "src")
        t0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
        with src.open_session("P001", "s1", started_at=t0) as w:
            w.append_many(synthetic_rows(30, t0))
        good = src.export("zip")
        with src.open_session("P002", "big", started_at=t0) as w:
            w.append_many(synthetic_rows(200_000, t0))
        valid = src.export("zip", "P002")
        zips = {
            "import 1 GiB-zeros ZIP": zeros_zip(good, b""),
            "import PAR1 + 1 GiB zeros": zeros_zip(good, b"PAR1"),
            "import valid export (200,000 rows)": valid,
        }
        for i, (case, data) in enumerate(zips.items()):
            path = tmp / f"import{i}.zip"
            path.write_bytes(data)
            res = run(["logs", "--root", str(tmp / f"into{i}"), "import", str(path)])
            results.append({"case": case, "input_bytes": len(data), **res})
            print(results[-1], flush=True)
    report = {
        "command": "python benchmarks/bench_input_memory.py",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print("\n| case | input | exit | peak RSS | seconds |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['case']} | {r['input_bytes'] / 1e6:.2f} MB | {r['exit']} | "
              f"{r['peak_rss_mb']} MB | {r['seconds']} |")


if __name__ == "__main__":
    main()
