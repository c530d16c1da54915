"""Benchmark-only inference backends compute what eager PyTorch does, on real fixture faces.

They are not shipped (see :mod:`fer_core.bench.backends`), but ``bench inference`` compares them
with the shipped TorchScript path, and a timing is only worth reporting for the same function.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from fer_core.bench.backends import BACKENDS, available_backends, build
from fer_core.models import compiled
from fer_core.models.file_format import LoadedModel
from tests.model_fixtures import (
    assert_matches_eager,
    models_to_compare,
    random_bn_model,
    real_faces,
)

pytestmark = pytest.mark.usefixtures("private_cache", "one_torch_thread")


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return real_faces()


@pytest.mark.parametrize("label_model", models_to_compare(), ids=lambda lm: lm[0])
def test_channels_last_probabilities_match_eager_on_real_faces(
    faces: np.ndarray, label_model: tuple[str, LoadedModel]
) -> None:
    # compile: timed by the benchmark only (it needs a C++ compiler)
    _, model = label_model
    net = build(model, "channels_last")
    assert_matches_eager(net, model, faces)


def test_the_shipped_backends_come_from_the_shipped_module() -> None:
    assert BACKENDS[: len(compiled.BACKENDS)] == compiled.BACKENDS
    model = random_bn_model("fast")
    assert build(model, "eager") is model.net
    assert isinstance(build(model, "torchscript"), torch.jit.ScriptModule)
    with pytest.raises(ValueError, match="unknown inference backend 'tensorrt'"):
        build(model, "tensorrt")


@pytest.mark.parametrize("label_model", models_to_compare(), ids=lambda lm: lm[0])
def test_onnxruntime_probabilities_match_eager_on_real_faces(
    faces: np.ndarray, label_model: tuple[str, LoadedModel]
) -> None:
    # ONNX Runtime is a core dependency since the app runs it (issue 20)
    _, model = label_model
    assert_matches_eager(build(model, "onnxruntime"), model, faces)


def test_onnxruntime_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "onnxruntime" in available_backends()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # an import of it now fails
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert "onnxruntime" not in available_backends()
    with pytest.raises(RuntimeError, match="onnxruntime"):
        build(random_bn_model("fast"), "onnxruntime")
    assert set(available_backends()) <= set(BACKENDS)
