"""Near-duplicate faces across two sets: which test faces a network has effectively seen.

Why: FER2013 was gathered by image search, and the same photograph occurs more than once, within
Training and between Training and the test splits (re-encoded, shifted by a pixel or two,
mirrored, slightly re-cropped). A network that trained on one copy recognises the other far
more easily, so a test split's accuracy mixes two populations. ``evaluate --near-duplicates``
reports them apart: the faces with a copy in Training, and the unseen ones, whose accuracy is
the better guide to a face the network has never met.

How: each face is histogram-equalised (FER2013's Training copy is, its test faces are not) and
its central window becomes a small thumbnail (area-averaged to 16 x 16, mean removed, unit
length), so that re-encoding and exposure do not matter; the query's window is also taken at
every shift of up to 2 pixels, so a copy cut a pixel or two apart is found. Two faces are
near-duplicates when the cosine similarity of their thumbnails (or of one and the other's mirror
image) is at least a threshold. The default threshold, 0.94, was read off pairs of FER2013 faces
(held-out Training faces and their most similar face in the rest of Training, eight pairs per
band, judged by eye at 48 px): all 16 pairs from 0.94 to 0.98 were one photograph; 6 of 8 were
from 0.93 to 0.94 and from 0.92 to 0.93; 4 of 8 from 0.90 to 0.92; none from 0.88 to 0.90.
A copy cut at another scale is missed, so the count is a lower bound. See docs/reproduction.md
("Near-duplicates").
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

log = logging.getLogger(__name__)

#: thumbnail side: coarse enough to ignore JPEG noise, fine enough to tell two people apart
THUMBNAIL = 16
#: a copy may be shifted by up to this many pixels (either way, both axes) and still be found
MAX_SHIFT = 2
#: default similarity at or above which two faces count as the same photograph
NEAR_DUPLICATE = 0.94


def thumbnail_vectors(images: np.ndarray, size: int = THUMBNAIL) -> np.ndarray:
    """(N, size*size) float32 unit vectors of equalised, mean-removed, area-averaged faces.

    ``images`` are (N, H, W) uint8 faces (or windows of faces), equalised or raw alike. A flat
    face (no variation at all) maps to the zero vector, which is similar to nothing.
    """
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 faces of shape (N, H, W), got {images.dtype} "
                         f"{images.shape}")  # fmt: skip
    out = np.empty((len(images), size * size), dtype=np.float32)
    for i, face in enumerate(images):
        small = cv2.resize(cv2.equalizeHist(face), (size, size), interpolation=cv2.INTER_AREA)
        small = small.astype(np.float32)
        out[i] = (small - small.mean()).ravel()
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 1e-6)


def _window(images: np.ndarray, margin: int, dy: int = 0, dx: int = 0) -> np.ndarray:
    """The faces' central window, ``margin`` pixels in from each side, moved by (dy, dx)."""
    _n, h, w = images.shape
    rows = slice(margin + dy, h - margin + dy)
    cols = slice(margin + dx, w - margin + dx)
    return np.ascontiguousarray(images[:, rows, cols])


def max_similarity(
    queries: np.ndarray,
    references: np.ndarray,
    *,
    mirror: bool = True,
    max_shift: int = MAX_SHIFT,
    chunk: int = 2048,
) -> np.ndarray:
    """For each query face, its highest thumbnail similarity to any reference face (or mirror).

    ``queries`` and ``references`` are (N, H, W) uint8 faces of one size; the result is
    (len(queries),) in [-1, 1] (-1 where there are no references). Each reference's central
    window (``max_shift + 2`` pixels in from every side) is compared with the query's window at
    every shift up to ``max_shift`` pixels, so a copy cut a pixel or two apart is still found;
    a copy cut at another scale is not (it is counted as unseen). Chunked, so that a full
    FER2013 Training split as references needs only a few MB at a time.
    """
    for name, faces in (("queries", queries), ("references", references)):
        if faces.ndim != 3 or faces.dtype != np.uint8:
            raise ValueError(f"expected uint8 {name} of shape (N, H, W), got {faces.dtype} "
                             f"{faces.shape}")  # fmt: skip
    if queries.shape[1:] != references.shape[1:]:
        raise ValueError(f"queries are {queries.shape[1:]} faces, references "
                         f"{references.shape[1:]}: compare faces of one size")  # fmt: skip
    margin = max_shift + 2
    shifts = range(-max_shift, max_shift + 1)
    q = [thumbnail_vectors(_window(queries, margin, dy, dx)) for dy in shifts for dx in shifts]
    refs = [thumbnail_vectors(_window(references, margin))]
    if mirror:
        refs.append(thumbnail_vectors(_window(np.ascontiguousarray(references[:, :, ::-1]),
                                              margin)))  # fmt: skip
    best = np.full(len(queries), -1.0, dtype=np.float32)
    for r in refs:
        for start in range(0, len(r), chunk):
            block = r[start : start + chunk].T
            for variant in q:
                sims = variant @ block
                if sims.size:
                    np.maximum(best, sims.max(axis=1), out=best)
    return best


def unseen_mask(
    held: np.ndarray, rest: np.ndarray, threshold: float = NEAR_DUPLICATE
) -> np.ndarray:
    """True for each face of ``held`` that has no near-duplicate (similarity >= threshold) in
    ``rest``, mirror images and small shifts included: the faces a network trained on ``rest``
    has truly not seen.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"the near-duplicate threshold must be in (0, 1], got {threshold}")
    sims = max_similarity(held, rest)
    keep = sims < threshold
    log.info("%d of %d faces have a near-duplicate (similarity >= %.3f) in the reference set",
             int((~keep).sum()), len(keep), threshold)
    return keep
