"""Measuring a train/test shift in image quality, and the blur that aligns the two.

The FER2013 training split provided to this project (``../shared/data/fer2013/train``) is not the
original: every training face is strongly blurred (Gaussian-like, sigma about 3 px at 48x48),
while PublicTest faces, CK+ faces and webcam crops are sharp. A network trained on the blurred
faces sees sharp faces as out of distribution (our first run: 34% on PublicTest; the same weights
with the test faces blurred to match: 46%). Detail that was never in the training images cannot
be restored, so the models blur every non-training input by the same amount (``input_blur`` in the
model file) and the network always sees what it learned from.

The sharpness statistic is the mean absolute Laplacian divided by the image's standard deviation:
contrast-invariant, and monotone in the blur applied to a sharp image.
"""

from __future__ import annotations

import cv2
import numpy as np


def sharpness(images: np.ndarray) -> np.ndarray:
    """Per-image sharpness (mean |Laplacian| / std) of uint8 faces (N, H, W)."""
    out = np.empty(len(images), dtype=np.float64)
    for i, im in enumerate(images):
        f = im.astype(np.float32)
        out[i] = float(np.abs(cv2.Laplacian(f, cv2.CV_32F)).mean()) / (float(f.std()) + 1e-3)
    return out


def blur_faces(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-blur each uint8 face with ``sigma`` px (a copy; sigma 0 returns the input)."""
    if sigma <= 0:
        return images
    if images.ndim == 2:
        return cv2.GaussianBlur(images, (0, 0), sigma)
    return np.stack([cv2.GaussianBlur(im, (0, 0), sigma) for im in images])


def estimate_blur_sigma(
    degraded: np.ndarray, clean: np.ndarray, max_sigma: float = 6.0, tol: float = 0.02
) -> float:
    """The Gaussian sigma that makes ``clean`` faces as sharp (median) as ``degraded`` ones.

    Median sharpness falls monotonically with the blur applied, so a bisection on
    ``[0, max_sigma]`` finds it in a dozen blurs of ``clean``; 0 when ``degraded`` is at least as
    sharp as ``clean`` (no shift to correct).
    """
    target = float(np.median(sharpness(degraded)))

    def sharp_at(sigma: float) -> float:
        return float(np.median(sharpness(blur_faces(clean, sigma))))

    if target >= sharp_at(0.0):
        return 0.0
    lo, hi = 0.0, max_sigma
    if sharp_at(hi) > target:
        return hi
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if sharp_at(mid) > target:
            lo = mid
        else:
            hi = mid
    return round((lo + hi) / 2, 3)
