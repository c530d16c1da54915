"""Face detection with OpenCV's Haar cascade, on a downscaled grayscale copy for speed.

Haar's cost grows with the number of pixels it scans, so the detector shrinks the frame first
(``scale``, 0.5 by default: a 640x480 frame is scanned at 320x240) and maps the boxes back to the
full frame. ``detect_in_regions`` re-detects only around known faces, which the pipeline uses
between full scans (a cheap form of tracking that still confirms the face is there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_core.errors import FerError

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


class DetectorError(FerError, RuntimeError):
    """The Haar cascade file is missing or unreadable."""


@dataclass(frozen=True)
class Box:
    """A face box in full-frame pixel coordinates."""

    x: int
    y: int
    w: int
    h: int

    def expanded(self, factor: float, width: int, height: int) -> Box:
        """This box grown by ``factor`` about its centre, clipped to the frame."""
        cx, cy = self.x + self.w / 2, self.y + self.h / 2
        hw, hh = self.w * factor / 2, self.h * factor / 2
        x0, y0 = max(int(cx - hw), 0), max(int(cy - hh), 0)
        x1, y1 = min(int(cx + hw), width), min(int(cy + hh), height)
        return Box(x0, y0, max(x1 - x0, 0), max(y1 - y0, 0))


def cascade_path(name: str = DEFAULT_CASCADE) -> Path:
    """Path of a cascade shipped with opencv-python-headless 4.x (``cv2.data.haarcascades``)."""
    return Path(cv2.data.haarcascades) / name


class FaceDetector:
    """Frontal-face Haar cascade with downscaling; ``detect(gray) -> list[Box]``.

    Not thread-safe (OpenCV cascades keep scratch state): create one per thread or session.
    """

    def __init__(
        self,
        scale: float = 0.5,
        min_face: int = 48,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        cascade: str | Path | None = None,
    ) -> None:
        path = Path(cascade) if cascade else cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise DetectorError(
                f"cannot load Haar cascade {path}; opencv-python-headless 4.x ships it "
                "(OpenCV 5 wheels do not)"
            )
        if not 0 < scale <= 1:
            raise ValueError("scale must be in (0, 1]")
        self.scale = scale
        self.min_face = min_face
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors

    def _run(self, gray: np.ndarray, scale: float) -> list[Box]:
        min_side = max(int(self.min_face * scale), 20)
        if min(gray.shape[:2]) * scale < min_side:
            # no window fits (and resizing a 1-px frame by 0.5 fails with "!dsize.empty()")
            return []
        small = (
            gray
            if scale == 1
            else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        found = self._cascade.detectMultiScale(
            small,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side),
        )
        inv = 1.0 / scale
        return [
            Box(int(x * inv), int(y * inv), int(w * inv), int(h * inv)) for (x, y, w, h) in found
        ]

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Faces in a 2-D uint8 frame, largest first."""
        if gray.ndim != 2:
            raise ValueError(f"detect expects a 2-D grayscale frame, got shape {gray.shape}")
        boxes = self._run(gray, self.scale)
        return sorted(boxes, key=lambda b: -b.w * b.h)

    def detect_in_regions(
        self, gray: np.ndarray, previous: Sequence[Box], grow: float = 1.6
    ) -> list[Box]:
        """Re-detect only inside ``previous`` boxes grown by ``grow``: a fraction of a full scan."""
        height, width = gray.shape
        found: list[Box] = []
        for prev in previous:
            roi = prev.expanded(grow, width, height)
            if roi.w < 24 or roi.h < 24:
                continue
            patch = gray[roi.y : roi.y + roi.h, roi.x : roi.x + roi.w]
            for b in self._run(patch, self.scale):
                cand = Box(b.x + roi.x, b.y + roi.y, b.w, b.h)
                if not any(iou(cand, f) > 0.3 for f in found):
                    found.append(cand)
        return sorted(found, key=lambda b: -b.w * b.h)


    def detect_near(
        self,
        gray: np.ndarray,
        previous: Sequence[Box],
        grow: float = 1.6,
        face_px: int = 80,
        min_neighbors: int = 3,
    ) -> list[Box]:
        """Re-detect around ``previous`` boxes with a pyramid cut to the face's own size.

        Why: between full scans a tracked face is about the size it was. Each window (the box
        grown by ``grow``) is shrunk so the previous face measures ``face_px`` pixels, and Haar
        only tries window sizes from 0.75x to 1.33x of that: a handful of pyramid levels on an
        image of about ``grow * face_px`` pixels square, a small fraction of a full scan's cost.
        Fewer levels give each face fewer overlapping hits, hence a lower ``min_neighbors``
        than a full scan's (the window already says where the face was).
        """
        height, width = gray.shape
        found: list[Box] = []
        for prev in previous:
            roi = prev.expanded(grow, width, height)
            side = min(prev.w, prev.h)
            if roi.w < 24 or roi.h < 24 or side < 24:
                continue
            scale = min(face_px / side, 1.0)
            patch = gray[roi.y : roi.y + roi.h, roi.x : roi.x + roi.w]
            small = patch if scale == 1 else cv2.resize(
                patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            expected = side * scale
            lo, hi = max(int(expected / 1.33), 24), int(expected * 1.33) + 1
            if hi <= lo or min(small.shape) < lo:
                continue
            hits = self._cascade.detectMultiScale(
                small, scaleFactor=self.scale_factor, minNeighbors=min_neighbors,
                minSize=(lo, lo), maxSize=(hi, hi),
            )
            inv = 1.0 / scale
            for x, y, w, h in hits:
                cand = Box(int(x * inv) + roi.x, int(y * inv) + roi.y, int(w * inv), int(h * inv))
                if not any(iou(cand, f) > 0.3 for f in found):
                    found.append(cand)
        return sorted(found, key=lambda b: -b.w * b.h)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when both are empty)."""
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(x1 - x0, 0) * max(y1 - y0, 0)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union else 0.0
