"""Figures per task segment: the session figures (shares, face in view, valence, confidence)
over the rows inside a segment, and one segment label compared across sessions.

Why no new arithmetic: a segment's figures are :func:`~fer_core.measures.frames.session_summary`
of the rows inside it, so a segment's "happy 40%" means exactly what the session's does (time
weighted, primary face, no-face frames excluded from the shares). Only the choice of rows is
new:

* a row belongs to a segment when ``start <= timestamp < end`` (the store's own half-open rule,
  ``LogStore.read(start=, end=)``);
* the time a row covers is computed *inside* the segment (rows are grouped per stretch, see
  :func:`rows_in`): the segment's last row covers the step before it, as a session's last row
  does, and never the time after the segment ends;
* several segments with one label in one session are pooled: their rows together, each stretch
  weighted on its own, so the gap between two stretches is not counted as recorded time and
  overlapping segments do not count a row twice.

A point segment (no end) has no rows and no figures. Segments are taken duck-typed (anything
with ``id``, ``label``, ``start``, ``end``, like :class:`fer_core.logstore.meta.Segment`)
because this package must not import the log store (it sits below it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from fer_core.measures.frames import CLASSES, session_summary

#: Figures of a segment, in table order (after the segment's own columns).
FIGURE_COLUMNS = ["recorded_s", "n_frames", "face_in_view", *(f"share_{c}" for c in CLASSES),
                  "mean_valence", "mean_confidence"]
SEGMENT_COLUMNS = ["segment_id", "label", "start", "end", "duration_s", *FIGURE_COLUMNS]
ACROSS_COLUMNS = ["session", "started_at", "n_segments", "duration_s", *FIGURE_COLUMNS]


class SegmentLike(Protocol):
    """What the functions here read of a segment."""

    id: str
    label: str
    start: datetime
    end: datetime | None


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"segment time {value!r} is naive; segments are in UTC")
    return ts.tz_convert("UTC")


def _intervals(segments: Iterable[SegmentLike]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    out = []
    for seg in segments:
        if seg.end is None:
            continue
        start, end = _utc(seg.start), _utc(seg.end)
        if end < start:
            raise ValueError(f"segment {seg.label!r} ends before it starts")
        out.append((start, end))
    return out


def rows_in(rows: pd.DataFrame, segments: Iterable[SegmentLike]) -> pd.DataFrame:
    """The rows inside any of the (interval) segments, each stretch tagged as its own group.

    The returned rows carry a ``session`` column naming the stretch (``"0"``, ``"1"``, ...):
    :func:`~fer_core.measures.frames.frame_seconds` weights rows per ``session``, so no row's
    time reaches across the gap between two stretches. Overlapping segments make one stretch.
    Rows of several faces of one frame share a timestamp, so they always fall together.
    """
    intervals = _intervals(segments)
    if rows.empty or not intervals:
        return rows.iloc[0:0].assign(session=pd.Series(dtype="object"))
    data = rows if rows["timestamp"].is_monotonic_increasing else rows.sort_values(
        ["timestamp", "frame_index", "face_index"], kind="stable")  # the store's order already
    ts = pd.to_datetime(data["timestamp"], utc=True)
    inside = np.zeros(len(data), dtype=bool)
    for start, end in intervals:
        inside |= ((ts >= start) & (ts < end)).to_numpy()
    stretch = np.cumsum(inside & ~np.r_[False, inside[:-1]])
    return data.loc[inside].assign(session=stretch[inside].astype(str))


def _figures(rows: pd.DataFrame) -> dict[str, Any]:
    """The session figures of ``rows`` (from :func:`rows_in`), NaN where nothing was recorded."""
    if rows.empty:
        return {c: (0 if c == "n_frames" else math.nan) for c in FIGURE_COLUMNS} | {
            "recorded_s": 0.0}
    s = session_summary(rows)
    out = {"recorded_s": s["duration_s"], "n_frames": s["n_frames"],
           "face_in_view": s["face_in_view"], "mean_valence": s["mean_valence"],
           "mean_confidence": s["mean_confidence"]}
    has_face = s["face_seconds"] > 0
    for c in CLASSES:
        out[f"share_{c}"] = s[f"share_{c}"] if has_face else math.nan
    return out


def segment_figures(rows: pd.DataFrame, segments: Sequence[SegmentLike], *,
                    include_points: bool = False) -> pd.DataFrame:
    """One row per segment, in time order: its id, label, start, end, ``duration_s`` (end -
    start, wall clock) and the figures of the rows inside it (:data:`FIGURE_COLUMNS`;
    ``recorded_s`` is the time those rows cover, shorter than the duration where frames are
    missing).

    ``rows``: one session's log rows. Interval segments only, unless ``include_points`` (then a
    point has NaN figures and 0 frames). A segment with no face has NaN shares, valence and
    confidence, a segment with no rows NaN face-in-view too.
    """
    records = []
    for seg in segments:
        if seg.end is None and not include_points:
            continue
        start = _utc(seg.start)
        end = None if seg.end is None else _utc(seg.end)
        figures = (_figures(rows_in(rows, [seg])) if end is not None
                   else {c: (0 if c == "n_frames" else math.nan) for c in FIGURE_COLUMNS})
        records.append({"segment_id": seg.id, "label": seg.label, "start": start, "end": end,
                        "duration_s": math.nan if end is None else (end - start).total_seconds(),
                        **figures})
    table = pd.DataFrame(records, columns=SEGMENT_COLUMNS)
    if table.empty:
        return table
    table["end"] = pd.to_datetime(table["end"], utc=True)
    order = table.assign(_end=table["end"].fillna(table["start"]))
    return table.loc[order.sort_values(["start", "_end", "label"], kind="stable").index
                     ].reset_index(drop=True)


def labels_of(segments: Iterable[SegmentLike]) -> list[str]:
    """Distinct labels of the interval segments (the ones with figures), sorted."""
    return sorted({seg.label for seg in segments if seg.end is not None})


def same_label_across_sessions(
        sessions: Iterable[tuple[str, Any, pd.DataFrame, Sequence[SegmentLike]]],
        label: str) -> pd.DataFrame:
    """One segment label's figures in every session that has it, one row per session.

    ``sessions``: ``(session id, started_at, rows, segments)`` per session; ``rows`` need only
    cover the segments' times (a caller may read just those). Sessions without an interval
    segment of ``label`` are left out. Several segments with the label in one session are
    pooled (see the module docstring); ``n_segments`` says how many, ``duration_s`` is their
    summed length. Sorted by ``started_at``.
    """
    if not isinstance(label, str) or not label.strip():
        raise ValueError("pick a non-empty segment label to compare")
    label = label.strip()
    records = []
    for session, started_at, rows, segments in sessions:
        chosen = [s for s in segments if s.label == label and s.end is not None]
        if not chosen:
            continue
        duration = sum((_utc(s.end) - _utc(s.start)).total_seconds() for s in chosen)
        records.append({"session": session, "started_at": _utc(started_at),
                        "n_segments": len(chosen), "duration_s": duration,
                        **_figures(rows_in(rows, chosen))})
    table = pd.DataFrame(records, columns=ACROSS_COLUMNS)
    if table.empty:
        return table
    return table.sort_values(["started_at", "session"], ignore_index=True)
