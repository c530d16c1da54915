"""Side-by-side comparison of two summaries (two sessions or two periods of one subject)."""

from __future__ import annotations

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


def compare_summaries(a: dict[str, Any], b: dict[str, Any]) -> pd.DataFrame:
    """Table of metric, A, B and B - A.

    Shares are given in percent and their difference in percentage points, durations in minutes,
    so the difference column reads the same way as the values beside it.
    """
    rows = []
    for key, label, kind in METRICS:
        va, vb = a.get(key, math.nan), b.get(key, math.nan)
        va = math.nan if va is None else float(va)
        vb = math.nan if vb is None else float(vb)
        if kind == "share":
            va, vb = 100 * va, 100 * vb
            label = f"{label} (%)"
        elif kind == "minutes":
            va, vb = va / 60, vb / 60
        rows.append((label, va, vb, vb - va))
    return pd.DataFrame(rows, columns=["metric", "A", "B", "difference (B - A)"])


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
