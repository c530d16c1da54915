"""Side-by-side comparison of two summaries (two sessions or two periods of one subject)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from fer_core.measures.frames import CLASSES

#: (key, human label, kind) of the compared metrics; kind decides the unit of the difference.
METRICS: list[tuple[str, str, str]] = [
    ("duration_s", "Recorded time (min)", "minutes"),
    ("face_in_view", "Face in view", "share"),
    ("negative_share", "Negative-affect share", "share"),
    *[(f"share_{c}", f"Share {c}", "share") for c in CLASSES],
    ("mean_valence", "Mean valence (derived estimate)", "number"),
    ("mean_confidence", "Mean confidence", "number"),
]


METRIC_KEYS = [key for key, _, _ in METRICS]


def _value(summary: dict[str, Any], key: str, kind: str) -> float:
    v = summary.get(key, math.nan)
    v = math.nan if v is None else float(v)
    return 100 * v if kind == "share" else v / 60 if kind == "minutes" else v


def compare_summaries(a: dict[str, Any], b: dict[str, Any],
                      baseline: dict[str, Any] | None = None) -> pd.DataFrame:
    """Table of metric, A, B and B - A; with a ``baseline``, also it and A/B minus it.

    Shares are given in percent and their difference in percentage points, durations in minutes,
    so the difference column reads the same way as the values beside it. ``baseline`` is a
    summary of the same keys (:func:`fer_core.measures.baseline.baseline_summary`).
    """
    rows = []
    for key, label, kind in METRICS:
        va, vb = _value(a, key, kind), _value(b, key, kind)
        row = [f"{label} (%)" if kind == "share" else label, va, vb, vb - va]
        if baseline:
            base = _value(baseline, key, kind)
            row += [base, va - base, vb - base]
        rows.append(row)
    columns = ["metric", "A", "B", "difference (B - A)"]
    if baseline:
        columns += ["baseline", "A - baseline", "B - baseline"]
    return pd.DataFrame(rows, columns=columns)


def period_instants(start: dt.date, end: dt.date, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The instants ``[start 00:00, day after end 00:00)`` of a period of local days.

    Why half-open: the pickers show whole days, both ends included ("11/19 - 11/25"), and two
    adjacent periods (A ends 11/25, B starts 11/26) then share no instant, so no session can
    fall in both.
    """
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")
    first = pd.Timestamp(start).tz_localize(tz)
    after = pd.Timestamp(end + dt.timedelta(days=1)).tz_localize(tz)
    return first, after


def sessions_in_period(sessions: pd.DataFrame, start: dt.date, end: dt.date,
                       tz: str) -> list[str]:
    """Sessions (of a ``session_table``) that *start* in the period: each session counts whole,
    in exactly one of two adjacent periods, even when it runs past midnight."""
    first, after = period_instants(start, end, tz)
    starts = pd.to_datetime(sessions["start"], utc=True)
    return sessions.loc[(starts >= first) & (starts < after), "session"].tolist()


def default_periods(days: list[dt.date] | pd.Series
                    ) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
    """Adjacent, disjoint default periods A and B over the days that have sessions.

    The days with sessions are split in two halves (A the earlier, smaller half when odd): A
    runs from the first day to the day before B's first day. With a single day both are that
    day (there is nothing to split).
    """
    unique = sorted(set(pd.Series(days).dropna()))
    if not unique:
        raise ValueError("no session days to split into periods")
    if len(unique) == 1:
        return (unique[0], unique[0]), (unique[0], unique[0])
    k = len(unique) // 2
    return (unique[0], unique[k] - dt.timedelta(days=1)), (unique[k], unique[-1])


def display_values(table: pd.DataFrame, decimals: int = 2) -> pd.DataFrame:
    """The numeric columns of :func:`compare_summaries` as text with ``decimals`` places.

    Why not a plain format string: a difference of -0.001 prints as "-0.00", which reads as a
    (tiny) fall where a clinician should read "no change". Values that round to zero print as
    "0.00"; a missing value prints as "—".
    """
    out = table.copy()
    for col in out.columns:
        if col == "metric":
            continue
        out[col] = [
            "—" if v is None or math.isnan(v) else f"{round(float(v), decimals) + 0.0:.{decimals}f}"
            for v in table[col]
        ]
    return out
