"""Finishing a session: compact its files (which writes its summary) and record its end.

A session is finished in one of two ways: its writer closes it (``SessionWriter.close``), or,
when the writer died (SIGKILL, power loss), ``repair`` closes it afterwards. Both used to carry
their own copy of these steps; :func:`finish_session` is now the one sequence both run, so a
closed and a recovered session end up in the same state:

1. compaction: the part files become one sorted file, and the compaction writes
   ``_summary.json`` (:func:`fer_core.logstore.summary_file.ensure_summary`);
2. ``ended_at`` (and, for a recovered session, ``extra["recovered"]``) is set in
   ``_session.json`` under the metadata lock, so markers added concurrently are kept.

The caller holds the session's writer lock (:class:`~fer_core.logstore.session_lock.WriterLock`)
for the whole call and releases it itself: this module never takes or releases that lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fer_core.logstore.compaction import compact_session
from fer_core.logstore.meta import SessionMeta, update_meta

log = logging.getLogger(__name__)


def finish_session(
    directory: Path,
    end: Callable[[], datetime],
    *,
    compact: bool = True,
    compaction_must_succeed: bool = False,
    recovered: bool = False,
    fsync: bool = True,
) -> datetime:
    """Compact the session (unless ``compact`` is False) and set its end time; returns it.

    ``end`` is called after the compaction. Why a callable: the writer's wall-clock end is the
    moment the session is complete on disk, that is after the compaction; a recovered session
    ends at its last stored row, read from the compacted files.

    A failed compaction is logged and the session still gets its end time, because its part
    files stay valid and readable -- unless ``compaction_must_succeed`` (repair: its purpose is
    a clean session, so a failure is raised to the operator and ``ended_at`` stays unset,
    leaving the session for the next repair).
    """
    if compact:
        try:
            compact_session(directory, fsync=fsync)
        except Exception:
            if compaction_must_succeed:
                raise
            log.exception("compaction of %s failed; its part files stay valid", directory)
    when = end()

    def record_end(meta: SessionMeta) -> None:
        meta.ended_at = when
        if recovered:
            meta.extra["recovered"] = True

    update_meta(directory, record_end, fsync=fsync)
    return when
