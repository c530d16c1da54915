"""Benchmark plumbing: tiny smoke runs and the pure helpers. No timed assertions here.

The real benchmarks are ``python -m fer_core bench`` (docs/benchmarks.md); this file only proves
they run end to end on tiny inputs and that what they compute (ratios, miss counts, clips) is right.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fer_core.bench import report
from fer_core.bench.clip import iou, load_face_images, make_clip, match_counts
from fer_core.bench.frames import REFERENCE, DetectSetting, detection_sweep
from fer_core.bench.models import bench_models, registry_model
from fer_core.bench.seed_tables import SEED_TIMES, fer2013_workload, run_seed_tables
from fer_core.bench.timing import Stats, rotate
from fer_core.detection import Box
from fer_core.preprocess import Preprocess
from tests.core_data import FER_FIXTURE

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path / "no-models"))


def test_stats_and_rotation() -> None:
    s = Stats.of([3.0, 1.0, 2.0, 10.0])
    assert (s.min, s.median, s.max, s.n) == (1.0, 2.5, 10.0, 4)
    assert s.fmt(1) == "2.5 (1.0-10.0)"
    with pytest.raises(ValueError):
        Stats.of([])
    assert rotate(["a", "b", "c"], 1) == ["b", "c", "a"]
    assert rotate(["a", "b", "c"], 3) == ["a", "b", "c"]
    assert rotate([], 2) == []


_PEAK_PROBE = """
import json
import numpy as np
from fer_core.bench.timing import _status_kb, peak_rss_bytes, reset_peak_rss
reset_peak_rss()
block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, touched
with_block = _status_kb("VmRSS") * 1024
del block
after = _status_kb("VmRSS") * 1024
print(json.dumps({"with_block": with_block, "after": after, "peak": peak_rss_bytes()}))
"""


@pytest.mark.subprocess
def test_peak_rss_sees_a_large_allocation() -> None:
    # In a fresh process: inside a long test run, what an earlier test loaded (allocators, freed
    # arenas) decides whether a freed block leaves the resident set, and the check then says
    # nothing about peak_rss_bytes. Compared with the resident size while the block lives, not
    # with the size before it: the kernel may reclaim other pages meanwhile.
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PEAK_PROBE], capture_output=True, text=True,
                         check=True, timeout=120)  # fmt: skip
    m = json.loads(out.stdout)
    assert m["with_block"] - m["after"] >= 60 * 2**20  # the block was resident, and is gone now
    # the peak remembers it (the kernel updates its counters lazily: a few pages of slack)
    assert m["peak"] >= m["with_block"] - 4 * 2**20


def test_match_counts_by_hand() -> None:
    a, b, far = Box(0, 0, 10, 10), Box(1, 1, 10, 10), Box(50, 50, 10, 10)
    assert iou(a, a) == 1.0
    assert iou(a, far) == 0.0
    assert iou(a, b) == pytest.approx(81 / 119)
    # frame 1: found; frame 2: missed and one stray box; frame 3: two refs, one found
    ref = [[a], [a], [a, far]]
    got = [[b], [far], [far]]
    assert match_counts(ref, got) == (4, 2, 1)
    assert match_counts(ref, ref) == (4, 0, 0)


def test_clip_puts_real_faces_where_its_truth_says() -> None:
    faces = load_face_images(FER_FIXTURE)
    assert len(faces) >= 40
    clip = make_clip(faces, n_faces=3, width=320, height=240, frames=4)
    assert len(clip.frames) == len(clip.truth) == 4
    for frame, boxes in zip(clip.frames, clip.truth, strict=True):
        assert frame.shape == (240, 320, 3)
        assert len(boxes) == 3
        for b in boxes:
            assert b.x >= 0 and b.x + b.w <= 320 and b.y >= 0 and b.y + b.h <= 240
    # the faces move between frames, and an empty clip has no truth
    assert clip.truth[0][0] != clip.truth[3][0]
    assert make_clip(faces, n_faces=0, frames=2).truth == [[], []]
    with pytest.raises(FileNotFoundError, match="no face images"):
        load_face_images(ROOT / "docs")


def test_registry_stand_ins_until_a_model_file_is_shipped(tmp_path: Path, monkeypatch) -> None:
    names = [m.name for m in bench_models(("vgg19",))]
    assert names == ["fast", "paper", "vgg19"]
    # a shipped file replaces the stand-in of its name
    from fer_core.models.file_format import save_model

    m = registry_model("fast")
    models = tmp_path / "models"
    save_model(models / "fast.pt", m.net, arch="fast", arch_config={}, classes=m.classes,
               preprocess=Preprocess())  # fmt: skip
    monkeypatch.setenv("FER_MODELS_DIR", str(models))
    # a CK+ model cannot run the live pipeline, so the speed benchmarks leave it out
    ck = registry_model("fast")
    save_model(models / "ck.pt", ck.net, arch="fast", arch_config={}, preprocess=Preprocess(),
               classes=("anger", "disgust", "fear", "happy", "sadness", "surprise", "contempt"))
    found = {b.name: b.source for b in bench_models()}
    assert found["fast"].endswith("fast.pt")
    assert found["paper"].startswith("registry")
    assert "ck" not in found


def test_seed_tables_tiny_run_reports_ratios_of_the_same_work() -> None:
    work = fer2013_workload(FER_FIXTURE, 4, 4)
    # the fixture has no PrivateTest: disjoint PublicTest images stand in, so the work is the same
    assert work.sizes == (4, 4)
    first, second = work.tests.values()
    assert not set(first.names) & set(second.names)
    res = run_seed_tables([work], epochs=1, repeats=2, batch_size=4, progress=False)
    w = res["workloads"]["fer2013"]
    assert set(w["paper_over"]) == {"alexnet", "vgg19"}
    for other, r in w["paper_over"].items():
        for part in ("train", "test", "total"):
            assert r[part]["n"] == 2
            assert 0 < r[part]["min"] <= r[part]["median"] <= r[part]["max"]
        seed = SEED_TIMES["fer2013"]
        assert w["seed_paper_over"][other]["total"] == pytest.approx(
            seed["paper"]["total"] / seed[other]["total"]
        )
    assert w["seed_paper_over"]["vgg19"]["total"] == pytest.approx(0.605, abs=0.001)
    assert "paper / vgg19" in report.seed_md(res)
    with pytest.raises(ValueError, match="paper"):
        run_seed_tables([work], archs=("alexnet", "vgg19"), repeats=1, progress=False)


def test_detection_sweep_reference_misses_nothing_against_itself() -> None:
    faces = load_face_images(FER_FIXTURE)
    clip = make_clip(faces, n_faces=1, frames=3)
    res = detection_sweep(
        {"fast": registry_model("fast")}, clip, [DetectSetting(0.5, 2)], repeats=1,
        progress=False,
    )  # fmt: skip
    rows = {(r["scale"], r["every"]): r for r in res["rows"]}
    assert (REFERENCE.scale, REFERENCE.every) in rows  # added when not asked for
    ref = rows[(1.0, 1)]
    assert ref["missed"] == 0 and ref["extra_boxes"] == 0
    assert ref["speedup_vs_reference"]["median"] == 1.0
    assert 0 <= rows[(0.5, 2)]["missed_rate"] <= 1
    assert "missed vs reference" in report.sweep_md(res)


@pytest.mark.subprocess
def test_bench_command_smoke_writes_every_part(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fer_core", "bench", "--smoke", "--models", "fast",
         "--datasets", "fer2013", "--fer-data", str(FER_FIXTURE), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,  # every part, on a shared machine
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    for heading in ("## Seed timing tables", "## Inference", "## Frame pipeline",
                    "## Live frame path", "## Offline analysis", "## Scaling"):
        assert heading in proc.stdout
    res = json.loads(out.read_text())
    assert res["command"].startswith("python -m fer_core bench --smoke")
    assert res["machine"]["torch_threads"] == 1
    inf = {(r["model"], r["backend"]): r for r in res["inference"]["rows"]}
    assert inf[("fast", "eager")]["b1_tencrop_time_vs_eager"]["median"] == 1.0
    assert ("fast", "torchscript") in inf
    grid = res["frames"]["faces_640x480"]["rows"]
    assert {r["faces"] for r in grid} == {0, 1, 3}
    assert all(r["faces_found_per_frame"] == 0 for r in grid if r["faces"] == 0)
    assert {(r["width"], r["height"]) for r in res["scaling"]["rows"]} == {(320, 240), (640, 480)}
    live = res["live"]["rows"]
    assert live[0]["setting"] == res["live"]["baseline"] and {r["faces"] for r in live} == {1, 3}
    assert live[0]["time_vs_first"]["median"] == 1.0
    offline = res["offline"]["rows"]
    assert offline[0]["time_vs_first"]["median"] == 1.0
    assert all(r["x_real_time"]["median"] > 0 for r in offline)


@pytest.mark.subprocess
def test_bench_command_bad_data_path_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fer_core", "bench", "seed", "--smoke", "--datasets", "fer2013",
         "--fer-data", str(tmp_path / "missing"), "--out", str(tmp_path / "r.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "FER2013 path does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r.json").exists()
