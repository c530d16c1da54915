"""A person's baseline: the sessions their other sessions are read against.

Two rules, and every page says which one is in use (:func:`rule_text`):

* **chosen** -- a psychologist marked one or more sessions as baseline (``SessionMeta.baseline``).
  The baseline value of a metric is the chosen sessions *pooled by time*: their per-session
  values weighted by the time each figure is a share of (face time for expression shares,
  valence and confidence; recorded time for face-in-view). That is exactly the figure of one
  long session made of all of them, so a 40-min baseline session weighs four times a 10-min one.
  The spread is the time-weighted standard deviation of the chosen sessions around that value
  (none with one session). A session departs from it when the difference is larger than both
  ``threshold_sd`` spreads and :data:`MIN_DIFFERENCE` (10 percentage points): with a single
  baseline session there is no spread to judge by, and a few points of change are within what
  repeated recordings of the same person show.
* **earlier** -- none chosen (the rule before baselines could be chosen): each session is read
  against the plain mean and sample sd of all its *earlier* sessions, once there are at least
  ``min_history`` of them, and departs when more than ``threshold_sd`` sd away.

All functions take the per-session table of :func:`fer_core.measures.history.session_table`
(``session``, ``start``, the metrics, ``face_seconds``, ``duration_s``) and are pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

RULE_CHOSEN = "chosen"
RULE_EARLIER = "earlier"
#: Smallest difference from a chosen baseline that is reported (a share: 0.10 = 10 points).
MIN_DIFFERENCE = 0.10
#: Plain-language names of the metrics baseline flags can watch.
METRIC_NAMES = {"negative_share": "negative-affect share", "face_in_view": "face-in-view time",
                "share_happy": "happy share", "share_neutral": "neutral share",
                "mean_valence": "mean valence (derived estimate)"}
REFERENCE_COLUMNS = ["session", "start", "value", "baseline_mean", "baseline_sd",
                     "n_baseline", "rule", "is_baseline"]
FLAG_COLUMNS = ["session", "start", "value", "baseline_mean", "baseline_sd", "z", "direction",
                "rule", "observation"]


def weight_column(metric: str) -> str:
    """The time a metric is a share of: recorded time for face-in-view, face time otherwise."""
    return "duration_s" if metric in ("face_in_view", "duration_s") else "face_seconds"


def chosen_sessions(sessions: pd.DataFrame, chosen: Iterable[str]) -> list[str]:
    """The chosen baseline sessions that are in ``sessions``, oldest first."""
    wanted = set(chosen)
    if sessions.empty or not wanted:
        return []
    ordered = sessions.sort_values("start")
    return [s for s in ordered["session"] if s in wanted]


def pooled(sessions: pd.DataFrame, chosen: Iterable[str], metric: str) -> tuple[float, float]:
    """Time-weighted mean and spread of ``metric`` over the ``chosen`` sessions.

    Returns ``(mean, sd)``; ``sd`` is NaN with fewer than two sessions carrying weight, and
    both are NaN when no chosen session has any (e.g. no face at all). ``duration_s`` is
    pooled as the plain mean recorded time per session.
    """
    rows = sessions.loc[sessions["session"].isin(set(chosen))]
    values = rows[metric].to_numpy(dtype="float64")
    if metric == "duration_s":
        weights = np.ones(len(rows))
    else:
        weights = rows[weight_column(metric)].to_numpy(dtype="float64")
    keep = ~np.isnan(values) & (weights > 0)
    values, weights = values[keep], weights[keep]
    if not len(values):
        return math.nan, math.nan
    mean = float(np.average(values, weights=weights))
    if len(values) < 2:
        return mean, math.nan
    sd = float(np.sqrt(np.average((values - mean) ** 2, weights=weights)))
    return mean, sd


def reference_table(sessions: pd.DataFrame, metric: str = "negative_share",
                    chosen: Iterable[str] = (), min_history: int = 3) -> pd.DataFrame:
    """Each session (oldest first) with the baseline it is read against.

    Columns :data:`REFERENCE_COLUMNS`: ``baseline_mean``/``baseline_sd`` of the rule in use
    (NaN where the earlier-sessions rule has fewer than ``min_history`` sessions), the number
    of sessions behind it, the ``rule`` and whether the session is itself a chosen baseline.
    The history charts draw ``baseline_mean`` beside ``value``.
    """
    if sessions.empty:
        return pd.DataFrame(columns=REFERENCE_COLUMNS)
    ordered = sessions.sort_values("start", ignore_index=True)
    values = ordered[metric].to_numpy(dtype="float64")
    base = chosen_sessions(ordered, chosen)
    out = pd.DataFrame({"session": ordered["session"], "start": ordered["start"],
                        "value": values})
    if base:
        mean, sd = pooled(ordered, base, metric)
        out["baseline_mean"], out["baseline_sd"] = mean, sd
        out["n_baseline"] = len(base)
        out["rule"] = RULE_CHOSEN
        out["is_baseline"] = out["session"].isin(base)
        return out[REFERENCE_COLUMNS]
    means, sds, counts = [], [], []
    for i in range(len(ordered)):
        earlier = values[:i][~np.isnan(values[:i])]
        counts.append(len(earlier))
        if len(earlier) < max(min_history, 2):
            means.append(math.nan)
            sds.append(math.nan)
            continue
        means.append(float(earlier.mean()))
        sds.append(float(earlier.std(ddof=1)))
    out["baseline_mean"], out["baseline_sd"], out["n_baseline"] = means, sds, counts
    out["rule"] = RULE_EARLIER
    out["is_baseline"] = False
    return out[REFERENCE_COLUMNS]


def baseline_flags(
    sessions: pd.DataFrame,
    metric: str = "negative_share",
    min_history: int = 3,
    threshold_sd: float = 2.0,
    chosen: Iterable[str] = (),
    min_difference: float = MIN_DIFFERENCE,
) -> pd.DataFrame:
    """Sessions whose ``metric`` departs from this person's baseline (rules: module doc).

    Earlier-sessions rule: a zero sd (identical earlier values) never flags, because
    "infinitely unusual" would overstate a tiny difference. Chosen rule: the baseline sessions
    themselves are never flagged. The text is an observation about the recording, never a
    diagnosis. Returns :data:`FLAG_COLUMNS` (``z`` is NaN where there is no spread).
    """
    ref = reference_table(sessions, metric, chosen, min_history)
    name = METRIC_NAMES.get(metric, metric.replace("_", " "))
    rows = []
    for r in ref.itertuples():
        if math.isnan(r.value) or math.isnan(r.baseline_mean) or r.is_baseline:
            continue
        diff = r.value - r.baseline_mean
        sd = r.baseline_sd
        if r.rule == RULE_EARLIER:
            if sd < 1e-9:
                continue
            z = diff / sd
            if abs(z) <= threshold_sd:
                continue
            against = (f"this person's {r.n_baseline} earlier sessions (mean "
                       f"{r.baseline_mean:.0%}, sd {sd:.0%}; {abs(z):.1f} sd "
                       f"{'above' if z > 0 else 'below'})")
        else:
            spread = 0.0 if math.isnan(sd) else sd
            if abs(diff) <= max(threshold_sd * spread, min_difference):
                continue
            z = diff / sd if spread > 1e-9 else math.nan
            against = (f"the chosen baseline ({r.n_baseline} session(s) pooled by time: "
                       f"{r.baseline_mean:.0%}; {abs(diff):.0%} points "
                       f"{'above' if diff > 0 else 'below'})")
        direction = "higher" if diff > 0 else "lower"
        text = (f"In this session the {name} was {r.value:.0%}, {direction} than in {against}. "
                "This is an observation about the recording, not a diagnosis.")
        rows.append((r.session, r.start, float(r.value), float(r.baseline_mean), float(sd),
                     float(z), direction, r.rule, text))
    return pd.DataFrame(rows, columns=FLAG_COLUMNS)


def baseline_summary(sessions: pd.DataFrame, metrics: Iterable[str], chosen: Iterable[str] = (),
                     before: Any = None, min_history: int = 3) -> tuple[dict[str, float], str]:
    """The baseline's value of each metric, for Compare; and the rule used.

    Chosen: :func:`pooled` over the chosen sessions. Otherwise the plain mean over the sessions
    that started before ``before`` (a timestamp; None = all), when there are at least
    ``min_history`` of them. Returns ``({}, "none")`` when neither applies.
    """
    if sessions.empty:
        return {}, "none"
    base = chosen_sessions(sessions, chosen)
    if base:
        return {m: pooled(sessions, base, m)[0] for m in metrics}, RULE_CHOSEN
    earlier = sessions if before is None else sessions.loc[sessions["start"] < before]
    if len(earlier) < min_history:
        return {}, "none"
    return {m: float(earlier[m].astype("float64").mean()) for m in metrics}, RULE_EARLIER


def rule_text(rule: str, names: list[str] | None = None, min_history: int = 3) -> str:
    """One sentence for the page: which baseline the figures are read against."""
    if rule == RULE_CHOSEN:
        listed = ", ".join(names or [])
        return (f"Baseline: the {len(names or [])} session(s) chosen as baseline"
                + (f" ({listed})" if listed else "")
                + ", pooled by recorded time.")
    if rule == RULE_EARLIER:
        return ("No baseline chosen: each session is read against the mean of this person's "
                f"earlier sessions (at least {min_history} are needed).")
    return (f"No baseline: none is chosen and there are fewer than {min_history} earlier "
            "sessions to compare with.")
