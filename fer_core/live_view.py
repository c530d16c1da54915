"""What the Record page shows while recording, as small tables: the current face's bars, the
rolling chart's rows and the status line (processed rate, face found).

Pure functions over :class:`fer_core.live.LiveUpdate` objects (predictions only, no images), so
the page lays them out and a test checks them without a camera.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fer_core.labels import FER2013_CLASSES
from fer_core.live import LiveUpdate


def probability_bars(probs: np.ndarray | Sequence[float]) -> pd.DataFrame:
    """``class``, ``probability`` of one face, in FER2013 order (the order of every chart)."""
    values = np.asarray(probs, dtype="float64")
    if values.shape != (len(FER2013_CLASSES),):
        raise ValueError(f"expected {len(FER2013_CLASSES)} probabilities, got {values.shape}")
    return pd.DataFrame({"class": list(FER2013_CLASSES), "probability": values})


def chart_rows(history: Sequence[LiveUpdate]) -> pd.DataFrame:
    """The rolling chart: one row per update, ``seconds`` before the newest (<= 0) and one
    column per class; a frame without a face is NaN in every class (a gap, not a bridge)."""
    if not history:
        return pd.DataFrame(columns=[*FER2013_CLASSES, "seconds"])
    t_end = history[-1].timestamp
    nan = [math.nan] * len(FER2013_CLASSES)
    rows = [dict(zip(FER2013_CLASSES, u.probs if u.probs is not None else nan, strict=True),
                 seconds=(u.timestamp - t_end).total_seconds()) for u in history]
    return pd.DataFrame(rows, columns=[*FER2013_CLASSES, "seconds"])


@dataclass(frozen=True)
class LiveStatus:
    """The live read-out's headline: frames so far, processed rate, whether a face is found."""

    frames: int
    fps: float
    face_found: bool | None  # None before the first frame
    label: str | None
    confidence: float | None

    @property
    def face_text(self) -> str:
        """The "Face found" read-out: "yes", "no", or "—" before the first frame."""
        if self.face_found is None:
            return "—"
        return "yes" if self.face_found else "no"

    @property
    def now_text(self) -> str:
        """The current prediction in words (Markdown-safe: a class name and a number)."""
        if self.label is None or self.confidence is None:
            return "no face in view"
        return f"**{self.label}** ({100 * self.confidence:.0f}%)"


def live_status(history: Sequence[LiveUpdate], fps: float) -> LiveStatus:
    """:class:`LiveStatus` of the updates drained so far (``fps``: the recorder's rate)."""
    last = history[-1] if history else None
    if last is None:
        return LiveStatus(0, fps, None, None, None)
    return LiveStatus(last.frame_index + 1, fps, last.n_faces > 0, last.label, last.confidence)
