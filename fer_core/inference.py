"""Classify 48x48 uint8 faces with a loaded model, every setting read from its model file."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from fer_core.preprocess import Preprocess, predict_crop_logits, predict_proba

if TYPE_CHECKING:
    from fer_core.models.file_format import LoadedModel


def predict_faces(
    model: LoadedModel,
    images: np.ndarray,
    *,
    crops: str | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Class probabilities (N, classes) for uint8 faces (N, S, S) under the model's preprocessing.

    ``crops`` overrides the file's ``test_crops`` (``"ten"``, ``"flip"`` or ``"center"``, see
    :data:`fer_core.preprocess.CROPS_PER_FACE`): the live pipeline trades a little accuracy for
    speed with it; ``None`` keeps what the model was evaluated with.
    """
    pre = _spec(model, crops)
    device = next(model.net.parameters()).device
    return predict_proba(model.net, images, pre, batch_size=batch_size, device=device)


def predict_faces_logits(
    model: LoadedModel, images: np.ndarray, *, crops: str | None = None, batch_size: int = 256
) -> np.ndarray:
    """Per-crop logits (N, k, classes) before the file's temperature: what calibration fits."""
    pre = _spec(model, crops)
    device = next(model.net.parameters()).device
    return predict_crop_logits(model.net, images, pre, batch_size=batch_size, device=device)


def _spec(model: LoadedModel, crops: str | None) -> Preprocess:
    pre = model.preprocess
    return pre if crops is None else dataclasses.replace(pre, test_crops=crops)
