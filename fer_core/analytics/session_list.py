"""The sessions table of a subject: names, filters, sort and its CSV (issue 19 item 2).

A session is shown by its label and local start time ("intake · 2026-11-02 10:00"), not by its
id (a UTC timestamp that reads like a second, contradicting start time). The CSV keeps what a
spreadsheet needs: subject and label columns, durations in seconds as numbers and local start
times with the zone named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from fer_core.analytics.compare import period_instants
from fer_core.measures.frames import CLASSES

#: Columns of :func:`session_list` beyond the per-session figures.
LIST_COLUMNS = ["session", "name", "label", "start", "operator", "notes", "baseline", "synthetic"]
SORT_KEYS = {"newest first": ("start", False), "oldest first": ("start", True),
             "label": ("label", True), "operator": ("operator", True),
             "negative affect (high first)": ("negative_share", False),
             "recorded time (long first)": ("duration_s", False)}


def session_name(label: str, start, tz: str) -> str:
    """``"intake · 2026-11-02 10:00"``, or the local start time alone for an unlabelled one."""
    when = pd.Timestamp(start).tz_convert(tz).strftime("%Y-%m-%d %H:%M")
    label = (label or "").strip()
    return f"{label} · {when}" if label else when


def session_names(listing: pd.DataFrame, tz: str) -> dict[str, str]:
    """Session id -> unique display name (two sessions in the same minute get ``#2``)."""
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    for r in listing.sort_values("started_at").itertuples():
        name = session_name(getattr(r, "label", ""), r.started_at, tz)
        seen[name] = seen.get(name, 0) + 1
        out[r.session] = name if seen[name] == 1 else f"{name} #{seen[name]}"
    return out


def first_line(text: str) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def session_list(figures: pd.DataFrame, listing: pd.DataFrame, tz: str) -> pd.DataFrame:
    """One row per session: :data:`LIST_COLUMNS` and the figures of ``figures``.

    ``figures``: :func:`fer_core.measures.history.session_table`; ``listing``: the store's
    ``list_sessions`` of the subject (label, operator, notes, baseline). ``notes`` is the first
    line only (the rest is on the session's page).
    """
    info = listing.set_index("session")
    names = session_names(listing, tz)
    table = figures.copy()
    for col, default in (("label", ""), ("operator", ""), ("notes", ""), ("baseline", False),
                         ("synthetic", False)):
        values = info[col] if col in info.columns else pd.Series(default, index=info.index)
        table[col] = table["session"].map(values).fillna(default)
    table["notes"] = table["notes"].map(first_line)
    table["baseline"] = table["baseline"].astype(bool)
    table["name"] = table["session"].map(names).fillna(table["session"])
    rest = [c for c in table.columns if c not in LIST_COLUMNS]
    return table[LIST_COLUMNS + rest]


def filter_session_list(table: pd.DataFrame, *, label: str = "", start: dt.date | None = None,
                        end: dt.date | None = None, operators: Iterable[str] = (),
                        tz: str = "UTC", sort: str = "newest first") -> pd.DataFrame:
    """The sessions whose label contains ``label`` (any case), that start within the local days
    ``start``..``end`` (both shown days included: :func:`period_instants`), by one of
    ``operators`` (none = all), sorted by ``sort`` (a key of :data:`SORT_KEYS`)."""
    if sort not in SORT_KEYS:
        raise ValueError(f"sort must be one of {sorted(SORT_KEYS)}, not {sort!r}")
    mask = pd.Series(True, index=table.index)
    if label.strip():
        mask &= table["label"].str.contains(label.strip(), case=False, regex=False)
    starts = pd.to_datetime(table["start"], utc=True)
    if start is not None:
        mask &= starts >= period_instants(start, start, tz)[0]
    if end is not None:
        mask &= starts < period_instants(end, end, tz)[1]
    operators = list(operators)
    if operators:
        mask &= table["operator"].isin(operators)
    column, ascending = SORT_KEYS[sort]
    out = table.loc[mask]
    return out.sort_values([column, "start"], ascending=[ascending, False],
                           kind="stable").reset_index(drop=True)


def sessions_csv(table: pd.DataFrame, subject: str, tz: str) -> str:
    """The sessions table as CSV: subject, session, label, local start/end with the zone named,
    durations in seconds (numbers), operator, notes (first line), baseline and the figures
    (shares as fractions 0..1, as in the log store's documentation)."""
    start = pd.to_datetime(table["start"], utc=True).dt.tz_convert(tz)
    end = pd.to_datetime(table["end"], utc=True).dt.tz_convert(tz)
    out = pd.DataFrame({
        "subject": subject,
        "session": table["session"],
        "label": table["label"],
        "start_local": start.map(lambda t: t.isoformat(timespec="seconds")),
        "end_local": end.map(lambda t: t.isoformat(timespec="seconds")),
        "time_zone": tz,
        "duration_s": table["duration_s"].astype("float64").round(3),
        "face_seconds": table["face_seconds"].astype("float64").round(3),
        "operator": table["operator"],
        "notes_first_line": table["notes"],
        "baseline": table["baseline"].astype(bool),
        "n_frames": table["n_frames"],
        "face_in_view": table["face_in_view"],
        "negative_share": table["negative_share"],
        "mean_valence": table["mean_valence"],
        "mean_confidence": table["mean_confidence"],
        "dominant": table["dominant"],
        **{f"share_{c}": table[f"share_{c}"] for c in CLASSES},
    })
    return out.to_csv(index=False)
