"""Per-frame analytics of one session: shares, smoothing, ethogram, transitions, peaks, valence.

Every function takes a frame-level DataFrame with the log store's row columns (``timestamp``,
``frame_index``, ``face_index``, ``face_detected``, ``label``, ``confidence`` and the seven
``prob_*`` columns) and returns small tables, so the dashboard only lays results out and never
ships a million points to the browser.

Definitions (also in docs/dashboard.md, so a reader of a chart can check what it means):

* **frame**: one processed video frame, i.e. one ``frame_index`` of a session. A frame without a
  face is logged as one row with ``face_index == -1``; a frame with faces has rows 0..n-1.
* **primary face**: the row with ``face_index == 0``. A monitoring session films one person, so
  per-frame expression measures use the primary face only; extra faces (a passer-by) are ignored.
* **time a frame covers**: the interval to the session's next frame, capped at
  :data:`fer_core.measures.weights.DEFAULT_MAX_GAP_S` (:func:`frame_seconds`). Every share,
  mean and duration below is weighted by it, never by counting rows: processing is faster
  without a face than with one, so row counts over-count face-less time.
* **face-in-view %**: time covered by frames with at least one face / time covered by all frames.
* **time share** of a class: time covered by primary-face frames predicted as that class / time
  covered by all primary-face frames. Frames without a face are excluded, so shares sum to 1.
* **duration** (recorded time): the sum of the time every frame covers.
* **valence**: a *derived estimate*, the probability-weighted sum of :data:`VALENCE_WEIGHTS`. The
  model never predicts valence; this is a convenience summary of the seven probabilities. Its
  session mean is time-weighted like everything else, and so is the mean confidence.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fer_core.labels import FER2013_CLASSES, NEGATIVE_AFFECT
from fer_core.measures.weights import row_durations

CLASSES: tuple[str, ...] = FER2013_CLASSES
PROB_COLUMNS: tuple[str, ...] = tuple(f"prob_{c}" for c in CLASSES)
#: Label used for frames without a face in ethograms and counts.
NO_FACE = "no face"

#: Weights of the derived valence estimate, in [-1, 1]. Chosen from where the basic emotions sit
#: on the pleasant-unpleasant axis of Russell's circumplex model: happy clearly pleasant, surprise
#: mildly pleasant (it is ambiguous), neutral zero, the four negative-affect classes unpleasant,
#: sad and angry a little more so than fear and disgust. Documented so nobody mistakes the
#: estimate for a measured quantity.
VALENCE_WEIGHTS: dict[str, float] = {
    "angry": -0.8,
    "disgust": -0.7,
    "fear": -0.7,
    "happy": 1.0,
    "sad": -0.8,
    "surprise": 0.2,
    "neutral": 0.0,
}
VALENCE_LABEL = "Valence (derived estimate from the class probabilities)"


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty or df["timestamp"].is_monotonic_increasing:
        return df
    return df.sort_values(["timestamp", "frame_index", "face_index"], kind="stable")


def frame_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per frame: the primary face's row, or the no-face row.

    Rows with ``face_index > 0`` are secondary faces and are dropped, so counting rows counts
    frames. Sorted by time.
    """
    return _sorted(df.loc[df["face_index"] <= 0])


def face_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Primary-face rows only (``face_index == 0`` and a face detected), sorted by time.

    Each keeps the ``seconds`` it covers (computed over all frames, see :func:`frame_seconds`),
    so face-only tables can still be weighted by time.
    """
    frames = frame_rows(df)
    frames = frames.assign(seconds=frame_seconds(frames))
    mask = (frames["face_index"] == 0) & frames["face_detected"].fillna(False).astype(bool)
    return frames.loc[mask]


def frame_seconds(frames: pd.DataFrame) -> np.ndarray:
    """Seconds each row of :func:`frame_rows` covers (:func:`~fer_core.measures.weights.\
row_durations`), per session when the rows carry a ``session`` column."""
    groups = frames["session"] if "session" in frames.columns else None
    return row_durations(frames["timestamp"], groups=groups)


def _weighted_mean(values: pd.Series, seconds) -> float:
    """Time-weighted mean of ``values`` (NaN values and zero total time give NaN)."""
    v = pd.to_numeric(values).to_numpy(dtype="float64", na_value=np.nan)
    w = np.asarray(seconds, dtype="float64")
    ok = ~np.isnan(v)
    total = w[ok].sum()
    return float((v[ok] * w[ok]).sum() / total) if total > 0 else math.nan


def valence(probs: pd.DataFrame) -> pd.Series:
    """Derived valence estimate per row: sum of probability x :data:`VALENCE_WEIGHTS`.

    NaN where the probabilities are missing (no face), so gaps stay gaps in charts.
    """
    weights = np.array([VALENCE_WEIGHTS[c] for c in CLASSES], dtype="float64")
    # Column by column: DataFrame.to_numpy(na_value=...) takes a slow per-element path.
    total = np.zeros(len(probs))
    for c, w in zip(CLASSES, weights, strict=True):
        total += w * pd.to_numeric(probs[f"prob_{c}"]).to_numpy(dtype="float64", na_value=np.nan)
    return pd.Series(total, index=probs.index, name="valence")


def class_shares(df: pd.DataFrame) -> pd.Series:
    """Time share of every class (index: :data:`CLASSES`), over primary-face frames' time.

    All zeros when the session has no face at all, never NaN, so callers can always plot it.
    """
    faces = face_rows(df)
    seconds = faces.groupby("label", observed=True)["seconds"].sum()
    seconds = seconds.reindex(list(CLASSES), fill_value=0.0).astype("float64")
    total = seconds.sum()
    shares = seconds / total if total > 0 else seconds * 0.0
    return shares.astype("float64").rename("share")


def negative_share(shares: pd.Series) -> float:
    """Share of the negative-affect classes (angry + disgust + fear + sad)."""
    return float(sum(shares.get(c, 0.0) for c in NEGATIVE_AFFECT))


def dominant_class(shares: pd.Series) -> str | None:
    """Class with the largest time share (first in FER2013 order on ties); None if no face."""
    if shares.sum() <= 0:
        return None
    return str(shares.idxmax())


def session_summary(df: pd.DataFrame) -> dict[str, Any]:
    """The headline numbers of one session (or any set of rows), as a flat dict.

    Keys: ``start``, ``end``, ``duration_s`` (recorded time: the sum of the time every frame
    covers), ``n_frames``, ``n_face_frames``, ``face_seconds``, ``face_in_view``, ``dominant``,
    ``negative_share``, ``mean_valence``, ``mean_confidence``, ``share_<class>`` and
    ``confidence_<class>`` (mean confidence of the frames predicted as that class). Shares and
    means are weighted by the time each frame covers (:func:`frame_seconds`).
    """
    frames = frame_rows(df)
    faces = face_rows(df)
    shares = class_shares(df)
    n_frames = len(frames)  # frame_rows keeps one row per frame, across sessions too
    total_s = float(frame_seconds(frames).sum()) if n_frames else 0.0
    face_s = float(faces["seconds"].sum())
    start = frames["timestamp"].min() if n_frames else None
    end = frames["timestamp"].max() if n_frames else None
    out: dict[str, Any] = {
        "start": start,
        "end": end,
        "duration_s": total_s,
        "n_frames": n_frames,
        "n_face_frames": len(faces),
        "face_seconds": face_s,
        "face_in_view": face_s / total_s if total_s > 0 else 0.0,
        "dominant": dominant_class(shares),
        "negative_share": negative_share(shares),
        "mean_valence": _weighted_mean(valence(faces), faces["seconds"]),
        "mean_confidence": _weighted_mean(faces["confidence"], faces["seconds"]),
    }
    for c in CLASSES:
        out[f"share_{c}"] = float(shares[c])
        part = faces.loc[faces["label"] == c]
        out[f"confidence_{c}"] = _weighted_mean(part["confidence"], part["seconds"])
    return out


def smooth_probabilities(df: pd.DataFrame, window_s: float) -> pd.DataFrame:
    """Centred moving average of the seven probabilities and the valence over ``window_s``.

    The window at time t covers (t - w/2, t + w/2] of primary-face rows; it is time-based, so a
    dropped frame rate does not stretch it. Returns columns ``timestamp``, the prob columns and
    ``valence``. ``window_s <= 0`` returns the raw values.
    """
    faces = face_rows(df)[["timestamp", *PROB_COLUMNS]].copy()
    faces[list(PROB_COLUMNS)] = faces[list(PROB_COLUMNS)].astype("float64")
    faces["valence"] = valence(faces)
    if window_s <= 0 or faces.empty:
        return faces.reset_index(drop=True)
    cols = [*PROB_COLUMNS, "valence"]
    rolled = (
        faces.set_index("timestamp")[cols]
        .rolling(pd.Timedelta(seconds=window_s), center=True)
        .mean()
    )
    return rolled.reset_index()


def timeline(df: pd.DataFrame, window_s: float = 0.0, max_points: int = 1500) -> pd.DataFrame:
    """Chart-ready timeline of the probabilities and valence, at most ``max_points`` rows.

    No-face frames appear as NaN rows so the lines break where the face left the view. When the
    session has more frames than ``max_points``, frames are averaged into equal time bins (the
    returned ``bin_s`` attribute says how wide), which keeps a 9-hour session light in the browser.
    """
    smoothed = smooth_probabilities(df, window_s)
    frames = frame_rows(df)
    gaps = frames.loc[~frames["face_detected"].fillna(False).astype(bool), ["timestamp"]]
    data = pd.concat([smoothed, gaps], ignore_index=True).sort_values("timestamp", kind="stable")
    data = data.reset_index(drop=True)
    bin_s = 0.0
    if len(data) > max_points:
        span = (data["timestamp"].iloc[-1] - data["timestamp"].iloc[0]).total_seconds()
        bin_s = max(span / max_points, 0.001)
        # Round the bin width up to whole milliseconds so bins align with the log's resolution.
        bin_s = math.ceil(bin_s * 1000) / 1000
        key = data["timestamp"].dt.floor(pd.Timedelta(seconds=bin_s))
        data = data.groupby(key).mean(numeric_only=True).reset_index()
    data.attrs["bin_s"] = bin_s
    return data


def dominant_sequence(df: pd.DataFrame, bin_s: float = 0.0) -> pd.DataFrame:
    """Dominant expression over time: columns ``timestamp`` and ``label`` (``"no face"`` gaps).

    Each row starts a stretch that lasts until the next row. With ``bin_s > 0`` frames are
    grouped into time bins, which removes one-frame flicker and bounds the number of ethogram
    segments:

    * a bin is **"no face"** only where the face was absent for *most* of the time its frames
      cover (not merely the largest single label: the face's time is split over seven classes,
      so a 5-s gap in a 15-s bin used to win and paint 15 s of "no face"), and even then the
      "no face" stretch is cut to the bin's real gap, from its first face-less frame to the end
      of its last one; the rest of the bin keeps its dominant expression. So smoothing never
      draws a "no face" block longer than the gap the timeline shows;
    * any other bin takes the expression covering the most face time in it (the earlier FER2013
      class on ties).

    No row starts before the session's first frame (bins are floored on the clock).
    """
    return _dominant_points(df, bin_s)[0]


def _frame_labels(df: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per frame (``timestamp``, ``label`` with :data:`NO_FACE`) and its seconds."""
    frames = frame_rows(df)
    seconds = frame_seconds(frames)
    labels = frames["label"].astype("object").where(
        frames["face_detected"].fillna(False).astype(bool), NO_FACE
    )
    seq = pd.DataFrame({"timestamp": frames["timestamp"].to_numpy(), "label": labels.to_numpy()})
    seq["label"] = seq["label"].fillna(NO_FACE)
    return seq, seconds


def _dominant_points(df: pd.DataFrame, bin_s: float) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """:func:`dominant_sequence` and the end of its last stretch (None when empty; raw
    sequences leave it to the caller)."""
    seq, seconds = _frame_labels(df)
    if bin_s <= 0 or seq.empty:
        return seq, None
    width = pd.Timedelta(seconds=bin_s)
    seq["bin"] = seq["timestamp"].dt.floor(width)
    seq["seconds"] = seconds
    face = seq["label"] != NO_FACE
    total = seq.groupby("bin")["seconds"].sum()
    no_face = seq.loc[~face]
    absent = no_face.groupby("bin")["seconds"].sum().reindex(total.index, fill_value=0.0)
    order = {name: i for i, name in enumerate(CLASSES)}
    counts = seq.loc[face].groupby(["bin", "label"])["seconds"].sum().reset_index(name="n")
    counts["order"] = counts["label"].map(order).fillna(len(order))
    counts = counts.sort_values(["bin", "n", "order"], ascending=[True, False, True])
    best = counts.drop_duplicates("bin").set_index("bin")["label"]
    gap_end = no_face["timestamp"] + pd.to_timedelta(no_face["seconds"], unit="s")
    bins = pd.DataFrame({"covered": total, "absent": absent,
                         "best": best.reindex(total.index),
                         "gap_first": no_face.groupby("bin")["timestamp"].min(),
                         "gap_last": gap_end.groupby(no_face["bin"]).max()})
    starts = bins.index.to_series().clip(lower=seq["timestamp"].iloc[0])
    bin_end = bins.index.to_series() + width
    gap = bins["absent"] > 0.5 * bins["covered"]  # the face was absent most of the bin
    has_face = bins["best"].notna()
    gap_stop = bins["gap_last"].where(bins["gap_last"] < bin_end, bin_end)
    parts = [  # (where, label, order within the bin) of every stretch's start
        (starts[~gap], bins["best"][~gap].fillna(NO_FACE), 0),
        (starts[gap & has_face & (bins["gap_first"] > starts)],
         bins["best"][gap & has_face & (bins["gap_first"] > starts)], 0),
        (bins["gap_first"][gap], pd.Series(NO_FACE, index=bins.index[gap]), 1),
        (gap_stop[gap & has_face & (gap_stop < bin_end)],
         bins["best"][gap & has_face & (gap_stop < bin_end)], 2),
    ]
    out = pd.concat([pd.DataFrame({"timestamp": where.reset_index(drop=True),
                                   "label": label.reset_index(drop=True).astype("object"),
                                   "bin": where.index, "order": order})
                     for where, label, order in parts], ignore_index=True)
    out = out.sort_values(["bin", "order"], kind="stable")[["timestamp", "label"]]
    out = out.reset_index(drop=True)
    last = seq.iloc[-1]
    end = min(seq["bin"].iloc[-1] + width,
              last["timestamp"] + pd.Timedelta(seconds=last["seconds"]))
    return out, end


def ethogram_segments(df: pd.DataFrame, bin_s: float = 0.0) -> pd.DataFrame:
    """Runs of one dominant expression: ``label``, ``start``, ``end``, ``duration_s``.

    A run ends where the next one starts. The last run ends where the last bin's frames end
    (binned), or one typical step (the median gap between frames) after the last frame (raw),
    so a one-frame session still has a visible segment.
    """
    seq, end = _dominant_points(df, bin_s)
    cols = ["label", "start", "end", "duration_s"]
    if seq.empty:
        return pd.DataFrame(columns=cols)
    ts = seq["timestamp"]
    if end is None:
        step = ts.diff().median() if len(ts) > 1 else pd.Timedelta(0)
        end = ts.iloc[-1] + (pd.Timedelta(0) if pd.isna(step) else step)
    new_run = seq["label"].ne(seq["label"].shift())
    run_id = new_run.cumsum()
    runs = seq.groupby(run_id).agg(label=("label", "first"), start=("timestamp", "first"))
    runs["end"] = runs["start"].shift(-1)
    runs.iloc[-1, runs.columns.get_loc("end")] = end
    runs["duration_s"] = (runs["end"] - runs["start"]).dt.total_seconds()
    return runs.reset_index(drop=True)[cols]


def transition_counts(df: pd.DataFrame, min_run_s: float = 0.0) -> pd.DataFrame:
    """How often the predicted expression changed from one class to another.

    Uses primary-face frames in time order; frames without a face are skipped (leaving the view
    is not an expression change). Runs covering less than ``min_run_s`` seconds (by the time
    their frames cover, :func:`frame_seconds`) are treated as flicker and removed before
    counting, and equal neighbours are then merged. Returns ``from``, ``to``, ``count`` sorted
    by count (descending).
    """
    faces = face_rows(df)
    faces = faces.loc[faces["label"].notna()]
    labels = faces["label"].astype("object").to_numpy()
    seconds = faces["seconds"].to_numpy(dtype="float64")
    cols = ["from", "to", "count"]
    if len(labels) < 2:
        return pd.DataFrame(columns=cols)
    change = np.r_[True, labels[1:] != labels[:-1]]
    run_labels = labels[change]
    run_seconds = np.add.reduceat(seconds, np.flatnonzero(change))
    # a tiny tolerance: sums of float seconds must not drop a run of exactly min_run_s
    kept = run_labels[run_seconds >= min_run_s - 1e-9]
    if len(kept) < 2:
        return pd.DataFrame(columns=cols)
    merged = kept[np.r_[True, kept[1:] != kept[:-1]]]
    pairs = pd.DataFrame({"from": merged[:-1], "to": merged[1:]})
    out = pairs.value_counts().reset_index(name="count")
    order = ["count", "from", "to"]
    return out.sort_values(order, ascending=[False, True, True], ignore_index=True)


def class_peaks(df: pd.DataFrame, window_s: float = 0.0) -> pd.DataFrame:
    """Highest (optionally smoothed) probability of each class and when it happened.

    Columns: ``class``, ``peak``, ``timestamp``, ``offset_s`` (seconds from the session start).
    Smoothing first makes a peak a sustained expression rather than one noisy frame.
    """
    smoothed = smooth_probabilities(df, window_s)
    cols = ["class", "peak", "timestamp", "offset_s"]
    if smoothed.empty:
        return pd.DataFrame(columns=cols)
    start = frame_rows(df)["timestamp"].min()
    rows = []
    for c, col in zip(CLASSES, PROB_COLUMNS, strict=True):
        values = smoothed[col]
        if values.notna().any():
            i = values.idxmax()
            ts = smoothed.at[i, "timestamp"]
            rows.append((c, float(values[i]), ts, (ts - start).total_seconds()))
    return pd.DataFrame(rows, columns=cols)
