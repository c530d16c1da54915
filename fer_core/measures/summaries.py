"""Per-session summaries: what the history and overview pages need, computed once per session.

A subject's history over 10M rows cannot be re-aggregated from the raw rows on every cache miss
(seconds of Parquet reading). Each session is therefore reduced once, when it is finished, to a
*summary*: its first and last timestamp, frame count and recorded time, plus one bin per
(UTC minute, label) with the frames, the time they cover and the time-weighted sums of valence
and confidence. Everything the history and overview pages show is a sum of those bins, so
:func:`history_tables` and :func:`label_counts` rebuild exactly the tables that
:func:`~fer_core.measures.history.bucket_counts`,
:func:`~fer_core.measures.history.session_bounds` and the DuckDB label counts give from the
raw rows (to float rounding; a test checks it).

The weighting is the pages' own (:func:`~fer_core.measures.frames.frame_seconds`): bins are made
by :func:`~fer_core.measures.history.bucket_counts` itself, with a one-minute width. A summary
records its :data:`SUMMARY_VERSION` and :func:`weighting_rule`; one made under another version
or rule is stale and must be recomputed from the rows (:func:`stale_reason`). Minutes divide
every 15-minute bucket and every real time zone offset, so local days and hours stay exact.

Pure functions on plain dicts and DataFrames: storing a summary next to a session's Parquet
files is :mod:`fer_core.logstore.summary_file`'s job, reading them for a store
:mod:`fer_core.analytics.store_summaries`'.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fer_core.measures.frames import VALENCE_WEIGHTS
from fer_core.measures.history import (
    BOUND_COLUMNS,
    BUCKET,
    COUNT_COLUMNS,
    _epoch_ms,
    bucket_counts,
    session_bounds,
)
from fer_core.measures.weights import DEFAULT_MAX_GAP_S

#: Bumped whenever the content or meaning of a summary changes; older summaries are recomputed.
#: 2: ``quality`` added (the session's recording quality, :mod:`fer_core.measures.quality`).
SUMMARY_VERSION = 2
#: Width of a summary bin.
BIN = pd.Timedelta(minutes=1)
#: Row columns a summary is computed from (pushed down to the Parquet reader).
SOURCE_COLUMNS = ["timestamp", "frame_index", "face_index", "face_detected", "label",
                  "confidence", *(f"prob_{c}" for c in VALENCE_WEIGHTS),
                  "box_w", "box_h", "face_brightness", "face_contrast"]
#: Columns of a summary's bins (``minute``: epoch milliseconds, UTC, start of the minute).
BIN_COLUMNS = ["minute", "label", "n", "seconds", "valence_sum", "confidence_sum"]
#: Columns of :func:`label_counts`, as :func:`~fer_core.analytics.store_queries.\
#: session_label_counts` returns them.
LABEL_COUNT_COLUMNS = ["subject", "session", "label", "n", "seconds"]

_MS = pd.Timedelta(milliseconds=1)


def weighting_rule() -> dict[str, Any]:
    """The settings a summary's numbers depend on; a summary made under others is stale."""
    return {"max_gap_s": float(DEFAULT_MAX_GAP_S), "bin_s": BIN.total_seconds(),
            "valence_weights": {k: float(v) for k, v in VALENCE_WEIGHTS.items()}}


def session_digest(rows: pd.DataFrame) -> dict[str, Any]:
    """The summary of one session's rows, as a JSON-ready dict.

    ``rows``: the session's log rows (at least :data:`SOURCE_COLUMNS`), any order. Keys:
    ``summary_version``, ``rule``, ``start_ms``/``end_ms`` (first and last frame, epoch ms;
    None without frames), ``n_frames``, ``duration_s`` (recorded time), ``bins`` (a dict of
    equal-length lists, :data:`BIN_COLUMNS`) and ``quality`` (:meth:`Quality.digest` of the
    rows: the verdict the sessions tables show without reading rows).
    """
    from fer_core.measures.quality import session_quality

    frames = rows.assign(session="")
    bins = bucket_counts(frames, BIN)
    bounds = session_bounds(frames)
    out: dict[str, Any] = {"summary_version": SUMMARY_VERSION, "rule": weighting_rule(),
                           "start_ms": None, "end_ms": None, "n_frames": 0, "duration_s": 0.0}
    if not bounds.empty:
        b = bounds.iloc[0]
        out.update(start_ms=int(_epoch_ms(bounds["start"])[0]),
                   end_ms=int(_epoch_ms(bounds["end"])[0]),
                   n_frames=int(b["n_frames"]), duration_s=float(b["duration_s"]))
    minutes = _epoch_ms(bins["bucket"]) if not bins.empty else np.zeros(0, dtype="int64")
    out["bins"] = {
        "minute": [int(v) for v in minutes],
        "label": [str(v) for v in bins["label"]],
        "n": [int(v) for v in bins["n"]],
        **{c: [float(v) for v in bins[c]] for c in ("seconds", "valence_sum", "confidence_sum")},
    }
    out["quality"] = session_quality(rows).digest()
    return out


def stale_reason(digest: Any) -> str | None:
    """Why a stored summary cannot be used (None when it can): never trusted blindly."""
    if not isinstance(digest, dict):
        return "not a summary"
    version = digest.get("summary_version")
    if version != SUMMARY_VERSION:
        return f"summary version {version!r}, expected {SUMMARY_VERSION}"
    if digest.get("rule") != weighting_rule():
        return "made under another weighting rule"
    bins = digest.get("bins")
    if not isinstance(bins, dict) or set(bins) != set(BIN_COLUMNS):
        return "bins missing or malformed"
    lengths = {len(v) if isinstance(v, list) else -1 for v in bins.values()}
    if len(lengths) != 1 or -1 in lengths:
        return "bins of unequal length"
    n_frames = digest.get("n_frames")
    if not isinstance(n_frames, int) or n_frames < 0 or sum(bins["n"]) != n_frames:
        return "frame count does not match its bins"
    if n_frames and not (isinstance(digest.get("start_ms"), int)
                         and isinstance(digest.get("end_ms"), int)):
        return "start or end missing"
    if not isinstance(digest.get("duration_s"), int | float) or not math.isfinite(
            digest["duration_s"]):
        return "duration missing"
    quality = digest.get("quality")
    if not isinstance(quality, dict) or not isinstance(quality.get("verdict"), str):
        return "quality missing"
    return None


def quality_verdicts(digests: list[tuple[str, str, dict[str, Any]]]) -> pd.DataFrame:
    """``subject``, ``session``, ``quality`` (the one-line verdict) of checked summaries."""
    return pd.DataFrame(
        [(subject, session, d["quality"]["verdict"]) for subject, session, d in digests],
        columns=["subject", "session", "quality"])


def summary_tables(digests: list[tuple[str, str, dict[str, Any]]]
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bins and bounds of many sessions' summaries, as two DataFrames.

    ``digests``: (subject, session, summary) triples, summaries checked by :func:`stale_reason`.
    Returns ``bins`` (``subject``, ``session`` and :data:`BIN_COLUMNS`) and ``bounds``
    (``subject`` and the columns of :func:`~fer_core.measures.history.session_bounds`; sessions
    without frames are left out, as from the rows).
    """
    cols: dict[str, list] = {c: [] for c in ["subject", "session", *BIN_COLUMNS]}
    bound_rows = []
    for subject, session, d in digests:
        k = len(d["bins"]["n"])
        cols["subject"].extend([subject] * k)
        cols["session"].extend([session] * k)
        for c in BIN_COLUMNS:
            cols[c].extend(d["bins"][c])
        if d["n_frames"]:
            bound_rows.append((subject, session, d["start_ms"], d["end_ms"], d["n_frames"],
                               float(d["duration_s"])))
    bins = pd.DataFrame({
        "subject": pd.Series(cols["subject"], dtype="object"),
        "session": pd.Series(cols["session"], dtype="object"),
        "minute": np.asarray(cols["minute"], dtype="int64"),
        "label": pd.Series(cols["label"], dtype="object"),
        "n": np.asarray(cols["n"], dtype="int64"),
        **{c: np.asarray(cols[c], dtype="float64")
           for c in ("seconds", "valence_sum", "confidence_sum")},
    })
    b = pd.DataFrame(bound_rows, columns=["subject", "session", "start", "end", "n_frames",
                                          "duration_s"])
    bounds = pd.DataFrame({
        "subject": b["subject"].astype("object"),
        "session": b["session"].astype("object"),
        "start": pd.to_datetime(b["start"].astype("int64"), unit="ms", utc=True),
        "end": pd.to_datetime(b["end"].astype("int64"), unit="ms", utc=True),
        "n_frames": b["n_frames"].astype("int64"),
        "duration_s": b["duration_s"].astype("float64"),
    })
    return bins, bounds.sort_values(["subject", "session"], ignore_index=True)


def history_tables(bins: pd.DataFrame, bounds: pd.DataFrame
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One subject's ``counts`` and ``bounds`` from its summaries' tables (:func:`summary_tables`).

    The same two tables :func:`~fer_core.measures.history.bucket_counts` (15-minute buckets)
    and :func:`~fer_core.measures.history.session_bounds` give from the subject's rows, so
    every history function takes them unchanged.
    """
    if bins.empty:
        counts = pd.DataFrame(columns=COUNT_COLUMNS)
    else:
        bucket_ms = int(BUCKET / _MS)
        keyed = bins.assign(bucket=bins["minute"].to_numpy() // bucket_ms * bucket_ms)
        counts = _sum_by(keyed, ["session", "bucket", "label"])
        counts["bucket"] = pd.to_datetime(counts["bucket"], unit="ms", utc=True)
        counts = counts[COUNT_COLUMNS]
    return counts, bounds.drop(columns=["subject"], errors="ignore")[BOUND_COLUMNS]


def label_counts(bins: pd.DataFrame) -> pd.DataFrame:
    """Frames and their time per (subject, session, label), from summaries' bins.

    The table :func:`~fer_core.analytics.store_queries.session_label_counts` computes with
    DuckDB over the raw rows, for the overview.
    """
    if bins.empty:
        return pd.DataFrame(columns=LABEL_COUNT_COLUMNS)
    return _sum_by(bins, ["subject", "session", "label"])[LABEL_COUNT_COLUMNS]


def _sum_by(bins: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sums of the bins' numbers per ``keys``, sorted by them (integer codes + bincount).

    Why not ``groupby``: this runs on every history cache miss over ~45k bins for 10M rows,
    where pandas' per-call overhead on string keys is most of the time.
    """
    codes, uniques = zip(*(pd.factorize(bins[k]) for k in keys), strict=True)
    key = np.zeros(len(bins), dtype="int64")
    for c, u in zip(codes, uniques, strict=True):
        key = key * len(u) + c
    found, inverse = np.unique(key, return_inverse=True)
    out: dict[str, Any] = {}
    rest = found
    for k, u in reversed(list(zip(keys, uniques, strict=True))):
        rest, idx = np.divmod(rest, len(u))
        out[k] = np.asarray(u)[idx]
    sums = {"n": np.bincount(inverse, weights=bins["n"].to_numpy()).round().astype("int64")}
    for c in ("seconds", "valence_sum", "confidence_sum"):
        sums[c] = np.bincount(inverse, weights=bins[c].to_numpy(), minlength=len(found))
    frame = pd.DataFrame({k: out[k] for k in keys} | sums)
    return frame.sort_values(keys, ignore_index=True)
