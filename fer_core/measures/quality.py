"""Recording quality of one session: can its figures be trusted, and where not?

A session with broken detection (the person out of the frame, the camera slowed to 2 frames a
second, a face in the dark or far away) produces figures that look as trustworthy as a clean
one's. This module reduces a session's rows (and, for live sessions, its metadata) to:

* a **series** over time, one row per :data:`BIN_S`-second bin: processed frames per second,
  face-in-view share, the face's size in pixels, the crop's brightness and contrast, and the
  share of low-confidence face time;
* **flagged stretches**: consecutive bins that fail one check (:data:`REASONS`);
* headline numbers and a one-line **verdict**: ``"reliable"`` or
  ``"use with care: <reasons>"``, where a reason is named when its stretches cover at least
  :data:`VERDICT_SHARE` of the session.

Every threshold is a named constant whose docstring says where its value comes from. Shares are
weighted by the time each frame covers (:func:`fer_core.measures.frames.frame_seconds`), like
every other figure. Brightness and contrast are the row columns ``face_brightness`` and
``face_contrast`` (row schema version 2, measured on the 48x48 crop before equalisation by
:func:`fer_core.pipeline.crop_light`); sessions recorded before they existed have them null and
are judged without them. Pure functions: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fer_core.measures.frames import frame_rows, frame_seconds

#: Width of one quality bin, seconds. Five seconds hold 20 frames at the lowest acceptable
#: rate (:data:`LOW_FPS`), enough for a stable rate and median, and are short enough that a
#: few seconds out of view show as a stretch of their own.
BIN_S = 5.0

#: Processed frames per second below which a bin is flagged "low frame rate". Expressions last
#: from about half a second (a brief reaction) to a few seconds: below 4 frames/s a half-second
#: expression falls on at most two frames and can be missed or mistaken for model flicker. The
#: live pipeline processes 4-30 frames/s on a 2-core laptop (fer_core.measures.weights).
LOW_FPS = 4.0

#: A bin whose face-in-view share (time with a face / time recorded) is below this is flagged
#: "no face": for more than half of it the figures say nothing about the person.
MIN_FACE_IN_VIEW = 0.5

#: Median face box side (pixels, the smaller of width and height) below which a bin is flagged
#: "small face". The model sees 48x48 crops and Haar boxes include forehead and chin margins, so
#: a box under 60 px holds less detail than the model's input; docs/reproduction.md measured a
#: 25-point accuracy drop for faces reduced to 16 px ("low resolution 16 px").
SMALL_FACE_PX = 60.0

#: Median crop brightness (mean gray level, 0-255, before equalisation) below which a bin is
#: flagged "dark face". FER2013 faces have a median brightness of 135 (tests/fixtures/fer2013);
#: docs/reproduction.md measured no accuracy loss at brightness x0.4 (about 54), because the
#: model equalises every face. 45 (x0.33) is beyond what was measured harmless: few gray levels
#: and sensor noise remain for equalisation to stretch.
DARK_BRIGHTNESS = 45.0

#: Median crop contrast (standard deviation of the gray levels, 0-255) below which a bin is also
#: flagged "dark face" (a flat, washed-out or fogged face). FER2013 faces have a median of 45;
#: contrast x0.35 (about 16) was measured harmless, so 12 (x0.27) is beyond it.
LOW_CONTRAST = 12.0

#: A face frame whose top class probability is below this counts as low-confidence. The shipped
#: model's probabilities are calibrated (ECE 2.9% on PublicTest, docs/reproduction.md), so 0.4
#: means a prediction that is wrong more often than right.
LOW_CONFIDENCE = 0.4

#: A bin is flagged "low confidence" when more than this share of its face time is
#: low-confidence: most of what it reports is a guess.
LOW_CONFIDENCE_BIN_SHARE = 0.5

#: A reason enters the verdict when its flagged stretches cover at least this share of the
#: session's recorded span. A few seconds out of view in a 10-minute session do not make the
#: session unreliable; a tenth of it does (it shifts every share by up to ten points).
VERDICT_SHARE = 0.10

#: The checks, in the order verdicts name them.
REASONS: tuple[str, ...] = ("no face", "low frame rate", "small face", "dark face",
                            "low confidence")

#: Columns of :attr:`Quality.series`.
SERIES_COLUMNS = ["start", "fps", "face_in_view", "face_px", "brightness", "contrast",
                  "low_confidence"]
#: Columns of :attr:`Quality.stretches`.
STRETCH_COLUMNS = ["reason", "start", "end", "seconds"]

RELIABLE = "reliable"


@dataclass(frozen=True)
class Quality:
    """Recording quality of one session (see the module docstring)."""

    verdict: str
    reasons: tuple[str, ...]
    n_frames: int
    span_s: float  # first to last frame, seconds (wall clock, gaps included)
    fps: float  # processed frames per second over the whole span
    face_in_view: float  # time-weighted, as on Session summary
    face_px: float | None  # median face box side of the primary face, pixels
    brightness: float | None  # median crop brightness; None before row schema version 2
    contrast: float | None
    low_confidence_share: float  # time share of face frames below LOW_CONFIDENCE
    flagged_share: dict[str, float]  # reason -> share of the span its stretches cover
    frames_dropped: int | None = None  # live sessions: camera frames never processed
    frames_received: int | None = None  # live sessions: camera frames that reached us
    series: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SERIES_COLUMNS))
    stretches: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=STRETCH_COLUMNS))

    @property
    def reliable(self) -> bool:
        return self.verdict == RELIABLE

    @property
    def dropped_share(self) -> float | None:
        """Share of camera frames dropped by the live queue (None when not recorded live)."""
        if self.frames_dropped is None or not self.frames_received:
            return None
        return self.frames_dropped / self.frames_received

    def digest(self) -> dict[str, Any]:
        """The headline numbers as JSON-ready values (for the session summary file)."""
        def num(value: float | None) -> float | None:
            return None if value is None or not math.isfinite(value) else round(float(value), 4)

        return {"verdict": self.verdict, "reasons": list(self.reasons),
                "fps": num(self.fps), "face_in_view": num(self.face_in_view),
                "face_px": num(self.face_px), "brightness": num(self.brightness),
                "contrast": num(self.contrast),
                "low_confidence_share": num(self.low_confidence_share),
                "flagged_share": {k: num(v) for k, v in self.flagged_share.items()}}


def live_counts(extra: dict[str, Any] | None) -> tuple[int | None, int | None]:
    """(frames dropped, frames received) recorded by the live recorder in the session
    metadata's ``extra["live"]`` (:class:`fer_core.live.LiveRecorder`); (None, None) for
    sessions that were not recorded live or were recorded before it was kept."""
    live = (extra or {}).get("live")
    if not isinstance(live, dict):
        return None, None
    dropped, received = live.get("frames_dropped"), live.get("frames_received")
    if not (isinstance(dropped, int) and isinstance(received, int)) or dropped < 0:
        return None, None
    return dropped, received


def _median(values: pd.Series) -> float | None:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return float(v.median()) if len(v) else None


def quality_series(rows: pd.DataFrame, bin_s: float = BIN_S) -> pd.DataFrame:
    """One row per ``bin_s``-second bin from the session's first frame (:data:`SERIES_COLUMNS`).

    ``start``: the bin's start (UTC); ``fps``: frames processed in the bin / its length (the
    last bin's length runs to the last frame plus the time that frame covers); bins without any
    frame are kept, with ``fps`` 0. ``face_in_view`` and ``low_confidence`` are time-weighted
    shares (NaN in an empty bin; ``low_confidence`` NaN without face time); ``face_px``,
    ``brightness`` and ``contrast`` are medians over the bin's primary faces (NaN without).
    """
    if bin_s <= 0:
        raise ValueError(f"bin_s must be > 0, got {bin_s}")
    frames = frame_rows(rows)
    if frames.empty:
        return pd.DataFrame(columns=SERIES_COLUMNS)
    seconds = frame_seconds(frames)
    ts = pd.to_datetime(frames["timestamp"], utc=True)
    t0 = ts.iloc[0]
    offset = (ts - t0).dt.total_seconds().to_numpy()
    k = np.floor(offset / bin_s).astype("int64")
    face = ((frames["face_index"] == 0) & frames["face_detected"].fillna(False).astype(bool)
            ).to_numpy()
    conf = pd.to_numeric(frames.get("confidence"), errors="coerce").to_numpy(dtype="float64")
    low = face & (conf < LOW_CONFIDENCE)
    w = pd.to_numeric(frames.get("box_w"), errors="coerce").to_numpy(dtype="float64")
    h = pd.to_numeric(frames.get("box_h"), errors="coerce").to_numpy(dtype="float64")
    table = pd.DataFrame({
        "k": k, "seconds": seconds, "face_s": np.where(face, seconds, 0.0),
        "low_s": np.where(low, seconds, 0.0),
        "px": np.where(face, np.fmin(w, h), np.nan),
        "brightness": np.where(face, _column(frames, "face_brightness"), np.nan),
        "contrast": np.where(face, _column(frames, "face_contrast"), np.nan),
    })
    g = table.groupby("k")
    n_bins = int(k[-1]) + 1
    idx = pd.RangeIndex(n_bins)
    n = g.size().reindex(idx, fill_value=0).to_numpy()
    total = g["seconds"].sum().reindex(idx, fill_value=0.0).to_numpy()
    face_s = g["face_s"].sum().reindex(idx, fill_value=0.0).to_numpy()
    low_s = g["low_s"].sum().reindex(idx, fill_value=0.0).to_numpy()
    length = np.full(n_bins, bin_s)
    length[-1] = max(offset[-1] + seconds[-1] - (n_bins - 1) * bin_s, 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        fiv = np.where(total > 0, face_s / total, np.nan)
        low_share = np.where(face_s > 0, low_s / face_s, np.nan)
    return pd.DataFrame({
        "start": t0 + pd.to_timedelta(np.arange(n_bins) * bin_s, unit="s"),
        "fps": n / length,
        "face_in_view": fiv,
        "face_px": g["px"].median().reindex(idx).to_numpy(dtype="float64"),
        "brightness": g["brightness"].median().reindex(idx).to_numpy(dtype="float64"),
        "contrast": g["contrast"].median().reindex(idx).to_numpy(dtype="float64"),
        "low_confidence": low_share,
    })


def _column(frames: pd.DataFrame, name: str) -> np.ndarray:
    """A float column of the rows, or NaN everywhere when the rows do not have it."""
    if name not in frames.columns:
        return np.full(len(frames), np.nan)
    return pd.to_numeric(frames[name], errors="coerce").to_numpy(dtype="float64")


def bin_flags(series: pd.DataFrame) -> pd.DataFrame:
    """Which checks each bin of :func:`quality_series` fails: one bool column per reason.

    An empty bin fails only "low frame rate" (nothing else can be judged in it); a NaN median
    or share (no face, no brightness recorded) fails nothing.
    """
    fiv, px = series["face_in_view"], series["face_px"]
    bright, contrast, low = series["brightness"], series["contrast"], series["low_confidence"]
    return pd.DataFrame({
        "no face": fiv < MIN_FACE_IN_VIEW,
        "low frame rate": series["fps"] < LOW_FPS,
        "small face": px < SMALL_FACE_PX,
        "dark face": (bright < DARK_BRIGHTNESS) | (contrast < LOW_CONTRAST),
        "low confidence": low > LOW_CONFIDENCE_BIN_SHARE,
    }, index=series.index)[list(REASONS)].fillna(False).astype(bool)


def flagged_stretches(series: pd.DataFrame, end: pd.Timestamp | None = None,
                      bin_s: float = BIN_S) -> pd.DataFrame:
    """Runs of consecutive bins failing the same check (:data:`STRETCH_COLUMNS`), by start.

    ``end``: where the last bin ends (the session's last frame plus the time it covers);
    defaults to a full bin.
    """
    flags = bin_flags(series)
    out = []
    starts = series["start"].reset_index(drop=True)
    for reason in REASONS:
        on = flags[reason].to_numpy()
        i = 0
        while i < len(on):
            if not on[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(on) and on[j + 1]:
                j += 1
            start = starts[i]
            stop = starts[j] + pd.Timedelta(seconds=bin_s)
            if end is not None and j == len(on) - 1:
                stop = min(stop, end)
            out.append((reason, start, stop, (stop - start).total_seconds()))
            i = j + 1
    table = pd.DataFrame(out, columns=STRETCH_COLUMNS)
    return table.sort_values(["start", "reason"], ignore_index=True) if out else table


def verdict(flagged_share: dict[str, float], n_frames: int) -> tuple[str, tuple[str, ...]]:
    """The one-line verdict and the reasons it names (:data:`VERDICT_SHARE`)."""
    if n_frames == 0:
        return "use with care: no frames recorded", ("no frames",)
    reasons = tuple(r for r in REASONS if flagged_share.get(r, 0.0) >= VERDICT_SHARE)
    if not reasons:
        return RELIABLE, ()
    parts = [f"{r} {100 * flagged_share[r]:.0f}% of the time" for r in reasons]
    return "use with care: " + ", ".join(parts), reasons


def session_quality(rows: pd.DataFrame, meta: Any = None, bin_s: float = BIN_S) -> Quality:
    """The recording quality of one session's rows (any order; one session only).

    ``meta``: the session's :class:`~fer_core.logstore.meta.SessionMeta` (or None); its
    ``extra["live"]`` gives the frames the live queue dropped (:func:`live_counts`).
    """
    if "session" in rows.columns and rows["session"].nunique() > 1:
        raise ValueError("session_quality takes the rows of one session")
    dropped, received = live_counts(getattr(meta, "extra", None))
    frames = frame_rows(rows)
    n = len(frames)
    if n == 0:
        text, reasons = verdict({}, 0)
        return Quality(text, reasons, 0, 0.0, 0.0, 0.0, None, None, None, 0.0,
                       {r: 0.0 for r in REASONS}, dropped, received)
    series = quality_series(rows, bin_s)
    seconds = frame_seconds(frames)
    ts = pd.to_datetime(frames["timestamp"], utc=True)
    end = ts.iloc[-1] + pd.Timedelta(seconds=float(seconds[-1]))
    span = max((end - ts.iloc[0]).total_seconds(), 1e-9)
    stretches = flagged_stretches(series, end, bin_s)
    flagged = {r: float(stretches.loc[stretches["reason"] == r, "seconds"].sum()) / span
               for r in REASONS}
    face = ((frames["face_index"] == 0) & frames["face_detected"].fillna(False).astype(bool)
            ).to_numpy()
    conf = pd.to_numeric(frames["confidence"], errors="coerce").to_numpy(dtype="float64")
    face_s = float(seconds[face].sum())
    low_s = float(seconds[face & (conf < LOW_CONFIDENCE)].sum())
    total_s = float(seconds.sum())
    faces = frames.loc[face]
    px = None
    if len(faces) and "box_w" in faces.columns:
        px = _median(np.fmin(pd.to_numeric(faces["box_w"], errors="coerce"),
                             pd.to_numeric(faces["box_h"], errors="coerce")))
    text, reasons = verdict(flagged, n)
    return Quality(
        verdict=text, reasons=reasons, n_frames=n, span_s=span, fps=n / span,
        face_in_view=face_s / total_s if total_s > 0 else 0.0, face_px=px,
        brightness=_median(faces["face_brightness"]) if "face_brightness" in faces else None,
        contrast=_median(faces["face_contrast"]) if "face_contrast" in faces else None,
        low_confidence_share=low_s / face_s if face_s > 0 else 0.0,
        flagged_share=flagged, frames_dropped=dropped, frames_received=received,
        series=series, stretches=stretches)
