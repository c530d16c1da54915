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



def as_version_1(session_dir: Path) -> None:
    """Rewrite a session's data files as schema version 1 wrote them: without the columns
    later versions added and with ``fer.schema_version`` 1 (an old session on disk), then
    write its summary again (the files changed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fer_core.logstore.parquet_io import PARQUET_OPTIONS
    from fer_core.logstore.schema import ADDED_IN, META_SCHEMA_VERSION
    from fer_core.logstore.summary_file import write_summary

    added = [c for columns in ADDED_IN.values() for c in columns]
    for path in sorted(session_dir.glob("part-*.parquet")):
        table = pq.read_table(path)
        meta = {**(table.schema.metadata or {}), META_SCHEMA_VERSION: b"1"}
        table = table.drop_columns([c for c in added if c in table.column_names])
        table = table.set_column(0, "schema_version", pa.array([1] * table.num_rows, pa.int16()))
        pq.write_table(table.replace_schema_metadata(meta), path, **PARQUET_OPTIONS)
    if (session_dir / "_summary.json").exists():
        write_summary(session_dir)
