"""Decoding image files into 48x48 grayscale arrays, with counted skips for bad files."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from fer_core.data.faceset import IMAGE_SIZE

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".pgm")


def decode_gray(data: bytes) -> np.ndarray | None:
    """Decode encoded image bytes to a 2-D uint8 grayscale array, or None if unreadable."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        return None
    img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img


def decode_files(paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode ``paths``; return (images, kept_index, skip_reasons).

    A file that cannot be decoded or is not 48x48 is skipped and reported, never resized silently:
    a wrong size usually means a wrong folder (e.g. uncropped frames), which a resize would hide.
    """
    images = np.empty((len(paths), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    kept: list[int] = []
    skipped: list[str] = []
    for i, path in enumerate(paths):
        try:
            img = decode_gray(path.read_bytes())
        except OSError as exc:
            skipped.append(f"{path}: unreadable ({exc})")
            continue
        if img is None:
            skipped.append(f"{path}: not a decodable image")
            continue
        if img.shape != (IMAGE_SIZE, IMAGE_SIZE):
            skipped.append(f"{path}: wrong size {img.shape[1]}x{img.shape[0]}, expected 48x48")
            continue
        images[len(kept)] = img
        kept.append(i)
    for reason in skipped[:20]:
        log.warning("skipped %s", reason)
    if len(skipped) > 20:
        log.warning("... and %d more skipped files", len(skipped) - 20)
    return images[: len(kept)].copy(), np.asarray(kept, dtype=np.int64), skipped
