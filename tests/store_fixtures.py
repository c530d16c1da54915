"""Log-store states shared by the store tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fer_core.logstore import LogStore
from fer_core.logstore.synthetic import synthetic_rows

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def uncompacted_session(
    store: LogStore, subject: str, session: str, n_parts: int = 4, per: int = 10
) -> Path:
    """A closed session left as ``n_parts`` part files of ``per`` rows each, never compacted
    (as after a crash before compaction); returns the session's folder."""
    w = store.open_session(subject, session, started_at=T0)
    w._compact_on_close = False
    for k in range(n_parts):
        w.append_many(synthetic_rows(per, T0, first_frame=per * k))
        w.flush()
    w.close()
    return store.root / f"subject={subject}" / f"session={session}"
