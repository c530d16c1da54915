"""Optimised inference paths compute the same thing as eager PyTorch, on real fixture faces."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fer_core.data import load_fer2013
from fer_core.detection import Box
from fer_core.labels import FER2013_CLASSES
from fer_core.model_zoo import shipped_models
from fer_core.modelfile import LoadedModel, load_model
from fer_core.nets import create_model, list_models
from fer_core.pipeline import FramePipeline
from fer_core.preprocess import Preprocess, predict_proba
from fer_core.runtime import (
    BACKENDS,
    DEFAULT_BACKEND,
    TOLERANCE,
    available_backends,
    optimize,
    optimize_or_eager,
)
from tests.core_data import FER_FIXTURE

FAST_BACKENDS = ["torchscript", "channels_last"]  # compile/onnxruntime: benchmarks only


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """21 real PublicTest fixture faces (48x48 uint8), 3 of each class."""
    fs = load_fer2013(FER_FIXTURE, "PublicTest", use_cache=False)
    idx = np.concatenate([np.flatnonzero(fs.labels == k)[:3] for k in range(7)])
    return fs.images[idx]


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread, as the benchmarks: two threads fight the shared cores' other jobs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model(arch: str, seed: int = 0) -> LoadedModel:
    """A registry net with seeded random weights and non-trivial BN statistics.

    Random BN running stats (instead of the 0/1 of a fresh net) make BN folding in the optimised
    path do real work, so a folding bug shows up as a difference.
    """
    torch.manual_seed(seed)
    net = create_model(arch)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    net.eval()
    return LoadedModel(net=net, arch=arch, arch_config={}, classes=FER2013_CLASSES,
                       preprocess=Preprocess(), name=arch)  # fmt: skip


def _models() -> list[tuple[str, LoadedModel]]:
    shipped = [(f"shipped:{n}", load_model(p)) for n, p in shipped_models().items()]
    return shipped + [(a, _model(a)) for a in ("fast", "paper")]


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("label_model", _models(), ids=lambda lm: lm[0])
def test_optimised_probabilities_match_eager_on_real_faces(
    faces: np.ndarray, backend: str, label_model: tuple[str, LoadedModel]
) -> None:
    _, model = label_model
    net = optimize(model, backend)
    for crops in ("ten", "center"):
        pre = dataclasses.replace(model.preprocess, test_crops=crops)
        ref = predict_proba(model.net, faces, pre)
        with torch.inference_mode():
            got = predict_proba(net, faces, pre, batch_size=7)
        assert got.shape == ref.shape == (len(faces), 7)
        assert np.abs(got - ref).max() <= TOLERANCE
        assert (got.argmax(1) == ref.argmax(1)).all()


@pytest.mark.parametrize("arch", list_models())
def test_torchscript_traces_every_registered_net_for_any_batch(arch: str) -> None:
    # traced at TRACE_BATCH (10); the pipeline calls it with 10 * faces crops and center crops
    model = _model(arch)
    net = optimize(model, "torchscript")
    for n in (1, 10, 30):
        x = torch.randn(n, 1, 44, 44)
        with torch.inference_mode():
            ref, got = model.net(x), net(x)
        assert got.shape == (n, 7)
        rel = (got - ref).abs().max() / ref.abs().max().clamp_min(1e-6)
        assert rel < 1e-4


def test_pipeline_defaults_to_the_optimised_path_with_equal_results() -> None:
    model = _model("fast", seed=3)
    face = cv2.imread(str(next((FER_FIXTURE / "test" / "happy").glob("*.jpg"))), 0)
    frame = np.full((480, 640), 120, np.uint8)
    frame[100:260, 200:360] = cv2.resize(face, (160, 160), interpolation=cv2.INTER_CUBIC)
    eager = FramePipeline(model, backend="eager")
    fast = FramePipeline(model)
    assert DEFAULT_BACKEND == "torchscript"
    assert isinstance(fast.net, torch.jit.ScriptModule)
    assert eager.net is model.net

    boxes = [Box(200, 100, 160, 160), Box(0, 0, 120, 90)]
    for tencrop in (True, False):
        eager.tencrop = fast.tencrop = tencrop
        ref = eager.classify(frame, boxes)
        got = fast.classify(frame, boxes)
        assert np.abs(got - ref).max() <= TOLERANCE


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown inference backend 'tensorrt'"):
        optimize(_model("fast"), "tensorrt")
    with pytest.raises(ValueError, match="unknown inference backend"):
        FramePipeline(_model("fast"), backend="tensorrt")


def test_unavailable_backend_falls_back_to_eager_in_the_pipeline(caplog) -> None:
    if "onnxruntime" in available_backends():
        pytest.skip("onnxruntime is installed here, so it cannot be shown to be unavailable")
    model = _model("fast")
    with pytest.raises(RuntimeError, match="onnxruntime"):
        optimize(model, "onnxruntime")
    with caplog.at_level("WARNING"):
        net = optimize_or_eager(model, "onnxruntime")
    assert net is model.net
    assert "onnxruntime unavailable" in caplog.text
    assert set(available_backends()) <= set(BACKENDS)
