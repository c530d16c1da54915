"""A model's preprocessing spec and the one function that turns uint8 faces into its input.

Why one place: a face must reach the network the same way in training batches, ``evaluate``,
``predict``, the live pipeline, ``analyze`` and the benchmarks. Three hand-written copies of
"divide by 255, subtract the mean, ten-crop" once drifted apart (one of them blurred, one did
not), so the spec now travels inside the model file (as timm's ``data_config`` does) and every
path goes through :func:`prepare_array` below (and, with torch, :mod:`fer_core.preprocess_torch`).

Why this module needs no torch: the app runs its networks with ONNX Runtime
(:mod:`fer_core.classifier`), so the spec, the pixel arithmetic, the test-time crops and the
temperature softmax are numpy here; the torch path (training, ``evaluate``, the benchmarks) feeds
the same :func:`prepare_array` output to its networks, so both paths see identical inputs.

Histogram equalisation is the default for FER2013 models: the distributed Training faces were
equalised (``cv2.equalizeHist``) before JPEG encoding while PublicTest/PrivateTest faces are raw,
so equalising every face gives the network one kind of input whatever the camera's exposure
(equalising an already equalised face changes it by about 0.1 gray level).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np

from fer_core.errors import FerError

#: test-time crops and how many forward passes each costs per face: the seed's ten-crop; the
#: centre crop and its mirror (the live default: a fifth of the work, PublicTest 68.93% against
#: ten-crop's 69.74% for the shipped ``fast`` v2.2, docs/recording.md); the centre crop alone
CROPS_PER_FACE = {"ten": 10, "flip": 2, "center": 1}
TEST_CROPS = tuple(CROPS_PER_FACE)


class PreprocessError(FerError, ValueError):
    """A preprocessing spec or an input batch that does not fit the model."""


@dataclass(frozen=True)
class Preprocess:
    """How uint8 faces become a network's input; saved in every model file.

    Attributes:
        equalize: histogram-equalise each face (``cv2.equalizeHist``) before anything else.
        input_size: side of the square uint8 face the model takes (48 for FER2013).
        crop_size: side of the crops the network sees (random crops in training, fixed at test).
        mean, std: normalisation of the [0, 1] pixel values, measured on the prepared training
            faces.
        test_crops: ``"ten"`` (four corners, centre and their mirrors, mean softmax: the seed's
            test transform), ``"flip"`` (the centre crop and its mirror, mean softmax) or
            ``"center"`` (one crop, ten times less work).
        temperature: every crop's logits are divided by it before the softmax. A network trained
            with label smoothing is not calibrated ("0.8" is not right 80% of the time); the
            temperature fitted on held-out Training faces (:mod:`fer_core.calibration`) makes the
            probabilities every path records honest. 1.0 (no change) for files made before it.
    """

    equalize: bool = True
    input_size: int = 48
    crop_size: int = 44
    mean: float = 0.5
    std: float = 0.25
    test_crops: str = "ten"
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.crop_size <= self.input_size:
            raise PreprocessError(
                f"crop_size {self.crop_size} must be in 1..input_size ({self.input_size})"
            )
        if not self.std > 0:
            raise PreprocessError(f"std must be positive, got {self.std}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise PreprocessError(f"temperature must be positive, got {self.temperature}")
        if self.test_crops not in TEST_CROPS:
            raise PreprocessError(
                f"test_crops must be one of {TEST_CROPS}, got {self.test_crops!r}"
            )

    @property
    def crops_per_face(self) -> int:
        """Forward passes per face at test time (10 ten-crop, 2 centre and mirror, 1 centre)."""
        return CROPS_PER_FACE[self.test_crops]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the model file (loads under ``torch.load(weights_only=True)``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocess:
        """Rebuild from a model file's dict; unknown keys are an error, not silently dropped."""
        if not isinstance(data, dict):
            raise PreprocessError(f"preprocess must be a dict, got {type(data).__name__}")
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise PreprocessError(f"unknown preprocess fields {unknown}; known: {sorted(known)}")
        try:
            return cls(
                equalize=bool(data.get("equalize", True)),
                input_size=int(data.get("input_size", 48)),
                crop_size=int(data.get("crop_size", 44)),
                mean=float(data.get("mean", 0.5)),
                std=float(data.get("std", 0.25)),
                test_crops=str(data.get("test_crops", "ten")),
                temperature=float(data.get("temperature", 1.0)),
            )
        except (TypeError, ValueError) as exc:
            raise PreprocessError(f"bad preprocess spec {data!r}: {exc}") from exc

    def with_stats(self, images: np.ndarray) -> Preprocess:
        """A copy whose mean/std are those of ``images`` after equalisation (training set)."""
        flat = _as_faces(images, self.input_size)
        if self.equalize:
            flat = equalize_faces(flat)
        x = flat.astype(np.float32) / 255.0
        return Preprocess(
            equalize=self.equalize,
            input_size=self.input_size,
            crop_size=self.crop_size,
            mean=float(x.mean()),
            std=float(x.std()),
            test_crops=self.test_crops,
            temperature=self.temperature,
        )


def equalize_faces(images: np.ndarray) -> np.ndarray:
    """Histogram-equalise each uint8 face of (N, H, W); returns a new array."""
    out = np.empty_like(images)
    for i, face in enumerate(images):
        out[i] = cv2.equalizeHist(np.ascontiguousarray(face))
    return out


def _as_faces(images: Any, size: int) -> np.ndarray:
    arr = np.asarray(images)  # a CPU torch tensor converts without a copy
    if arr.ndim == 2:
        arr = arr[None]
    if arr.dtype != np.uint8:
        raise PreprocessError(f"faces must be uint8 gray images, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1:] != (size, size):
        raise PreprocessError(
            f"faces must be (N, {size}, {size}) uint8 (resize crops to the model's input size "
            f"first), got shape {arr.shape}"
        )
    return arr


def prepare_array(images: Any, pre: Preprocess) -> np.ndarray:
    """uint8 faces (N, S, S) (or one (S, S) face) -> normalised float32 (N, 1, S, S).

    The single conversion from pixels to network input: equalisation (if the spec says so),
    scaling to [0, 1] and normalisation, in float32 (the torch path wraps this same array).
    Cropping happens after, randomly in training and by :func:`crop_array` at test time.
    """
    faces = _as_faces(images, pre.input_size)
    if pre.equalize:
        faces = equalize_faces(faces)
    x = faces.astype(np.float32)
    x /= np.float32(255.0)
    x -= np.float32(pre.mean)
    x /= np.float32(pre.std)
    return x[:, None]


def crop_offsets(size: int, crop: int) -> list[tuple[int, int]]:
    """Top-left (y, x) of the five crops: four corners then centre (torchvision's order)."""
    m = size - crop
    c = m // 2
    return [(0, 0), (0, m), (m, 0), (m, m), (c, c)]


def crop_array(x: np.ndarray, pre: Preprocess) -> np.ndarray:
    """Prepared (N, 1, S, S) -> contiguous (N * k, 1, c, c) test crops, k = ``pre.crops_per_face``.

    The order per face is :func:`fer_core.transforms.ten_crop`'s (corners, centre, then the
    same five mirrored) for ``"ten"``, centre then mirror for ``"flip"``.
    """
    n, ch, size = x.shape[0], x.shape[1], x.shape[-1]
    c = pre.crop_size
    m = (size - c) // 2
    if pre.test_crops == "ten":
        five = np.stack([x[..., y : y + c, xx : xx + c] for y, xx in crop_offsets(size, c)], 1)
        crops = np.concatenate([five, five[..., ::-1]], axis=1)
    elif pre.test_crops == "flip":
        centre = x[..., m : m + c, m : m + c]
        crops = np.stack([centre, centre[..., ::-1]], axis=1)
    else:
        crops = x[:, None, :, m : m + c, m : m + c]
    return np.ascontiguousarray(crops.reshape(n * pre.crops_per_face, ch, c, c))


def probs_from_logits_array(logits: np.ndarray, pre: Preprocess) -> np.ndarray:
    """(N * k, classes) logits -> (N, classes) float32 probabilities: the mean softmax of crops.

    Each crop's logits are divided by the spec's temperature first, so every path (live,
    ``analyze``, upload, ``evaluate``) records the same calibrated probabilities; the arithmetic
    is :func:`fer_core.preprocess_torch.probs_from_logits`'s, in float32.
    """
    z = logits.astype(np.float32) / np.float32(pre.temperature)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    probs = z / z.sum(axis=1, keepdims=True)
    return probs.reshape(-1, pre.crops_per_face, probs.shape[1]).mean(axis=1, dtype=np.float32)
