"""Image-quality statistics of a face set: is a split equalised, is it blurred?

Why: the FER2013 copies in circulation differ in preprocessing. The Training split provided to
this project was histogram-equalised by its distributor while PublicTest was not, and an earlier
copy was strongly blurred; a model trained on one kind of face and shown another loses most of its
accuracy. ``python -m fer_core data-check`` prints these statistics so a user can see such a shift
before training (models equalise every face, :mod:`fer_core.preprocess`, which removes the first
kind of shift but not a blur).

* sharpness: mean absolute Laplacian divided by the image's standard deviation, per image
  (contrast-invariant, falls monotonically as an image is blurred);
* equalisation distance: the Kolmogorov-Smirnov distance between an image's gray-level
  distribution and the uniform one; ``cv2.equalizeHist`` output is close to uniform (about 0.01 to
  0.05), a raw face is not (about 0.1 to 0.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Median equalisation distance under which a split is reported as histogram-equalised.
EQUALIZED_MAX_DISTANCE = 0.06
#: A split whose median sharpness is below this fraction of another's is reported as blurrier.
BLURRIER_RATIO = 0.5


def sharpness(images: np.ndarray) -> np.ndarray:
    """Per-image sharpness (mean |Laplacian| / std) of uint8 faces (N, H, W)."""
    out = np.empty(len(images), dtype=np.float64)
    for i, im in enumerate(images):
        f = im.astype(np.float32)
        out[i] = float(np.abs(cv2.Laplacian(f, cv2.CV_32F)).mean()) / (float(f.std()) + 1e-3)
    return out


def equalization_distance(images: np.ndarray) -> np.ndarray:
    """Per-image KS distance between the gray-level distribution and uniform on 0..255."""
    flat = images.reshape(len(images), -1)
    uniform = np.arange(1, 257, dtype=np.float64) / 256.0
    out = np.empty(len(images), dtype=np.float64)
    for i, row in enumerate(flat):
        cdf = np.cumsum(np.bincount(row, minlength=256)) / row.size
        out[i] = float(np.abs(cdf - uniform).max())
    return out


@dataclass(frozen=True)
class SplitQuality:
    """Median statistics of one face set."""

    name: str
    images: int
    mean: float  # mean gray level in [0, 1]
    contrast: float  # median per-image standard deviation in [0, 1]
    sharpness: float
    equalization_distance: float

    @property
    def looks_equalized(self) -> bool:
        return self.equalization_distance <= EQUALIZED_MAX_DISTANCE


def split_quality(name: str, images: np.ndarray) -> SplitQuality:
    """Median brightness, contrast, sharpness and equalisation distance of uint8 faces."""
    flat = images.reshape(len(images), -1).astype(np.float64) / 255.0
    return SplitQuality(
        name=name,
        images=len(images),
        mean=float(flat.mean()),
        contrast=float(np.median(flat.std(1))),
        sharpness=float(np.median(sharpness(images))),
        equalization_distance=float(np.median(equalization_distance(images))),
    )


def findings(splits: list[SplitQuality]) -> list[str]:
    """Plain-language notes on what differs between splits (empty when nothing stands out)."""
    notes = []
    eq = [s.name for s in splits if s.looks_equalized]
    raw = [s.name for s in splits if not s.looks_equalized]
    if eq and raw:
        notes.append(
            f"{', '.join(eq)} look(s) histogram-equalised and {', '.join(raw)} do(es) not: "
            "equalise every face (the default `Preprocess.equalize`) so training and test "
            "faces match."
        )
    sharpest = max(splits, key=lambda s: s.sharpness)
    for s in splits:
        if s.sharpness < BLURRIER_RATIO * sharpest.sharpness:
            notes.append(
                f"{s.name} is {sharpest.sharpness / max(s.sharpness, 1e-9):.1f}x less sharp than "
                f"{sharpest.name}: it looks blurred, and a model trained on one will see the "
                "other as out of distribution; get an unblurred copy."
            )
    return notes
