"""One session's detail page in bounded memory: exact figures, downsampled chart rows.

Why: the page used to read every row of the session into pandas. A 6M-row session (a long
recording at 30 frames/s) took 62 s and 2.25 GB to open (issue 23). Above
:data:`LARGE_SESSION_ROWS` rows the page now gets:

* **exact headline figures** (duration, face in view, time shares, negative affect, mean
  valence and confidence, per-class confidence) from the session's summary -- the per-minute
  bins written when the session was closed (:mod:`fer_core.measures.summaries`), which hold
  the time-weighted sums over *all* rows. They equal :func:`session_summary` of all rows
  (``tests/test_session_view.py`` checks it);
* **chart rows**: the primary row of every ``step``-th frame, with ``step`` chosen so at most
  :data:`CHART_FRAMES` frames remain, read batch by batch with pyarrow (memory bounded by the
  batch and the kept rows, not by the session). The charts say they are downsampled.

A session at or below the limit is read whole, exactly as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fer_core.analytics.store_summaries import read_digests
from fer_core.logstore import LogStore
from fer_core.logstore.schema import SORT_KEYS
from fer_core.logstore.store import table_to_pandas
from fer_core.measures.frames import CLASSES, NO_FACE, session_summary
from fer_core.measures.history import session_table
from fer_core.measures.summaries import SOURCE_COLUMNS, history_tables, summary_tables

#: Above this many rows a session's page downsamples its charts.
LARGE_SESSION_ROWS = 1_000_000
#: Frames kept for the charts of a large session (the smoothed line is binned to 1,500 points
#: anyway; this keeps the ethogram and peaks faithful at a fraction of the memory).
CHART_FRAMES = 200_000
#: Rows per Arrow batch while downsampling.
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class SessionView:
    """What a session's page shows: rows for its charts and its exact summary."""

    rows: pd.DataFrame  # every row, or the primary row of every ``step``-th frame
    summary: dict[str, Any]  # session_summary() of all rows
    shares: pd.Series  # time share per class, of all rows
    n_rows: int  # rows in the session
    step: int = 1  # 1: every frame is in ``rows``

    @property
    def downsampled(self) -> bool:
        return self.step > 1


def session_view(root: str | Path, subject: str, session: str, n_rows: int | None = None,
                 *, limit: int | None = None, chart_frames: int | None = None) -> SessionView:
    """The rows and exact summary of one session, downsampled above ``limit`` rows.

    ``n_rows``: the session's row count if the caller has it (``list_sessions``), else it is
    read from the Parquet footers. ``limit``/``chart_frames`` default to
    :data:`LARGE_SESSION_ROWS`/:data:`CHART_FRAMES` (read at call time).
    """
    limit = LARGE_SESSION_ROWS if limit is None else limit
    chart_frames = CHART_FRAMES if chart_frames is None else chart_frames
    store = LogStore(root)
    if n_rows is None:
        listed = store.list_sessions(subject)
        match = listed.loc[listed["session"] == session, "n_rows"]
        n_rows = int(match.iloc[0]) if len(match) else 0
    if n_rows <= limit:
        rows = store.read(subject=subject, session=session)
        summary = session_summary(rows)
        shares = pd.Series({c: summary[f"share_{c}"] for c in CLASSES}, dtype="float64")
        return SessionView(rows, summary, shares, n_rows)
    step = max(2, math.ceil(n_rows / chart_frames))
    rows = every_nth_frame(store, subject, session, step)
    summary = summary_of_all_rows(root, subject, session)
    shares = pd.Series({c: summary[f"share_{c}"] for c in CLASSES}, dtype="float64")
    return SessionView(rows, summary, shares, n_rows, step)


def every_nth_frame(store: LogStore, subject: str, session: str, step: int) -> pd.DataFrame:
    """The primary row (face 0 or the no-face row) of every ``step``-th frame, in time order.

    Read batch by batch from the files every reader uses (:meth:`LogStore.data_files`), so
    memory holds one batch plus the kept rows.
    """
    columns = [*SOURCE_COLUMNS, "box_x", "box_y", "box_w", "box_h"]
    kept: list[pa.RecordBatch] = []
    for path in store.data_files(subject, session):
        parquet = pq.ParquetFile(path)
        names = set(parquet.schema_arrow.names)
        columns = [c for c in columns if c in names]
        # row group by row group: memory is one batch plus what is kept
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            frame = batch.column("frame_index").to_numpy(zero_copy_only=False)
            face = batch.column("face_index").to_numpy(zero_copy_only=False)
            mask = (frame % step == 0) & (face <= 0)
            if mask.any():
                kept.append(batch.filter(pa.array(mask)))
    if not kept:
        return store.read(subject=subject, session=session, columns=columns).iloc[:0]
    table = pa.Table.from_batches(kept).sort_by([k for k in SORT_KEYS if k[0] in columns])
    return table_to_pandas(table)


def summary_of_all_rows(root: str | Path, subject: str, session: str) -> dict[str, Any]:
    """:func:`session_summary` of all the session's rows, from its summary's bins (exact).

    The summary is the stored ``_summary.json`` when it is current, else recomputed from the
    rows (:func:`fer_core.analytics.store_summaries.read_digests`).
    """
    digests = read_digests(root, subject, session)
    bins, bounds = summary_tables(digests)
    counts, bounds = history_tables(bins, bounds)
    table = session_table(counts, bounds)
    if table.empty:
        return session_summary(pd.DataFrame(columns=SOURCE_COLUMNS))
    out = table.iloc[0].to_dict()
    out.pop("session", None)
    out["start"], out["end"] = pd.Timestamp(out["start"]), pd.Timestamp(out["end"])
    by_label = counts.loc[counts["label"] != NO_FACE].groupby("label")[
        ["seconds", "confidence_sum"]].sum()
    for c in CLASSES:
        seconds = float(by_label["seconds"].get(c, 0.0))
        out[f"confidence_{c}"] = (float(by_label["confidence_sum"].get(c, 0.0)) / seconds
                                  if seconds > 0 else math.nan)
    out["dominant"] = out["dominant"] if isinstance(out["dominant"], str) else None
    return out
