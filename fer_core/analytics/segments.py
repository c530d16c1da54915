"""Task segments over a store: which labels a subject's sessions have, and one label's figures
session by session (the arithmetic is :mod:`fer_core.measures.segments`).

Why a store-side layer: comparing "stimulus A" over eight weeks needs only the rows inside the
segments, so each session is read with the store's time filter (first segment start to last
segment end) instead of whole.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fer_core.logstore import LogStore, SessionMeta
from fer_core.measures.segments import labels_of, same_label_across_sessions


def subject_segment_metas(root: str | Path, subject: str) -> list[SessionMeta]:
    """Metadata of the subject's sessions that have at least one segment, oldest first."""
    store = LogStore(root)
    listed = store.list_sessions(subject)
    metas = []
    for session in listed["session"]:
        try:
            meta = store.session_meta(subject, session)
        except LookupError:  # deleted since the listing
            continue
        if meta.segments:
            metas.append(meta)
    return sorted(metas, key=lambda m: (m.started_at, m.session))


def segment_label_counts(metas: list[SessionMeta]) -> pd.DataFrame:
    """Interval-segment labels and in how many sessions each occurs (``label``,
    ``n_sessions``), most frequent first: the picker of "compare one label across sessions"."""
    counts: dict[str, int] = {}
    for meta in metas:
        for label in labels_of(meta.segments):
            counts[label] = counts.get(label, 0) + 1
    table = pd.DataFrame(sorted(counts.items()), columns=["label", "n_sessions"])
    return table.sort_values(["n_sessions", "label"], ascending=[False, True],
                             ignore_index=True)


def label_across_sessions(root: str | Path, subject: str, label: str,
                          metas: list[SessionMeta] | None = None) -> pd.DataFrame:
    """:func:`~fer_core.measures.segments.same_label_across_sessions` for one subject of the
    store, reading only the rows inside the label's segments' time span per session."""
    store = LogStore(root)
    metas = subject_segment_metas(root, subject) if metas is None else metas

    def sessions():
        for meta in metas:
            chosen = [s for s in meta.segments if s.label == label and s.end is not None]
            if not chosen:
                continue
            start = min(s.start for s in chosen)
            end = max(s.end for s in chosen if s.end is not None)
            rows = store.read(subject=subject, session=meta.session, start=start, end=end)
            yield meta.session, meta.started_at, rows, chosen

    return same_label_across_sessions(sessions(), label)
