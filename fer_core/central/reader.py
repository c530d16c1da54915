"""Reading the central tables back with fer_core's rule: a frame counts only with its session.

The sessions table is the commit point of a publish (:mod:`fer_core.central.publish`), so the
frames of a session whose row is absent (a publish killed between its two commits) are not
counted. The recipes in docs/log-format.md apply the same rule as a semi join.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fer_core.central import query
from fer_core.central.commit import open_table, with_retries
from fer_core.central.location import CentralStore
from fer_core.central.query import where_equal
from fer_core.central.tables import FRAMES_SCHEMA, SESSIONS_SCHEMA, conform


def sessions(central: CentralStore, subject: str | None = None) -> pa.Table:
    """The sessions table's rows (of one subject), sorted by subject, start and session."""
    def read() -> pa.Table:
        table = open_table(central, central.sessions_uri)
        if table is None:
            return SESSIONS_SCHEMA.empty_table()
        where = "TRUE" if subject is None else where_equal(subject=subject)
        return conform(query.select(table, where), SESSIONS_SCHEMA)

    rows, _ = with_retries(central, "reading the sessions table", read)
    return rows.sort_by([("subject", "ascending"), ("started_at", "ascending"),
                         ("session", "ascending")])


def list_sessions(central: CentralStore, subject: str | None = None) -> pd.DataFrame:
    """The sessions table as a DataFrame (the central counterpart of ``list_sessions``)."""
    return sessions(central, subject).to_pandas()


def read_frames(central: CentralStore, subject: str | None = None,
                session: str | list[str] | None = None) -> pa.Table:
    """Frames of committed sessions (``session``: one central id ``<site>.<local id>`` or a
    list of them), sorted by subject, session, timestamp, frame and face.

    A list reads several sessions of a subject in one scan: after ``logs optimize`` a
    subject's sessions share a few large files, and reading them session by session would
    scan those files once per session (the central cache's sync fetches per subject)."""
    known = sessions(central, subject).select(["subject", "session"])
    if session is not None:
        wanted = [session] if isinstance(session, str) else list(session)
        known = known.filter(pc.is_in(known.column("session"), pa.array(wanted, pa.string())))

    def read() -> pa.Table:
        table = open_table(central, central.frames_uri)
        if table is None or known.num_rows == 0:
            return FRAMES_SCHEMA.empty_table()
        wanted: dict[str, str | list[str]] = {}
        if subject is not None:
            wanted["subject"] = subject  # prunes to the subject's partition
        if session is not None:
            wanted["session"] = known.column("session").to_pylist()
        frames = query.select(table, where_equal(**wanted))
        # a frame counts only when its (subject, session) row exists: a semi join
        frames = frames.join(known, keys=["subject", "session"], join_type="left semi")
        return conform(frames, FRAMES_SCHEMA)

    rows, _ = with_retries(central, "reading the frames table", read)
    return rows.sort_by([("subject", "ascending"), ("session", "ascending"),
                         ("timestamp", "ascending"), ("frame_index", "ascending"),
                         ("face_index", "ascending")])


def count_frames(central: CentralStore,
                 subject: str | None = None) -> dict[tuple[str, str], int]:
    """Rows per (subject, central session id), committed sessions only."""
    table = read_frames(central, subject)
    counts = table.group_by(["subject", "session"]).aggregate([("session", "count")])
    return {(s, x): n for s, x, n in zip(counts.column("subject").to_pylist(),
                                         counts.column("session").to_pylist(),
                                         counts.column("session_count").to_pylist(),
                                         strict=True)}
