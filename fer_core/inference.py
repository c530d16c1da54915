"""Classify 48x48 uint8 faces with a model, every setting read from its model file.

The per-frame path hands :func:`predict_faces` a :class:`~fer_core.classifier.Classifier` built once
per loaded model (runtime, spec with crops, device): nothing is rebuilt per call. Torch-free at
import; the torch-only helper (:func:`predict_faces_logits`, for calibration) imports it inside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fer_core.classifier import Classifier

if TYPE_CHECKING:
    from fer_core.models.file_format import LoadedModel


def predict_faces(
    model: Classifier | LoadedModel,
    images: np.ndarray,
    *,
    crops: str | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Class probabilities (N, classes) for uint8 faces (N, S, S) under the model's preprocessing.

    ``crops`` overrides the classifier's test-time crops (``"ten"``, ``"flip"`` or ``"center"``,
    see :data:`fer_core.preprocess.CROPS_PER_FACE`); ``None`` keeps them. A loaded ``.pt`` model
    (one-off scoring: cards, tests) is run eagerly through a classifier built for this call; the
    live path holds its classifier instead.
    """
    if not isinstance(model, Classifier):
        model = Classifier.from_model(model, "eager")
    if crops is not None:
        model = model.with_crops(crops)
    return model.predict(images, batch_size=batch_size)


def predict_faces_logits(
    model: LoadedModel, images: np.ndarray, *, crops: str | None = None, batch_size: int = 256
) -> np.ndarray:
    """Per-crop logits (N, k, classes) before the file's temperature: what calibration fits."""
    import dataclasses

    from fer_core.preprocess_torch import predict_crop_logits

    pre = model.preprocess if crops is None else dataclasses.replace(
        model.preprocess, test_crops=crops)  # fmt: skip
    device = next(model.net.parameters()).device
    return predict_crop_logits(model.net, images, pre, batch_size=batch_size, device=device)
