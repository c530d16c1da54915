"""How much time each logged row stands for: the weight of every share, duration and rate.

The live recorder logs a row per *processed* frame, and processing is uneven: a frame without a
face takes a few milliseconds (detection only), a frame with a face several times longer
(detection + classification), and a loaded laptop slows everything down. Counting rows therefore
over-counts whatever is fast to process (in a real two-minute test, 44% "face in view" for a
face that was on screen 75% of the time). Every figure of :mod:`fer_core.analytics` is instead
weighted by the **time a row covers**:

* a row covers the interval from its timestamp to the next row's timestamp of the same session;
* the last row of a session covers the interval from the row before it (the best guess of the
  rate at the end); a session of a single row covers ``cap_s``;
* every interval is capped at ``cap_s`` (:data:`DEFAULT_MAX_GAP_S`), so a stalled stream, a
  paused camera or a laptop that went to sleep does not make one row stand for minutes. Time in
  such a gap beyond the cap is simply not counted as recorded.

Only one row per frame is weighted (the primary face or the no-face row, ``face_index <= 0``);
callers pass those rows' timestamps. The same rule is written once more as SQL for DuckDB
(:func:`row_duration_sql`), and a test checks both give the same seconds on a real store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Longest time one row may stand for, in seconds. Live recording processes 4-30 frames/s and
#: offline analysis of a video at least its sampling rate, so a normal interval is far below
#: 2 s; a longer one means the stream stalled and is not counted beyond this.
DEFAULT_MAX_GAP_S = 2.0


def _as_ms(timestamps) -> np.ndarray:
    """Milliseconds (float64) of datetimes (tz-aware or naive) or of plain seconds."""
    values = pd.Series(timestamps) if not isinstance(timestamps, pd.Series) else timestamps
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values.to_numpy().astype("datetime64[us]").astype("int64") / 1000.0
    return pd.to_numeric(values).to_numpy(dtype="float64") * 1000.0


def row_durations(timestamps, cap_s: float = DEFAULT_MAX_GAP_S, groups=None) -> np.ndarray:
    """Seconds each row covers (see the module docstring), in the order the rows were given.

    ``timestamps``: datetimes (a pandas Series or array, tz-aware or not) or seconds as numbers,
    in any order. ``groups``: optional session key per row; intervals never cross from one group
    to another. Returns a float64 array, every value in ``[0, cap_s]``.
    """
    if cap_s <= 0:
        raise ValueError(f"cap_s must be > 0, got {cap_s}")
    ms = _as_ms(timestamps)
    n = len(ms)
    if n == 0:
        return np.zeros(0, dtype="float64")
    if np.isnan(ms).any():
        raise ValueError("row_durations needs a timestamp on every row")
    codes = np.zeros(n, dtype="int64") if groups is None else pd.factorize(
        pd.Series(groups).astype("object").fillna("").to_numpy())[0]
    order = np.lexsort((ms, codes))  # by group, then by time; stable
    t, g = ms[order], codes[order]
    same_next = np.r_[g[1:] == g[:-1], False]
    same_prev = np.r_[False, g[1:] == g[:-1]]
    step = np.r_[np.diff(t), 0.0] / 1000.0  # to the next row
    back = np.r_[0.0, np.diff(t)] / 1000.0  # from the previous row
    covered = np.where(same_next, step, np.where(same_prev, back, cap_s))
    out = np.empty(n, dtype="float64")
    out[order] = np.minimum(covered, cap_s)
    return out


def row_duration_sql(ts: str = "timestamp", partition: str = "subject, session",
                     order: str = "timestamp, frame_index",
                     cap_s: float = DEFAULT_MAX_GAP_S) -> str:
    """The same rule as :func:`row_durations`, as a DuckDB SQL expression (seconds, DOUBLE).

    Use it in a SELECT over one row per frame (``WHERE face_index <= 0``); ``partition`` names
    the columns that identify a session.
    """
    if cap_s <= 0:
        raise ValueError(f"cap_s must be > 0, got {cap_s}")
    window = f"(PARTITION BY {partition} ORDER BY {order})"
    cap = f"CAST({float(cap_s)!r} AS DOUBLE)"
    return (
        f"least(coalesce("
        f"(epoch_us(lead({ts}) OVER {window}) - epoch_us({ts})) / 1e6, "
        f"(epoch_us({ts}) - epoch_us(lag({ts}) OVER {window})) / 1e6, "
        f"{cap}), {cap})"
    )
