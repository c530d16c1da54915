"""A generated clip of real faces: FER2013 fixture faces upscaled onto frames, moving slightly.

Why generated: the benchmark needs frames of any size with a known number of faces, and the repo
may not hold face video (privacy). Real FER2013 faces keep Haar's behaviour realistic (it misses
some of them, as it misses real webcam faces); a textured background gives the cascade non-face
structure to reject; a small Lissajous motion and per-frame sensor noise make frame-to-frame
tracking do real work. Every ``segment`` frames each slot shows the next face image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_core.detection import Box, iou


@dataclass
class Clip:
    """BGR frames plus the box where each face was pasted (ground truth)."""

    frames: list[np.ndarray]
    truth: list[list[Box]]
    width: int
    height: int
    faces: int


def load_face_images(folder: str | Path, limit: int | None = None) -> list[np.ndarray]:
    """Grayscale face images (``<folder>/**/*.jpg|png``) in a stable order."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    images = [im for p in paths if (im := cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)) is not None]
    if not images:
        raise FileNotFoundError(f"no face images under {folder}")
    return images[:limit] if limit else images


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth low-frequency texture plus a gradient: a plausible wall/room behind the faces."""
    coarse = rng.integers(50, 210, size=(9, 12)).astype(np.float32)
    bg = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    bg += np.linspace(-20, 20, width, dtype=np.float32)[None, :]
    return np.clip(bg, 0, 255).astype(np.uint8)


def make_clip(
    faces: list[np.ndarray],
    *,
    n_faces: int = 1,
    width: int = 640,
    height: int = 480,
    frames: int = 60,
    segment: int = 10,
    face_frac: float = 0.3,
    seed: int = 0,
) -> Clip:
    """``frames`` BGR frames with ``n_faces`` faces each; sizes scale with the frame height."""
    if n_faces < 0:
        raise ValueError("n_faces must be >= 0")
    rng = np.random.default_rng(seed)
    bg = _background(width, height, rng)
    size = int(min(face_frac * height, 0.8 * width / max(n_faces + 1, 2)))
    amp_x, amp_y = 0.02 * width, 0.02 * height
    out: list[np.ndarray] = []
    truth: list[list[Box]] = []
    scaled: dict[int, np.ndarray] = {}
    for t in range(frames):
        frame = bg.copy()
        boxes: list[Box] = []
        for slot in range(n_faces):
            k = (slot * 7 + t // segment) % len(faces)
            if k not in scaled:
                scaled[k] = cv2.resize(faces[k], (size, size), interpolation=cv2.INTER_CUBIC)
            cx = width * (slot + 1) / (n_faces + 1) + amp_x * math.sin(2 * math.pi * t / 40 + slot)
            cy = 0.45 * height + amp_y * math.sin(2 * math.pi * t / 29 + slot)
            x0 = int(np.clip(cx - size / 2, 0, width - size))
            y0 = int(np.clip(cy - size / 2, 0, height - size))
            frame[y0 : y0 + size, x0 : x0 + size] = scaled[k]
            boxes.append(Box(x0, y0, size, size))
        noise = rng.normal(0, 2.0, size=frame.shape).astype(np.int16)
        frame = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        out.append(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        truth.append(boxes)
    return Clip(out, truth, width, height, n_faces)


def match_counts(
    reference: list[list[Box]], found: list[list[Box]], min_iou: float = 0.3
) -> tuple[int, int, int]:
    """(reference faces, of those missed in ``found``, boxes in ``found`` matching none).

    Greedy per frame: each reference box takes its best unused found box with IoU >= min_iou.
    """
    total = missed = extra = 0
    for ref, got in zip(reference, found, strict=True):
        unused = list(got)
        for r in ref:
            total += 1
            best = max(unused, key=lambda g: iou(r, g), default=None)
            if best is not None and iou(r, best) >= min_iou:
                unused.remove(best)
            else:
                missed += 1
        extra += len(unused)
    return total, missed, extra
