"""CK+48 (``<root>/<class>/S<subject>_<sequence>_<frame>.png``) and its two 10-fold protocols.

* ``seed``: the protocol of the seed paper's lineage: within each class, in file order, fold k
  tests a contiguous block of 12/18/9/21/9/24/6 images (anger, disgust, fear, happy, sadness,
  surprise, contempt); fold 10 takes each class's last block. 99 test images per fold. Frames of one
  subject can sit on both sides, so it flatters the model: we report it for comparability only.
  Where a class is too small for block k (fear: 75 images, so fold 9 would need 72..80), the block
  is clamped to the class's last ``size`` images. The lineage code (a CK+ loader indexing a flat
  array) lets that block spill into the next class instead, which mislabels the fold's per-class
  counts; clamping keeps every fold at exactly 12/18/9/21/9/24/6.
* ``subject``: subject-independent: subjects are dealt into 10 folds (greedy balance on image
  count), so no subject is ever on both sides of a split.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fer_core.data.cache import cached, files_key
from fer_core.data.decode import IMAGE_SUFFIXES, decode_files
from fer_core.data.faceset import DatasetError, FaceSet
from fer_core.labels import CKPLUS_CLASSES

SEED_FOLD_SIZES: dict[str, int] = {
    "anger": 12,
    "disgust": 18,
    "fear": 9,
    "happy": 21,
    "sadness": 9,
    "surprise": 24,
    "contempt": 6,
}
N_FOLDS = 10
_SUBJECT_RE = re.compile(r"^(S\d+)_")


def subject_of(name: str) -> str:
    """Subject id (e.g. ``S010``) from a CK+ file name ``S010_004_00000017.png``."""
    m = _SUBJECT_RE.match(Path(name).name)
    if not m:
        raise DatasetError(f"cannot read a subject id from CK+ file name {name!r}")
    return m.group(1)


def load_ckplus(root: str | Path, *, use_cache: bool = True) -> FaceSet:
    """Load CK+48 from ``root/<class>/*.png`` in class then file-name order."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"CK+ folder does not exist: {root}")
    items: list[tuple[Path, int]] = []
    for cls_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if cls_dir.name not in CKPLUS_CLASSES:
            raise DatasetError(
                f"unknown class folder {cls_dir}; expected one of {', '.join(CKPLUS_CLASSES)}"
            )
    for label, cls in enumerate(CKPLUS_CLASSES):
        cls_dir = root / cls
        if not cls_dir.is_dir():
            continue
        for f in sorted(cls_dir.iterdir()):
            if f.suffix.lower() in IMAGE_SUFFIXES:
                items.append((f, label))
    if not items:
        raise DatasetError(f"no CK+ images under {root}")
    files = [f for f, _ in items]

    def build() -> FaceSet:
        images, kept, skipped = decode_files(files)
        labels = np.asarray([items[i][1] for i in kept], dtype=np.int64)
        return FaceSet(images, labels, CKPLUS_CLASSES, [files[i].name for i in kept], skipped)

    return cached(files_key("ckplus-folder", root, files), build, use_cache)


def seed_folds(faces: FaceSet, n_folds: int = N_FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """The seed's folds: list of (train_index, test_index), contiguous per-class test blocks."""
    folds: list[tuple[np.ndarray, np.ndarray]] = []
    for k in range(n_folds):
        test: list[int] = []
        for label, cls in enumerate(faces.classes):
            idx = np.flatnonzero(faces.labels == label)
            size = SEED_FOLD_SIZES[cls]
            if len(idx) < size:
                raise DatasetError(
                    f"class {cls} has {len(idx)} images, the seed protocol tests {size} per fold"
                )
            start = len(idx) - size if k == n_folds - 1 else min(k * size, len(idx) - size)
            block = idx[start : start + size]
            test.extend(block.tolist())
        test_idx = np.asarray(sorted(test), dtype=np.int64)
        train_idx = np.setdiff1d(np.arange(len(faces)), test_idx)
        folds.append((train_idx, test_idx))
    return folds


def subject_folds(faces: FaceSet, n_folds: int = N_FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """Subject-independent folds: every subject's images fall in exactly one test fold.

    Subjects are assigned largest-first to the currently smallest fold, which balances fold sizes
    deterministically (no random seed to report).
    """
    subjects = np.asarray([subject_of(n) for n in faces.names])
    unique, counts = np.unique(subjects, return_counts=True)
    if len(unique) < n_folds:
        raise DatasetError(f"{len(unique)} subjects cannot fill {n_folds} folds")
    order = sorted(range(len(unique)), key=lambda i: (-counts[i], unique[i]))
    sizes = [0] * n_folds
    fold_of: dict[str, int] = {}
    for i in order:
        k = min(range(n_folds), key=lambda j: (sizes[j], j))
        fold_of[str(unique[i])] = k
        sizes[k] += int(counts[i])
    assignment = np.asarray([fold_of[s] for s in subjects])
    return [
        (np.flatnonzero(assignment != k), np.flatnonzero(assignment == k)) for k in range(n_folds)
    ]


PROTOCOLS: dict[str, Callable[[FaceSet], list[tuple[np.ndarray, np.ndarray]]]] = {
    "seed": seed_folds,
    "subject": subject_folds,
}


def protocol_folds(faces: FaceSet, protocol: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 10 folds of ``protocol`` (``seed`` or ``subject``): one name -> folds mapping for
    training, evaluation and model cards alike."""
    try:
        return PROTOCOLS[protocol](faces)
    except KeyError:
        raise ValueError(f"unknown CK+ protocol {protocol!r}; expected seed or subject") from None
