"""A subject's history across sessions and days, built from compact bucket counts.

A subject can have millions of rows (9 hours at 30 frames/s is ~1M). Instead of keeping frames,
:func:`bucket_counts` reduces them once to counts per (session, 15-minute UTC bucket, label) with
summed valence and confidence; every history table (per session, per day, time-of-day heatmap,
baseline flags, period comparisons) is then a cheap pandas operation on a few thousand rows,
which is what the dashboard caches. Fifteen-minute UTC buckets convert exactly to any real
time zone (all offsets are multiples of 15 minutes), so local days and hours are computed after
aggregation without touching the frames again.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fer_core.analytics.frames import (
    CLASSES,
    NO_FACE,
    frame_rows,
    valence,
)
from fer_core.labels import NEGATIVE_AFFECT

BUCKET = pd.Timedelta(minutes=15)
COUNT_COLUMNS = ["session", "bucket", "label", "n", "valence_sum", "confidence_sum"]
BOUND_COLUMNS = ["session", "start", "end", "n_frames"]
#: Plain-language names of the metrics baseline flags can watch.
METRIC_NAMES = {"negative_share": "negative-affect share", "face_in_view": "face-in-view time",
                "share_happy": "happy share", "share_neutral": "neutral share"}


def bucket_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Counts per (session, 15-minute UTC bucket, label) with summed valence and confidence.

    ``label`` is ``"no face"`` for frames without a face. Needs the columns ``session``,
    ``timestamp``, ``face_index``, ``face_detected``, ``label``, ``confidence`` and the probs.
    """
    frames = frame_rows(df)
    if frames.empty:
        return pd.DataFrame(columns=COUNT_COLUMNS)
    has_face = frames["face_detected"].fillna(False).astype(bool).to_numpy()
    label = frames["label"].astype("object").to_numpy().copy()
    label[~has_face] = NO_FACE
    label[pd.isna(label)] = NO_FACE
    work = pd.DataFrame(
        {
            "session": frames["session"].astype("object").to_numpy(),
            "bucket": frames["timestamp"].dt.floor(BUCKET).to_numpy(),
            "label": label,
            "valence": valence(frames).to_numpy(),
            "confidence": frames["confidence"].astype("float64").to_numpy(),
        }
    )
    out = work.groupby(["session", "bucket", "label"], sort=True).agg(
        n=("label", "size"),
        valence_sum=("valence", "sum"),
        confidence_sum=("confidence", "sum"),
    )
    out = out.reset_index()
    out["bucket"] = pd.to_datetime(out["bucket"], utc=True)
    return out[COUNT_COLUMNS]


def session_bounds(df: pd.DataFrame) -> pd.DataFrame:
    """First and last timestamp and frame count of every session (``BOUND_COLUMNS``)."""
    frames = frame_rows(df)
    if frames.empty:
        return pd.DataFrame(columns=BOUND_COLUMNS)
    out = frames.groupby("session", sort=True).agg(
        start=("timestamp", "min"), end=("timestamp", "max"), n_frames=("frame_index", "nunique")
    )
    return out.reset_index()[BOUND_COLUMNS]


def _summarise(counts: pd.DataFrame) -> dict[str, Any]:
    """Shares, face-in-view, valence and confidence of one group of bucket counts."""
    by_label = counts.groupby("label")[["n", "valence_sum", "confidence_sum"]].sum()
    n_all = float(by_label["n"].sum())
    face = by_label.drop(index=NO_FACE, errors="ignore")
    n_face = float(face["n"].sum())
    out: dict[str, Any] = {
        "n_face_frames": int(n_face),
        "face_in_view": n_face / n_all if n_all else 0.0,
        "mean_valence": float(face["valence_sum"].sum() / n_face) if n_face else math.nan,
        "mean_confidence": float(face["confidence_sum"].sum() / n_face) if n_face else math.nan,
    }
    shares = {c: float(face["n"].get(c, 0.0) / n_face) if n_face else 0.0 for c in CLASSES}
    out["negative_share"] = sum(shares[c] for c in NEGATIVE_AFFECT)
    out["dominant"] = max(CLASSES, key=lambda c: shares[c]) if n_face else None
    for c in CLASSES:
        out[f"share_{c}"] = shares[c]
    return out


def session_table(counts: pd.DataFrame, bounds: pd.DataFrame) -> pd.DataFrame:
    """One row per session, oldest first: start, end, duration_s, n_frames and the summary.

    The same numbers :func:`fer_core.analytics.frames.session_summary` gives from frames.
    """
    rows = []
    grouped = dict(tuple(counts.groupby("session"))) if not counts.empty else {}
    for b in bounds.itertuples(index=False):
        row = {
            "session": b.session,
            "start": b.start,
            "end": b.end,
            "duration_s": float((b.end - b.start).total_seconds()),
            "n_frames": int(b.n_frames),
        }
        row.update(_summarise(grouped.get(b.session, counts.iloc[0:0])))
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values("start", ignore_index=True)


def summarise_period(counts: pd.DataFrame, bounds: pd.DataFrame) -> dict[str, Any]:
    """Summary of any set of sessions or buckets (for comparing two periods).

    Duration is the sum of the included sessions' durations; shares are over all their face
    frames (so long sessions weigh more, as they should for "share of recorded time").
    """
    out = _summarise(counts)
    out["n_sessions"] = int(bounds["session"].nunique())
    out["duration_s"] = float((bounds["end"] - bounds["start"]).dt.total_seconds().sum())
    out["n_frames"] = int(bounds["n_frames"].sum())
    return out


def filter_counts(counts: pd.DataFrame, start=None, end=None, tz: str = "UTC") -> pd.DataFrame:
    """Buckets whose local date lies in [start, end] (dates, inclusive; None = open)."""
    if counts.empty:
        return counts
    day = counts["bucket"].dt.tz_convert(tz).dt.date
    mask = pd.Series(True, index=counts.index)
    if start is not None:
        mask &= day >= start
    if end is not None:
        mask &= day <= end
    return counts.loc[mask]


def shares_by_day(counts: pd.DataFrame, tz: str = "UTC") -> pd.DataFrame:
    """Share of each class per local calendar day (rows: day; columns: classes + n_face)."""
    face = counts.loc[counts["label"] != NO_FACE]
    if face.empty:
        return pd.DataFrame(columns=["day", *CLASSES, "n_face"])
    day = face["bucket"].dt.tz_convert(tz).dt.date.rename("day")
    table = face.groupby([day, face["label"]])["n"].sum().unstack(fill_value=0)
    table = table.reindex(columns=list(CLASSES), fill_value=0)
    n_face = table.sum(axis=1)
    shares = table.div(n_face, axis=0)
    shares["n_face"] = n_face
    return shares.reset_index()


def valence_by_day(counts: pd.DataFrame, tz: str = "UTC") -> pd.DataFrame:
    """Mean derived valence per local day: columns ``day``, ``mean_valence``, ``n_face``."""
    face = counts.loc[counts["label"] != NO_FACE]
    if face.empty:
        return pd.DataFrame(columns=["day", "mean_valence", "n_face"])
    day = face["bucket"].dt.tz_convert(tz).dt.date.rename("day")
    sums = face.groupby(day)[["valence_sum", "n"]].sum()
    out = pd.DataFrame({"mean_valence": sums["valence_sum"] / sums["n"], "n_face": sums["n"]})
    return out.reset_index()


def time_of_day_heatmap(counts: pd.DataFrame, tz: str = "UTC") -> pd.DataFrame:
    """Share of each class per local hour of day (rows: hours 0-23 present; columns: classes).

    Each row sums to 1: it answers "when this person was seen at 9 o'clock, how were the
    expressions distributed", independent of how much was recorded at that hour.
    """
    face = counts.loc[counts["label"] != NO_FACE]
    if face.empty:
        return pd.DataFrame(columns=list(CLASSES))
    hour = face["bucket"].dt.tz_convert(tz).dt.hour.rename("hour")
    table = face.groupby([hour, face["label"]])["n"].sum().unstack(fill_value=0)
    table = table.reindex(columns=list(CLASSES), fill_value=0)
    return table.div(table.sum(axis=1), axis=0)


def baseline_flags(
    sessions: pd.DataFrame,
    metric: str = "negative_share",
    min_history: int = 3,
    threshold_sd: float = 2.0,
) -> pd.DataFrame:
    """Sessions whose ``metric`` departs from the person's own earlier sessions.

    For each session (oldest first) with at least ``min_history`` earlier sessions, compare its
    value to the mean and sample standard deviation of all earlier sessions; flag it when it is
    more than ``threshold_sd`` sd away. A zero sd (identical earlier values) never flags, because
    "infinitely unusual" would overstate a tiny difference. The text is an observation about the
    recording, never a diagnosis. Returns ``session``, ``start``, ``value``, ``baseline_mean``,
    ``baseline_sd``, ``z``, ``direction``, ``observation``.
    """
    cols = ["session", "start", "value", "baseline_mean", "baseline_sd", "z", "direction",
            "observation"]
    rows = []
    if sessions.empty:
        return pd.DataFrame(columns=cols)
    ordered = sessions.sort_values("start", ignore_index=True)
    values = ordered[metric].to_numpy(dtype="float64")
    name = METRIC_NAMES.get(metric, metric.replace("_", " "))
    for i in range(min_history, len(ordered)):
        earlier = values[:i][~np.isnan(values[:i])]
        if len(earlier) < min_history or np.isnan(values[i]):
            continue
        mean, sd = float(earlier.mean()), float(earlier.std(ddof=1))
        if sd < 1e-9:
            continue
        z = (values[i] - mean) / sd
        if abs(z) > threshold_sd:
            direction = "higher" if z > 0 else "lower"
            text = (
                f"In this session the {name} was {values[i]:.0%}, {direction} than in this "
                f"person's {len(earlier)} earlier sessions (mean {mean:.0%}, sd {sd:.0%}; "
                f"{abs(z):.1f} sd {'above' if z > 0 else 'below'}). This is an observation "
                "about the recording, not a diagnosis."
            )
            rows.append((ordered.at[i, "session"], ordered.at[i, "start"], float(values[i]),
                         mean, sd, float(z), direction, text))
    return pd.DataFrame(rows, columns=cols)


def negative_share_series(counts: pd.DataFrame, bounds: pd.DataFrame) -> list[float]:
    """Negative-affect share per session, oldest first (the overview's sparkline)."""
    table = session_table(counts, bounds)
    return [] if table.empty else [round(v, 4) for v in table["negative_share"].tolist()]
