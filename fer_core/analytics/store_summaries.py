"""The history and overview tables of a store, read from the per-session summaries.

One small ``_summary.json`` per session (:mod:`fer_core.logstore.summary_file`) instead of every
raw row: a subject's history over 10M rows reads ~100 files of a few kB. A summary that is
missing (a session still being recorded, a store written before summaries existed, an import),
unreadable or stale (its files or the weighting rule changed) is recomputed from the session's
raw rows in memory and logged; readers never write to the store, ``logs repair`` stores it.

Raw rows are still what one session's detail page reads, and what the DuckDB and pyarrow
recipes of docs/log-format.md read directly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from fer_core.logstore import LogStore
from fer_core.logstore.meta import read_meta
from fer_core.logstore.summary_file import read_summary, session_dirs, source_fingerprint
from fer_core.measures.summaries import (
    SOURCE_COLUMNS,
    history_tables,
    label_counts,
    quality_verdicts,
    session_digest,
    stale_reason,
    summary_tables,
)

log = logging.getLogger(__name__)


def _why_not_usable(directory: Path, digest: dict[str, Any] | None) -> str | None:
    if digest is None:
        return "no summary"
    reason = stale_reason(digest)
    if reason is not None:
        return reason
    fingerprint = source_fingerprint(directory)
    if fingerprint is None or digest.get("source") != fingerprint:
        return "its data files changed since it was written"
    return None


def read_digests(root: str | Path, subject: str | None = None, session: str | None = None
                 ) -> list[tuple[str, str, dict[str, Any]]]:
    """(subject, session, summary) of every session of ``subject`` (or of the whole store;
    or only ``session`` of it).

    Stored summaries are checked (:func:`fer_core.measures.summaries.stale_reason` and the
    session's current files); any other is recomputed from the rows.
    """
    root = Path(root)
    store = LogStore(root)
    out = []
    for subj, sess, directory in session_dirs(root, subject):
        if session is not None and sess != session:
            continue
        digest = read_summary(directory)
        reason = _why_not_usable(directory, digest)
        if reason is not None:
            meta = read_meta(directory)
            closed = meta is not None and meta.ended_at is not None
            (log.warning if closed else log.info)(
                "summary of %s/%s not used (%s): recomputed from its rows%s", subj, sess,
                reason, "; `logs repair` stores it" if closed else "")
            rows = store.read(subject=subj, session=sess, columns=SOURCE_COLUMNS)
            digest = session_digest(rows)
        out.append((subj, sess, digest))
    return out


def subject_history(root: str | Path, subject: str,
                    digests: list[tuple[str, str, dict[str, Any]]] | None = None,
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``counts`` and ``bounds`` of one subject, as the history functions take them.

    Equal to :func:`~fer_core.measures.history.bucket_counts` and
    :func:`~fer_core.measures.history.session_bounds` of the subject's rows. ``digests``: the
    subject's :func:`read_digests` when the caller has them already.
    """
    bins, bounds = summary_tables(read_digests(root, subject) if digests is None else digests)
    return history_tables(bins, bounds)


def session_verdicts(root: str | Path, subject: str | None = None,
                     digests: list[tuple[str, str, dict[str, Any]]] | None = None,
                     ) -> pd.DataFrame:
    """``subject``, ``session``, ``quality``: every session's recording-quality verdict
    (:mod:`fer_core.measures.quality`), from the summaries (no raw rows for stored ones)."""
    return quality_verdicts(read_digests(root, subject) if digests is None else digests)


def summary_label_counts(root: str | Path, subject: str | None = None) -> pd.DataFrame:
    """Frames and their time per (subject, session, label), from the summaries.

    The same table as :func:`~fer_core.analytics.store_queries.session_label_counts`.
    """
    bins, _ = summary_tables(read_digests(root, subject))
    return label_counts(bins)
