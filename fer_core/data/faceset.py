"""The in-memory form every dataset is decoded into.

A dataset of 48x48 grayscale faces is tiny once decoded (FER2013 train is 66 MB as uint8), so we
decode it once into one array and index it, instead of re-reading tens of thousands of JPEGs every
epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fer_core.errors import FerError

IMAGE_SIZE = 48


class DatasetError(FerError, ValueError):
    """A dataset cannot be read as asked: missing folder, unknown class, no images, bad format."""


@dataclass
class FaceSet:
    """Decoded faces with their labels.

    Attributes:
        images: uint8 array (N, 48, 48), grayscale.
        labels: int64 array (N,), indices into ``classes``.
        classes: ordered class names of the label coding.
        names: source name of each image (file name, or ``csv:<line>``), for folds and reports.
        skipped: human-readable reasons for inputs that were skipped (unreadable, wrong size).
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    names: list[str]
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise DatasetError(f"images must be (N, 48, 48), got {self.images.shape}")
        if len(self.images) != len(self.labels) or len(self.images) != len(self.names):
            raise DatasetError("images, labels and names must have the same length")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray | list[int]) -> FaceSet:
        """Rows ``index`` as a new FaceSet (arrays are copied, so the parent can be freed)."""
        idx = np.asarray(index, dtype=np.int64)
        return FaceSet(
            images=self.images[idx],
            labels=self.labels[idx],
            classes=self.classes,
            names=[self.names[i] for i in idx],
        )

    def class_counts(self) -> dict[str, int]:
        """Number of images per class name, in class order."""
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(c) for name, c in zip(self.classes, counts, strict=True)}


def holdout_split(faces: FaceSet, fraction: float, seed: int) -> tuple[FaceSet, FaceSet]:
    """(held out, rest): a seeded random ``fraction`` of ``faces`` kept apart from training.

    One function for ``train --val-from-train`` and ``calibrate``: the temperature must be fitted
    on exactly the faces the network never learned from, so both draw the same permutation.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"the held-out fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(len(faces))
    n_val = int(len(faces) * fraction)
    return faces.subset(order[:n_val]), faces.subset(order[n_val:])
