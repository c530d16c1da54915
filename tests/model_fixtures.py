"""Models and faces shared by the inference-backend tests (shipped and benchmark-only)."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from fer_core.data import load_fer2013
from fer_core.labels import FER2013_CLASSES
from fer_core.models.architectures import create_model
from fer_core.models.compiled import TOLERANCE
from fer_core.models.file_format import LoadedModel, load_model
from fer_core.models.shipped import shipped_models
from fer_core.preprocess import Preprocess
from fer_core.preprocess_torch import predict_proba
from tests.core_data import FER_FIXTURE


def real_faces() -> np.ndarray:
    """21 real PublicTest fixture faces (48x48 uint8), 3 of each class."""
    fs = load_fer2013(FER_FIXTURE, "PublicTest", use_cache=False)
    idx = np.concatenate([np.flatnonzero(fs.labels == k)[:3] for k in range(7)])
    return fs.images[idx]


def random_bn_model(arch: str, seed: int = 0) -> LoadedModel:
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


def models_to_compare() -> list[tuple[str, LoadedModel]]:
    """Every shipped model file plus the fast and paper nets with random BN statistics."""
    shipped = [(f"shipped:{n}", load_model(p)) for n, p in shipped_models().items()]
    return shipped + [(a, random_bn_model(a)) for a in ("fast", "paper")]


def assert_matches_eager(net: torch.nn.Module, model: LoadedModel, faces: np.ndarray) -> None:
    """``net`` (an optimised copy of ``model.net``) gives eager's probabilities on ``faces``.

    Both test-crop modes, in batches of 7 so a batch boundary falls inside a face's ten crops;
    within ``TOLERANCE`` and with the same predicted class for every face.
    """
    for crops in ("ten", "center"):
        pre = dataclasses.replace(model.preprocess, test_crops=crops)
        ref = predict_proba(model.net, faces, pre)
        with torch.inference_mode():
            got = predict_proba(net, faces, pre, batch_size=7)
        assert got.shape == ref.shape == (len(faces), len(model.classes))
        assert np.abs(got - ref).max() <= TOLERANCE
        assert (got.argmax(1) == ref.argmax(1)).all()
