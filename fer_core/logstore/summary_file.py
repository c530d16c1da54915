"""A session's summary file, ``_summary.json``: written when a session is finished, never trusted
blindly when read.

What it holds is :func:`fer_core.measures.summaries.session_digest` of the session's rows, plus
``source``: the name and size of every data file in the session folder when it was computed.
The name starts with ``_`` and does not end in ``.parquet``, so pyarrow, Spark, DuckDB globs
over ``**/*.parquet`` and every other reader of the raw rows skip it.

When it is written: at the end of every compaction (:func:`fer_core.logstore.compaction.\
compact_session`, which closing a session and ``logs repair`` both run), and by
:func:`refresh_summaries` (``logs repair``) for closed sessions whose summary is missing or stale.
A summary is usable only while its ``source`` equals the session's data files
(:func:`source_fingerprint`): compaction gives every new file a new name, so any change of the
data makes the summary stale, and a reader recomputes it from the rows rather than trust it.

The arithmetic lives in :mod:`fer_core.measures`, a pure package *below* the store: the store
never imports the analytics package, which reads the store (issue 20: the two packages were
tied through an import inside a function). The import is still made inside the functions that
need it, so importing the log store does not load pandas.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from fer_core.logstore.catalog import session_pairs
from fer_core.logstore.errors import SnapshotRace
from fer_core.logstore.fsutil import atomic_write_bytes
from fer_core.logstore.layout import COMPACT_RE, PART_RE, session_dir, snapshot
from fer_core.logstore.meta import read_meta
from fer_core.logstore.parquet_io import read_parquet
from fer_core.logstore.schema import ROW_SCHEMA, SCHEMA_VERSION, conform, file_schema_version
from fer_core.logstore.session_lock import WriterLock

log = logging.getLogger(__name__)

SUMMARY_FILE = "_summary.json"


def session_dirs(root: Path, subject: str | None = None) -> list[tuple[str, str, Path]]:
    """(subject, session, directory) of every session folder under ``root`` (sorted)."""
    return [(subj, sess, session_dir(root, subj, sess))
            for subj, sess in session_pairs(root, subject)]


def source_fingerprint(directory: Path) -> list[list[Any]] | None:
    """``[name, size]`` of every data file in the session folder; None if the folder is gone.

    From the directory listing alone (no manifest read): a cold history read opens one file per
    session, the summary. Leftovers of an interrupted compaction are counted too, so they make
    the summary stale until ``logs repair`` cleans up, never wrongly current.
    """
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return None
    try:
        return sorted([e.name, e.stat().st_size] for e in entries
                      if PART_RE.fullmatch(e.name) or COMPACT_RE.fullmatch(e.name))
    except FileNotFoundError:  # a file went away while we looked: a compaction is running
        return None


def read_summary(directory: Path) -> dict[str, Any] | None:
    """The stored summary as written, or None when it is missing or not valid JSON."""
    try:
        data = json.loads((directory / SUMMARY_FILE).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("unreadable %s in %s: %s", SUMMARY_FILE, directory, exc)
        return None
    return data if isinstance(data, dict) else None


def _read_rows(directory: Path, columns: list[str]) -> pa.Table:
    """The session's live rows (``columns`` only); unreadable files are skipped, as readers do."""
    tables = []
    for path in snapshot(directory).files:
        try:
            table = read_parquet(path)
            version = file_schema_version(table.schema)
            if version is not None and version > SCHEMA_VERSION:
                continue
            tables.append(conform(table).select(columns))
        except (OSError, ValueError, pa.ArrowException) as exc:
            log.warning("summary of %s skips unreadable %s: %s", directory, path.name, exc)
    if not tables:
        return ROW_SCHEMA.empty_table().select(columns)
    return pa.concat_tables(tables)


def write_summary(directory: Path, rows: pa.Table | None = None, *,
                  fsync: bool = True) -> dict[str, Any]:
    """Compute and publish the session's summary; returns it.

    ``rows``: the session's live rows when the caller has them already (compaction); otherwise
    they are read. The caller holds the session's writer lock, so the files cannot change
    between reading them and recording their fingerprint.
    """
    from fer_core.measures.summaries import SOURCE_COLUMNS, session_digest

    fingerprint = source_fingerprint(directory)
    if fingerprint is None:
        raise SnapshotRace(str(directory))
    table = (rows if rows is not None else _read_rows(directory, SOURCE_COLUMNS))
    digest = session_digest(table.select(SOURCE_COLUMNS).to_pandas())
    digest["source"] = fingerprint
    atomic_write_bytes(directory / SUMMARY_FILE, json.dumps(digest).encode(), fsync=fsync)
    return digest


def summary_is_current(directory: Path, digest: dict[str, Any] | None) -> bool:
    """True when ``digest`` was made from exactly the session's live files, by today's rules."""
    from fer_core.measures.summaries import stale_reason

    if digest is None or stale_reason(digest) is not None:
        return False
    fingerprint = source_fingerprint(directory)
    return fingerprint is not None and digest.get("source") == fingerprint


def ensure_summary(directory: Path, rows: pa.Table | None = None, *, fsync: bool = True) -> None:
    """The hook at the end of a compaction: write the summary unless it is already current.

    ``rows`` (the freshly compacted table) forces a new summary. A failure is logged and never
    fails the compaction: the rows are safe, and readers recompute a missing summary.
    """
    try:
        if rows is None and summary_is_current(directory, read_summary(directory)):
            return
        write_summary(directory, rows, fsync=fsync)
    except Exception:
        log.exception("summary of %s not written; readers recompute it from the rows",
                      directory)


def refresh_summaries(root: Path, *, fsync: bool = True) -> list[tuple[str, str]]:
    """Write the summary of every closed session whose summary is missing or stale.

    Sessions being recorded (writer lock held) or not yet closed are left alone: their
    summary is written when they are closed or repaired. Returns the (subject, session)s
    written. Part of ``logs repair``.
    """
    written = []
    for subject, session, directory in session_dirs(Path(root)):
        meta = read_meta(directory)
        if meta is None or meta.ended_at is None:
            continue
        if summary_is_current(directory, read_summary(directory)):
            continue
        lock = WriterLock(directory)
        if not lock.acquire(blocking=False):
            continue
        try:
            write_summary(directory, fsync=fsync)
            written.append((subject, session))
            log.info("wrote the summary of %s/%s", subject, session)
        except Exception:
            log.exception("could not write the summary of %s/%s", subject, session)
        finally:
            lock.release()
    return written
