"""The shipped inference backend computes what eager PyTorch does, and ships alone.

Equality is checked on real fixture faces; the isolation test makes sure the runtime path (live
pipeline, recorder, offline analysis, the dashboard's WebRTC glue) never loads the benchmark-only
backends of :mod:`fer_core.bench.backends`, the ``onnx`` package or torch's ONNX exporter (ONNX
Runtime itself is the app's runtime, :mod:`fer_core.classifier`; ``tests/test_onnx.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import fer_core.models.compiled as compiled
from fer_core.detection import Box
from fer_core.models.architectures import list_models
from fer_core.models.compiled import (
    BACKENDS,
    DEFAULT_BACKEND,
    TOLERANCE,
    optimize,
    optimize_or_eager,
)
from fer_core.models.file_format import LoadedModel
from fer_core.pipeline import FramePipeline
from tests.core_data import FER_FIXTURE
from tests.model_fixtures import (
    assert_matches_eager,
    models_to_compare,
    random_bn_model,
    real_faces,
)

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("private_cache", "one_torch_thread")


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return real_faces()


def test_only_the_reference_and_torchscript_ship() -> None:
    assert BACKENDS == ("eager", "torchscript")
    assert DEFAULT_BACKEND == "torchscript"


@pytest.mark.parametrize("label_model", models_to_compare(), ids=lambda lm: lm[0])
def test_torchscript_probabilities_match_eager_on_real_faces(
    faces: np.ndarray, label_model: tuple[str, LoadedModel]
) -> None:
    _, model = label_model
    net = optimize(model, "torchscript")
    assert isinstance(net, torch.jit.ScriptModule)
    assert_matches_eager(net, model, faces)


@pytest.mark.parametrize("arch", list_models())
def test_torchscript_traces_every_registered_net_for_any_batch(arch: str) -> None:
    # traced at TRACE_BATCH (10); the pipeline calls it with 10 * faces crops and center crops
    model = random_bn_model(arch)
    net = optimize(model, "torchscript")
    for n in (1, 10, 30):
        x = torch.randn(n, 1, 44, 44)
        with torch.inference_mode():
            ref, got = model.net(x), net(x)
        assert got.shape == (n, 7)
        rel = (got - ref).abs().max() / ref.abs().max().clamp_min(1e-6)
        assert rel < 1e-4


def test_pipeline_defaults_to_the_optimised_path_with_equal_results() -> None:
    model = random_bn_model("fast", seed=3)
    face = cv2.imread(str(next((FER_FIXTURE / "test" / "happy").glob("*.jpg"))), 0)
    frame = np.full((480, 640), 120, np.uint8)
    frame[100:260, 200:360] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
    eager = FramePipeline(model, backend="eager")
    fast = FramePipeline(model)
    assert isinstance(fast.net, torch.jit.ScriptModule)
    assert eager.net is model.net

    boxes = [Box(200, 100, 160, 160), Box(0, 0, 120, 90)]
    for crops in ("ten", "flip", "center"):
        eager.crops = fast.crops = crops
        ref = eager.classify(frame, boxes)
        got = fast.classify(frame, boxes)
        assert np.abs(got - ref).max() <= TOLERANCE


@pytest.mark.parametrize("backend", ["tensorrt", "channels_last", "onnxruntime", "compile"])
def test_a_backend_that_does_not_ship_is_a_clear_error(backend: str) -> None:
    # the benchmark-only contenders are not reachable from the pipeline
    with pytest.raises(ValueError, match=f"unknown inference backend '{backend}'"):
        optimize(random_bn_model("fast"), backend)
    with pytest.raises(ValueError, match="unknown inference backend"):
        FramePipeline(random_bn_model("fast"), backend=backend)


def test_a_net_that_cannot_be_traced_falls_back_to_eager_in_the_pipeline(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(net: torch.nn.Module, example: torch.Tensor) -> None:
        raise RuntimeError("cannot trace this")

    monkeypatch.setattr(compiled, "_torchscript", refuse)
    model = random_bn_model("fast")
    with pytest.raises(RuntimeError, match="cannot trace"):
        optimize(model, "torchscript")
    with caplog.at_level("WARNING"):
        assert optimize_or_eager(model) is model.net
        pipe = FramePipeline(model)
    assert pipe.net is model.net
    assert "inference backend torchscript unavailable (cannot trace this)" in caplog.text


#: Prints the loaded modules that belong to benchmark-only inference or to exporting: the
#: benchmark package (its backends module above all), the ONNX package and torch's exporter.
_REPORT = """
import sys
bad = sorted(m for m in sys.modules
             if m.startswith("fer_core.bench") or m.split(".")[0] == "onnx"
             or m == "torch.onnx" or m.startswith("torch.onnx."))
print("BENCH_ONLY=" + ",".join(bad))
"""

#: The runtime path: import every module of it, then build the live pipeline on the shipped
#: default model, with ONNX Runtime (the app) and with TorchScript, and run a frame through each
#: (lazy imports inside functions count too).
_RUNTIME_PATH = """
import numpy as np
import fer_core.analyze, fer_core.pipeline, fer_core.recording
import dashboard.webrtc_glue
from fer_core.classifier import load_classifier
from fer_core.models.file_format import load_model
from fer_core.models.shipped import resolve_model_path
for pipe in (fer_core.pipeline.FramePipeline(load_classifier(resolve_model_path())),
             fer_core.pipeline.FramePipeline(load_model(resolve_model_path()))):
    pipe.process(np.full((240, 320, 3), 120, np.uint8))
assert pipe.backend == "torchscript" and pipe.net is not pipe.model.net
"""


def _bench_only_modules(code: str, tmp_path: Path, extra_path: Path | None = None) -> list[str]:
    env_path = [str(ROOT)] + ([str(extra_path)] if extra_path else [])
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + _REPORT],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(env_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("BENCH_ONLY="))
    return [m for m in line.removeprefix("BENCH_ONLY=").split(",") if m]


@pytest.mark.subprocess
def test_runtime_path_does_not_import_benchmark_only_backends(tmp_path: Path) -> None:
    # the check itself can fail: with a stand-in onnx package importable, the benchmark's
    # backend listing loads it and the report names it
    fake = tmp_path / "fake_onnx"
    fake.mkdir()
    (fake / "onnx.py").write_text("")
    control = _bench_only_modules(
        "from fer_core.bench.backends import available_backends\n"
        "assert 'onnxruntime' in available_backends()\n",
        tmp_path, fake,
    )  # fmt: skip
    assert {"fer_core.bench.backends", "onnx"} <= set(control)

    # the same stand-in is importable here: nothing on the runtime path may reach for it
    assert _bench_only_modules(_RUNTIME_PATH, tmp_path, fake) == []
