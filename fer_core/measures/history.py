"""A subject's history across sessions and days, built from compact bucket counts.

A subject can have millions of rows (9 hours at 30 frames/s is ~1M). Instead of keeping frames,
:func:`bucket_counts` reduces them once to the time covered per (session, 15-minute UTC bucket,
label) with time-weighted sums of valence and confidence; every history table (per session,
per day, time-of-day heatmap, period comparisons; baseline flags in
:mod:`fer_core.measures.baseline`) is then a cheap pandas
operation on a few thousand rows, which is what the dashboard caches. Fifteen-minute UTC
buckets convert exactly to any real time zone (all offsets are multiples of 15 minutes), so
local days and hours are computed after aggregation without touching the frames again.

Everything is weighted by the time each frame covers (:mod:`fer_core.measures.weights`), never
by counting rows; ``n`` (frames) is kept only for information.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fer_core.labels import NEGATIVE_AFFECT
from fer_core.measures.frames import (
    CLASSES,
    NO_FACE,
    frame_rows,
    frame_seconds,
    valence,
)

BUCKET = pd.Timedelta(minutes=15)
COUNT_COLUMNS = ["session", "bucket", "label", "n", "seconds", "valence_sum", "confidence_sum"]
BOUND_COLUMNS = ["session", "start", "end", "n_frames", "duration_s"]


def bucket_counts(df: pd.DataFrame, bucket: pd.Timedelta = BUCKET) -> pd.DataFrame:
    """Time per (session, 15-minute UTC bucket, label) with time-weighted valence and confidence.

    ``seconds`` is the time the frames cover (:func:`~fer_core.measures.frames.frame_seconds`;
    a frame counts in the bucket where it starts), ``valence_sum`` and ``confidence_sum`` are
    sums of value x seconds, ``n`` the number of frames. ``label`` is ``"no face"`` for frames
    without a face. Needs the columns ``session``,
    ``timestamp``, ``face_index``, ``face_detected``, ``label``, ``confidence`` and the probs.
    ``bucket`` sets another width (the per-session summaries use one minute,
    :mod:`fer_core.measures.summaries`). Implemented with integer codes and ``np.bincount``
    rather than a pandas groupby on three string keys: this is the one pass over every frame of
    a session or subject (a million rows for nine hours), and the integer route is an order of
    magnitude faster.
    """
    frames = frame_rows(df)
    if frames.empty:
        return pd.DataFrame(columns=COUNT_COLUMNS)
    has_face = frames["face_detected"].fillna(False).to_numpy(dtype=bool)
    s_codes, s_names = pd.factorize(frames["session"])
    l_codes, l_found = pd.factorize(frames["label"])  # missing label -> -1
    l_names = np.array([*map(str, l_found), NO_FACE], dtype=object)
    l_codes = np.where(has_face & (l_codes >= 0), l_codes, len(l_names) - 1)
    ms = _epoch_ms(frames["timestamp"])
    bucket_ms = int(bucket / pd.Timedelta(milliseconds=1))
    b_codes, b_values = pd.factorize(ms // bucket_ms)
    key = (s_codes.astype("int64") * len(b_values) + b_codes) * len(l_names) + l_codes
    secs = frame_seconds(frames)
    val = np.nan_to_num(valence(frames).to_numpy()) * secs
    conf = np.nan_to_num(frames["confidence"].to_numpy(dtype="float64", na_value=np.nan)) * secs
    size = len(s_names) * len(b_values) * len(l_names)
    if size <= 20_000_000:  # dense bincount over the key space: no sort of a million keys
        n_dense = np.bincount(key, minlength=size)
        keys = np.flatnonzero(n_dense)
        n = n_dense[keys]
        sec_sum = np.bincount(key, weights=secs, minlength=size)[keys]
        val_sum = np.bincount(key, weights=val, minlength=size)[keys]
        conf_sum = np.bincount(key, weights=conf, minlength=size)[keys]
    else:
        keys, inverse = np.unique(key, return_inverse=True)
        n = np.bincount(inverse)
        sec_sum = np.bincount(inverse, weights=secs)
        val_sum = np.bincount(inverse, weights=val)
        conf_sum = np.bincount(inverse, weights=conf)
    rest, l_idx = np.divmod(keys, len(l_names))
    s_idx, b_idx = np.divmod(rest, len(b_values))
    out = pd.DataFrame({
        "session": np.asarray(s_names, dtype=object)[s_idx],
        "bucket": pd.to_datetime(np.asarray(b_values)[b_idx] * bucket_ms, unit="ms", utc=True),
        "label": np.asarray(l_names, dtype=object)[l_idx],
        "n": n.astype("int64"),
        "seconds": sec_sum,
        "valence_sum": val_sum,
        "confidence_sum": conf_sum,
    })
    return out.sort_values(["session", "bucket", "label"], ignore_index=True)[COUNT_COLUMNS]


def _epoch_ms(ts: pd.Series) -> np.ndarray:
    """Milliseconds since the epoch (UTC) of a tz-aware timestamp column, as int64."""
    naive = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return naive.to_numpy().astype("datetime64[ms]").astype("int64")


def session_bounds(df: pd.DataFrame) -> pd.DataFrame:
    """First and last timestamp, frame count and recorded time of every session.

    ``duration_s`` is the time the session's frames cover (the same figure as
    ``session_summary``'s), not last minus first timestamp.
    """
    frames = frame_rows(df)
    if frames.empty:
        return pd.DataFrame(columns=BOUND_COLUMNS)
    codes, names = pd.factorize(frames["session"])
    ms = _epoch_ms(frames["timestamp"])
    secs = frame_seconds(frames)
    order = np.arange(len(names))
    start = np.full(len(names), np.iinfo("int64").max)
    end = np.full(len(names), np.iinfo("int64").min)
    np.minimum.at(start, codes, ms)
    np.maximum.at(end, codes, ms)
    out = pd.DataFrame({
        "session": np.asarray(names, dtype=object)[order],
        "start": pd.to_datetime(start, unit="ms", utc=True),
        "end": pd.to_datetime(end, unit="ms", utc=True),
        "n_frames": np.bincount(codes, minlength=len(names)).astype("int64"),
        "duration_s": np.bincount(codes, weights=secs, minlength=len(names)),
    })
    return out.sort_values("session", ignore_index=True)[BOUND_COLUMNS]


def _summarise(counts: pd.DataFrame) -> dict[str, Any]:
    """Shares, face-in-view, valence and confidence of one group of bucket counts (by time)."""
    by_label = counts.groupby("label")[["n", "seconds", "valence_sum", "confidence_sum"]].sum()
    s_all = float(by_label["seconds"].sum())
    face = by_label.drop(index=NO_FACE, errors="ignore")
    s_face = float(face["seconds"].sum())
    out: dict[str, Any] = {
        "n_face_frames": int(face["n"].sum()),
        "face_seconds": s_face,
        "face_in_view": s_face / s_all if s_all > 0 else 0.0,
        "mean_valence": float(face["valence_sum"].sum() / s_face) if s_face > 0 else math.nan,
        "mean_confidence": (float(face["confidence_sum"].sum() / s_face) if s_face > 0
                            else math.nan),
    }
    has_face = s_face > 0
    shares = {c: float(face["seconds"].get(c, 0.0) / s_face) if has_face else 0.0
              for c in CLASSES}
    out["negative_share"] = sum(shares[c] for c in NEGATIVE_AFFECT)
    out["dominant"] = max(CLASSES, key=lambda c: shares[c]) if has_face else None
    for c in CLASSES:
        out[f"share_{c}"] = shares[c]
    return out


def session_table(counts: pd.DataFrame, bounds: pd.DataFrame) -> pd.DataFrame:
    """One row per session, oldest first: start, end, duration_s, n_frames and the summary.

    The same numbers :func:`fer_core.measures.frames.session_summary` gives from frames, and the
    same as :func:`_summarise` of each session's counts, computed for all sessions at once (one
    groupby, not one per session: a 10M-row history has ~100 sessions and this runs on every
    cache miss).
    """
    if bounds.empty:
        return pd.DataFrame()
    sessions = pd.Index(bounds["session"], name="session")
    sums = ["n", "seconds", "valence_sum", "confidence_sum"]
    if counts.empty:
        by_label = pd.DataFrame(columns=sums, index=pd.MultiIndex.from_arrays(
            [[], []], names=["session", "label"]), dtype="float64")
    else:
        by_label = counts.groupby(["session", "label"])[sums].sum()
    labels = by_label.index.get_level_values("label")
    face = by_label.loc[labels != NO_FACE]
    s_all = by_label["seconds"].groupby(level="session").sum().reindex(sessions, fill_value=0.0)
    per_face = face.groupby(level="session")[sums].sum().reindex(sessions, fill_value=0)
    s_face = per_face["seconds"].astype("float64")
    has_face = s_face > 0
    face_s = s_face.where(has_face)
    seconds = face["seconds"].unstack("label").reindex(index=sessions, columns=list(CLASSES))
    shares = seconds.fillna(0.0).div(face_s, axis=0).where(has_face, 0.0).astype("float64")
    table = pd.DataFrame({
        "session": bounds["session"].to_numpy(),
        "start": bounds["start"].to_numpy(),
        "end": bounds["end"].to_numpy(),
        "duration_s": bounds["duration_s"].to_numpy(dtype="float64"),
        "n_frames": bounds["n_frames"].to_numpy(dtype="int64"),
        "n_face_frames": per_face["n"].to_numpy().astype("int64"),
        "face_seconds": s_face.to_numpy(),
        "face_in_view": (s_face / s_all.where(s_all > 0)).fillna(0.0).to_numpy(),
        "mean_valence": (per_face["valence_sum"] / face_s).to_numpy(dtype="float64"),
        "mean_confidence": (per_face["confidence_sum"] / face_s).to_numpy(dtype="float64"),
        "negative_share": shares[list(NEGATIVE_AFFECT)].sum(axis=1).to_numpy(),
        "dominant": np.where(has_face.to_numpy(), shares.idxmax(axis=1).to_numpy(), None),
        **{f"share_{c}": shares[c].to_numpy() for c in CLASSES},
    })
    table["start"] = bounds["start"].to_numpy()
    table["end"] = bounds["end"].to_numpy()
    return table.sort_values("start", ignore_index=True)


def summarise_period(counts: pd.DataFrame, bounds: pd.DataFrame) -> dict[str, Any]:
    """Summary of any set of sessions or buckets (for comparing two periods).

    Duration is the sum of the included sessions' recorded time; shares are over all their face
    time (so long sessions weigh more, as they should for "share of recorded time").
    """
    out = _summarise(counts)
    out["n_sessions"] = int(bounds["session"].nunique())
    out["duration_s"] = float(bounds["duration_s"].sum())
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
    """Time share of each class per local calendar day (rows: day; columns: classes +
    ``face_seconds``, the face time of that day)."""
    face = counts.loc[counts["label"] != NO_FACE]
    if face.empty:
        return pd.DataFrame(columns=["day", *CLASSES, "face_seconds"])
    day = face["bucket"].dt.tz_convert(tz).dt.date.rename("day")
    table = face.groupby([day, face["label"]])["seconds"].sum().unstack(fill_value=0.0)
    table = table.reindex(columns=list(CLASSES), fill_value=0.0)
    face_s = table.sum(axis=1)
    shares = table.div(face_s.where(face_s > 0), axis=0).fillna(0.0)
    shares["face_seconds"] = face_s
    return shares.reset_index()


def valence_by_day(counts: pd.DataFrame, tz: str = "UTC") -> pd.DataFrame:
    """Time-weighted mean derived valence per local day: ``day``, ``mean_valence``,
    ``face_seconds``."""
    face = counts.loc[counts["label"] != NO_FACE]
    if face.empty:
        return pd.DataFrame(columns=["day", "mean_valence", "face_seconds"])
    day = face["bucket"].dt.tz_convert(tz).dt.date.rename("day")
    sums = face.groupby(day)[["valence_sum", "seconds"]].sum()
    secs = sums["seconds"].where(sums["seconds"] > 0)
    out = pd.DataFrame({"mean_valence": sums["valence_sum"] / secs,
                        "face_seconds": sums["seconds"]})
    return out.reset_index()


def time_of_day_heatmap(counts: pd.DataFrame, tz: str = "UTC") -> pd.DataFrame:
    """Time share of each class per local hour of day (rows: hours present; columns: classes).

    Each row sums to 1: it answers "when this person was seen at 9 o'clock, how were the
    expressions distributed", independent of how much was recorded at that hour.
    """
    face = counts.loc[counts["label"] != NO_FACE]
    if face.empty:
        return pd.DataFrame(columns=list(CLASSES))
    hour = face["bucket"].dt.tz_convert(tz).dt.hour.rename("hour")
    table = face.groupby([hour, face["label"]])["seconds"].sum().unstack(fill_value=0.0)
    table = table.reindex(columns=list(CLASSES), fill_value=0.0)
    total = table.sum(axis=1)
    return table.div(total.where(total > 0), axis=0).fillna(0.0)


def negative_share_series(counts: pd.DataFrame, bounds: pd.DataFrame) -> list[float]:
    """Negative-affect share per session, oldest first (the overview's sparkline)."""
    table = session_table(counts, bounds)
    return [] if table.empty else [round(v, 4) for v in table["negative_share"].tolist()]
