"""A model's preprocessing spec and the one function that turns uint8 faces into its input.

Why one place: a face must reach the network the same way in training batches, ``evaluate``,
``predict``, the live pipeline, ``analyze`` and the benchmarks. Three hand-written copies of
"divide by 255, subtract the mean, ten-crop" once drifted apart (one of them blurred, one did
not), so the spec now travels inside the model file (as timm's ``data_config`` does) and every
path calls :func:`prepare_faces` and :func:`predict_proba` below.

Histogram equalisation is the default for FER2013 models: the distributed Training faces were
equalised (``cv2.equalizeHist``) before JPEG encoding while PublicTest/PrivateTest faces are raw,
so equalising every face gives the network one kind of input whatever the camera's exposure
(equalising an already equalised face changes it by about 0.1 gray level).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from fer_core.errors import FerError
from fer_core.transforms import center_crop, ten_crop

#: test-time crops and how many forward passes each costs per face: the seed's ten-crop; the
#: centre crop and its mirror (the live default: a fifth of the work, PublicTest 69.27% against
#: ten-crop's 69.57% for the shipped ``fast``, docs/benchmarks.md); the centre crop alone
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


def _as_faces(images: np.ndarray | torch.Tensor, size: int) -> np.ndarray:
    arr = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
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


def prepare_faces(images: np.ndarray | torch.Tensor, pre: Preprocess) -> torch.Tensor:
    """uint8 faces (N, S, S) (or one (S, S) face) -> normalised float32 (N, 1, S, S).

    The single conversion from pixels to network input: equalisation (if the spec says so),
    scaling to [0, 1] and normalisation. Cropping happens after, randomly in training
    (:mod:`fer_core.transforms`) and by :func:`test_crops` at test time.
    """
    faces = _as_faces(images, pre.input_size)
    if pre.equalize:
        faces = equalize_faces(faces)
    x = torch.from_numpy(np.ascontiguousarray(faces)).float()
    return x.div_(255.0).sub_(pre.mean).div_(pre.std).unsqueeze(1)


def test_crops(x: torch.Tensor, pre: Preprocess) -> torch.Tensor:
    """Prepared (N, 1, S, S) -> (N * k, 1, c, c) crops, k = ``pre.crops_per_face``."""
    c = pre.crop_size
    if pre.test_crops == "ten":
        return ten_crop(x, c).reshape(-1, x.shape[1], c, c)
    centre = center_crop(x, c)
    if pre.test_crops == "flip":
        return torch.stack([centre, centre.flip(-1)], dim=1).reshape(-1, x.shape[1], c, c)
    return centre


def probs_from_logits(logits: torch.Tensor, pre: Preprocess) -> torch.Tensor:
    """(N * k, classes) logits -> (N, classes) probabilities: the mean softmax over the crops.

    Each crop's logits are divided by the spec's temperature first, so every path (live,
    ``analyze``, upload, ``evaluate``) records the same calibrated probabilities.
    """
    k = pre.crops_per_face
    probs = F.softmax(logits.float() / pre.temperature, dim=1)
    return probs.reshape(-1, k, probs.shape[1]).mean(dim=1)


Net = Callable[[torch.Tensor], torch.Tensor]


def _crop_logits(
    net: Net, images: np.ndarray | torch.Tensor, pre: Preprocess, batch_size: int,
    device: str | torch.device,
) -> Iterator[torch.Tensor]:
    """(n * k, classes) logits of each batch's test crops: one forward pass per batch."""
    if isinstance(net, torch.nn.Module):
        net.eval()
    for i in range(0, len(images), batch_size):
        x = prepare_faces(images[i : i + batch_size], pre).to(device)
        yield net(test_crops(x, pre))


@torch.inference_mode()
def predict_proba(
    net: Net,
    images: np.ndarray | torch.Tensor,
    pre: Preprocess,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Class probabilities (N, classes) of uint8 faces (N, S, S) under ``pre``.

    ``net`` is a network (put in eval mode here) or any callable of the same signature (a
    TorchScript module from :mod:`fer_core.models.compiled`). The crops of a whole batch go
    through the network as one forward pass.
    """
    out = [probs_from_logits(logits, pre).cpu().numpy()
           for logits in _crop_logits(net, images, pre, batch_size, device)]  # fmt: skip
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


@torch.inference_mode()
def predict_crop_logits(
    net: Net,
    images: np.ndarray | torch.Tensor,
    pre: Preprocess,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Raw logits (N, k, classes) of every test crop, before temperature and softmax.

    Why separate: fitting a temperature needs the logits themselves (the probabilities already
    carry one); :func:`fer_core.calibration.crop_softmax` turns them back into what
    :func:`predict_proba` returns.
    """
    k = pre.crops_per_face
    out = [logits.float().reshape(-1, k, logits.shape[1]).cpu().numpy()
           for logits in _crop_logits(net, images, pre, batch_size, device)]  # fmt: skip
    if not out:
        return np.zeros((0, k, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)
