"""Compaction: replace a session's many small part files by one sorted file, atomically.

Protocol (generation ``g``; the caller holds the session's writer lock, so no one else writes):

1. read every live file (a corrupt one is left in place, reported and not superseded);
2. publish ``_compaction-<g>.json`` listing every file the new one supersedes (cumulative);
3. publish ``part-c<g>.parquet`` (temporary name + :func:`os.replace`) -- the commit point;
4. delete the superseded files and older manifests.

A reader lists the directory first and applies the manifest of the newest compacted file in that
listing (:func:`fer_core.logstore.layout.snapshot`), so before step 3 it reads the old parts,
after it the compacted file -- never both, never neither. A crash anywhere leaves a state that
the same rule reads correctly; :func:`compact_session` run again finishes the clean-up.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa

from fer_core.logstore.fsutil import atomic_write_bytes, fsync_dir
from fer_core.logstore.layout import (
    COMPACT_RE,
    MANIFEST_RE,
    PART_RE,
    compact_name,
    list_names,
    manifest_name,
    read_manifest,
    snapshot,
)
from fer_core.logstore.parquet_io import read_parquet, write_parquet
from fer_core.logstore.rows import with_summary
from fer_core.logstore.schema import SCHEMA_VERSION, SORT_KEYS, conform, file_schema_version
from fer_core.logstore.summary_file import ensure_summary

log = logging.getLogger(__name__)


def _read_one(path: Path) -> pa.Table | None:
    try:
        table = read_parquet(path)
        version = file_schema_version(table.schema)
        if version is not None and version > SCHEMA_VERSION:
            log.warning("%s has schema version %s (newer than %s); not compacted",
                        path, version, SCHEMA_VERSION)
            return None
        return conform(table)
    except (OSError, ValueError, pa.ArrowException) as exc:
        log.warning("corrupt part file %s left in place and skipped: %s", path, exc)
        return None


def compact_session(directory: Path, *, fsync: bool = True) -> Path | None:
    """Compact ``directory`` (one session); returns the compacted file or None if no data."""
    snap = snapshot(directory)
    names = list_names(directory)
    if len(snap.files) == 1 and COMPACT_RE.fullmatch(snap.files[0].name):
        _cleanup(directory, snap.generation, names)
        ensure_summary(directory, fsync=fsync)
        return snap.files[0]
    tables, used = [], []
    for path in snap.files:
        table = _read_one(path)
        if table is not None:
            tables.append(table)
            used.append(path.name)
    if not tables:
        ensure_summary(directory, fsync=fsync)
        return None
    table = with_summary(pa.concat_tables(tables).sort_by(SORT_KEYS))
    previous = None
    if snap.generation:
        previous = read_manifest(directory / manifest_name(snap.generation))
    superseded = sorted({*(previous or {}).get("superseded", []), *used,
                         *(p.name for p in snap.superseded)})
    return _publish(directory, table, superseded, names, fsync=fsync)


def rebuild_session(directory: Path, *, fsync: bool = True) -> Path | None:
    """Rebuild a session whose compaction manifest is lost, from every readable data file.

    Without the manifest nobody knows which parts the newest compacted file already holds, so
    all readable files (compacted and parts) are merged and rows are de-duplicated on
    ``(frame_index, face_index)`` -- unique within a session -- preferring the newest
    compacted file. The caller holds the writer lock and has moved unreadable files aside.
    """
    names = list_names(directory)
    compacts = sorted((n for n in names if COMPACT_RE.fullmatch(n)), reverse=True)
    parts = sorted(n for n in names if PART_RE.fullmatch(n))
    tables, used = [], []
    for rank, name in enumerate([*compacts, *parts]):
        table = _read_one(directory / name)
        if table is not None:
            tables.append(table.append_column("_rank", pa.array([rank] * table.num_rows,
                                                                pa.int32())))
            used.append(name)
    if not tables:
        return None
    table = pa.concat_tables(tables).sort_by([("frame_index", "ascending"),
                                              ("face_index", "ascending"),
                                              ("_rank", "ascending")])
    frame = table.column("frame_index").to_numpy()
    face = table.column("face_index").to_numpy()
    first = np.ones(len(frame), dtype=bool)
    first[1:] = (frame[1:] != frame[:-1]) | (face[1:] != face[:-1])
    table = table.filter(pa.array(first)).drop_columns(["_rank"]).sort_by(SORT_KEYS)
    log.info("rebuilt %s from %d file(s): %d row(s)", directory, len(used), table.num_rows)
    return _publish(directory, with_summary(table), sorted(used), names, fsync=fsync)


def _publish(directory: Path, table: pa.Table, superseded: list[str], names: list[str], *,
             fsync: bool) -> Path:
    """Steps 2-4 of the protocol: manifest, compacted file (commit point), clean-up."""
    matches = [COMPACT_RE.fullmatch(n) or MANIFEST_RE.fullmatch(n) for n in names]
    gen = max((int(m.group(1)) for m in matches if m), default=0) + 1
    manifest = {"generation": gen, "compacted": compact_name(gen), "superseded": superseded,
                "rows": table.num_rows, "schema_version": SCHEMA_VERSION}
    atomic_write_bytes(directory / manifest_name(gen), json.dumps(manifest, indent=1).encode(),
                       fsync=fsync)
    final = directory / compact_name(gen)
    write_parquet(table, final, fsync=fsync)  # commit point
    _cleanup(directory, gen, list_names(directory))
    if fsync:
        fsync_dir(directory)
    log.debug("compacted %d file(s) of %s into %s", len(superseded), directory, final.name)
    ensure_summary(directory, table, fsync=fsync)
    return final


def _cleanup(directory: Path, gen: int, names: list[str]) -> None:
    """Delete files superseded by ``gen``, other generations' manifests and orphan temp files."""
    manifest = read_manifest(directory / manifest_name(gen)) if gen else None
    gone = set((manifest or {}).get("superseded", []))
    for name in names:
        m = MANIFEST_RE.fullmatch(name)
        stale_manifest = m is not None and int(m.group(1)) != gen
        orphan_tmp = name.startswith(".") and name.endswith(".tmp")  # from a killed writer
        if name in gone or stale_manifest or orphan_tmp:
            with contextlib.suppress(FileNotFoundError):
                (directory / name).unlink()
