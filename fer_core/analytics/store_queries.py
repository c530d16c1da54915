"""DuckDB queries straight over the log store's Parquet files, for store-wide tables.

The overview needs a little about every session of every subject (the negative-affect share per
session for a sparkline, the recorded hours). Loading all rows through pandas would scale with the
whole store; DuckDB reads only the few columns involved, in parallel, and returns one row per
(subject, session, label) with the time those frames cover, weighted by the same rule as every
other figure (:func:`fer_core.measures.weights.row_duration_sql`).

Which files: exactly those :meth:`fer_core.logstore.LogStore.data_files` names -- the reading
rule of every reader (the compaction snapshot, damaged files and sessions skipped with a
warning) -- never a ``**/*.parquet`` glob, which would count the leftovers of an interrupted
compaction twice and fail on a corrupt file. A file that vanishes between the listing and the
query (a compaction finishing) makes the query run again on a new listing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import duckdb
import pandas as pd

from fer_core.labels import NEGATIVE_AFFECT
from fer_core.logstore import LogStore
from fer_core.logstore.errors import SnapshotRace
from fer_core.logstore.reader import FileInfo, report_bad
from fer_core.measures.frames import NO_FACE
from fer_core.measures.weights import row_duration_sql

log = logging.getLogger(__name__)

LABEL_COUNT_COLUMNS = ["subject", "session", "label", "n", "seconds"]
_RETRIES = 20


def session_label_counts(root: str | Path, subject: str | None = None) -> pd.DataFrame:
    """Frames and their time per (subject, session, label); ``"no face"`` for face-less frames.

    One row per frame is counted (the primary face or the no-face row); ``seconds`` is the time
    those frames cover. An empty store gives an empty table with the same columns.
    """
    store = LogStore(root)
    for attempt in range(_RETRIES):
        if attempt:
            time.sleep(0.005 * attempt)  # let the compaction that raced us finish
        files = store.data_files(subject)
        if not files:
            return pd.DataFrame(columns=LABEL_COUNT_COLUMNS)
        try:
            out = _label_counts(files)
            break
        except duckdb.Error as exc:
            if all(f.exists() for f in files):  # not a race: a file with damaged data pages
                log.warning("label count query failed (%s); counting file by file", exc)
                out = _label_counts_per_file(files)
                break
            log.info("a file vanished during the label count query; listing again")
    else:
        raise SnapshotRace("the store kept changing while its labels were counted")
    out["subject"] = out["subject"].astype(str)
    out["session"] = out["session"].astype(str)
    out["n"] = out["n"].astype("int64")
    out["seconds"] = out["seconds"].astype("float64")
    return out[LABEL_COUNT_COLUMNS]


def _label_counts(files: list[Path]) -> pd.DataFrame:
    sql = f"""
        WITH frames AS (
            SELECT subject, session,
                   CASE WHEN face_detected AND label IS NOT NULL THEN label
                        ELSE '{NO_FACE}' END AS label,
                   {row_duration_sql()} AS seconds
            FROM read_parquet(?, hive_partitioning = true, hive_types_autocast = false,
                              union_by_name = true)
            WHERE face_index <= 0
        )
        SELECT subject, session, label, count(*) AS n, sum(seconds) AS seconds
        FROM frames
        GROUP BY ALL
        ORDER BY subject, session, label
    """
    with duckdb.connect() as con:
        return con.execute(sql, [[str(f) for f in files]]).df()


def _label_counts_per_file(files: list[Path]) -> pd.DataFrame:
    """Slow path: one query per file, skipping (and reporting) the ones that fail."""
    parts = []
    for f in files:
        try:
            parts.append(_label_counts([f]))
        except duckdb.Error as exc:
            report_bad(FileInfo(f, error=f"{type(exc).__name__}: {exc}"))
    if not parts:
        return pd.DataFrame(columns=LABEL_COUNT_COLUMNS)
    keys = ["subject", "session", "label"]
    both = pd.concat(parts, ignore_index=True)
    # a session spread over several files gets its row durations per file here (the last row of
    # each file is capped): a degraded path for stores with a damaged file, logged above
    summed = both.groupby(keys, as_index=False)[["n", "seconds"]].sum()
    return summed.sort_values(keys, ignore_index=True)


def negative_share_by_session(label_counts: pd.DataFrame) -> pd.DataFrame:
    """Negative-affect share of face time per (subject, session): columns + ``negative_share``.

    NaN for a session with no face at all (nothing to share out).
    """
    if label_counts.empty:
        return pd.DataFrame(columns=["subject", "session", "negative_share"])
    face = label_counts.loc[label_counts["label"] != NO_FACE]
    neg = face.loc[face["label"].isin(NEGATIVE_AFFECT)]
    keys = ["subject", "session"]
    total = face.groupby(keys)["seconds"].sum()
    negative = neg.groupby(keys)["seconds"].sum().reindex(total.index, fill_value=0.0)
    all_sessions = label_counts.groupby(keys)["seconds"].sum().index
    share = (negative / total.where(total > 0)).reindex(all_sessions)
    return share.rename("negative_share").reset_index()


def overview_table(
    subjects: pd.DataFrame, sessions: pd.DataFrame, label_counts: pd.DataFrame
) -> pd.DataFrame:
    """One row per subject for the overview page.

    Columns: ``subject``, ``synthetic``, ``n_sessions``, ``total_hours`` (recorded time: the
    time the subject's frames cover, as everywhere else), ``last_session``,
    ``mean_negative_share`` (mean over sessions) and ``negative_trend`` (per-session negative
    share, oldest first, as a list for a sparkline). ``subjects`` and ``sessions`` are the log
    store's ``list_subjects()`` and ``list_sessions()`` tables.
    """
    cols = ["subject", "synthetic", "n_sessions", "total_hours", "last_session",
            "mean_negative_share", "negative_trend"]
    if subjects.empty:
        return pd.DataFrame(columns=cols)
    shares = negative_share_by_session(label_counts)
    merged = sessions[["subject", "session", "started_at"]].merge(
        shares, on=["subject", "session"], how="left"
    ).sort_values(["subject", "started_at"])
    trend = merged.groupby("subject")["negative_share"].apply(
        lambda s: [round(float(v), 4) for v in s.dropna()]
    )
    mean = merged.groupby("subject")["negative_share"].mean()
    seconds = (label_counts.groupby("subject")["seconds"].sum() if not label_counts.empty
               else pd.Series(dtype="float64"))
    out = pd.DataFrame(
        {
            "subject": subjects["subject"].astype(str),
            "synthetic": subjects["synthetic"].astype(bool),
            "n_sessions": subjects["n_sessions"].astype(int),
            "last_session": subjects["last_started_at"],
        }
    )
    out["total_hours"] = out["subject"].map(seconds).fillna(0.0).astype(float) / 3600.0
    out["mean_negative_share"] = out["subject"].map(mean).astype(float)
    out["negative_trend"] = out["subject"].map(trend)
    out["negative_trend"] = out["negative_trend"].apply(lambda v: v if isinstance(v, list) else [])
    return out.sort_values("last_session", ascending=False, ignore_index=True)[cols]


def filter_overview(
    table: pd.DataFrame, search: str = "", synthetic: str = "all", min_sessions: int = 0
) -> pd.DataFrame:
    """Apply the overview's search box and filters (outside any cache).

    ``search`` matches subject ids case-insensitively as a substring; ``synthetic`` is "all",
    "real" or "synthetic".
    """
    mask = pd.Series(True, index=table.index)
    if search.strip():
        mask &= table["subject"].str.contains(search.strip(), case=False, regex=False)
    if synthetic == "real":
        mask &= ~table["synthetic"]
    elif synthetic == "synthetic":
        mask &= table["synthetic"]
    elif synthetic != "all":
        raise ValueError(f"synthetic filter must be all, real or synthetic, not {synthetic!r}")
    mask &= table["n_sessions"] >= min_sessions
    return table.loc[mask].reset_index(drop=True)
