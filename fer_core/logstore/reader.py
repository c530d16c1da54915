"""Reading the store: per-file footer checks (cached), tolerant scans with pushed-down filters.

Why per-file checks: one truncated part file (a disk filled up, a copy interrupted) must not make a
person's whole history unreadable. Footers are read once per file version (path, size, mtime) and
cached, so listings cost a ``stat`` per file after the first call. Data is then scanned as one
``pyarrow.dataset`` with the time filter pushed down to Parquet row-group statistics; only if that
scan fails is the read repeated file by file to isolate and skip the damaged file.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from fer_core.logstore.errors import CorruptFileWarning, FileVanished
from fer_core.logstore.parquet_io import open_parquet, scan_format, verify_pages
from fer_core.logstore.schema import (
    META_N_FACE_ROWS,
    META_N_FRAMES,
    PARTITION_SCHEMA,
    ROW_SCHEMA,
    SCHEMA_VERSION,
    file_schema_version,
)

log = logging.getLogger(__name__)

#: Full schema of a store read: partition keys first, then the row columns.
DATASET_SCHEMA: pa.Schema = pa.schema([*PARTITION_SCHEMA, *ROW_SCHEMA])


@dataclass(frozen=True)
class FileInfo:
    """What a file's footer says (or why it cannot be used)."""

    path: Path
    num_rows: int = 0
    n_frames: int = 0
    n_face_rows: int = 0
    ts_min: int | None = None  # epoch ms
    ts_max: int | None = None
    error: str | None = None


NEWER_SCHEMA = "schema version"  # how a newer-version file's error starts (not damage)


def is_newer_schema(info: FileInfo) -> bool:
    """True when ``info`` was skipped only because a newer fer_core wrote it."""
    return bool(info.error and info.error.startswith(NEWER_SCHEMA))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_cache: dict[tuple[str, int, int], FileInfo] = {}
_cache_lock = threading.Lock()
_reported: set[tuple[str, int, int]] = set()
_inspections = 0  # files inspected (footer read, pages verified) by this process so far


def inspections() -> int:
    """How many files this process has inspected; unchanged means nothing new was learnt."""
    return _inspections


def _stat_key(path: Path) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileVanished(str(path)) from None
    return (str(path), st.st_size, st.st_mtime_ns)


def seed_cache(entries: dict[tuple[str, int, int], FileInfo]) -> None:
    """Add footer facts checked earlier (``footer_cache``, another process) to the cache."""
    with _cache_lock:
        if len(_cache) + len(entries) > 100_000:
            _cache.clear()
        _cache.update(entries)


def cached_infos(paths: Iterable[Path]) -> dict[tuple[str, int, int], FileInfo]:
    """The cached facts of ``paths`` in their current version (files gone or changed since
    are left out), keyed as the cache is."""
    out = {}
    for path in paths:
        try:
            key = _stat_key(path)
        except FileVanished:
            continue
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None:
            out[key] = hit
    return out


def file_info(path: Path) -> FileInfo:
    """Footer facts of ``path``, cached per (path, size, mtime); corrupt files get ``error``."""
    key = _stat_key(path)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    info = _inspect(path)
    global _inspections
    with _cache_lock:
        _inspections += 1
        if len(_cache) > 100_000:
            _cache.clear()
        _cache[key] = info
    return info


def _inspect(path: Path) -> FileInfo:
    try:
        pf = open_parquet(path)
        schema = pf.schema_arrow
        version = file_schema_version(schema)
        if version is not None and version > SCHEMA_VERSION:
            return FileInfo(path, error=f"{NEWER_SCHEMA} {version} is newer than "
                            f"{SCHEMA_VERSION}; upgrade fer_core to read it")
        missing = [f.name for f in ROW_SCHEMA if not f.nullable and f.name not in schema.names
                   and f.name != "schema_version"]
        if missing:
            return FileInfo(path, error=f"not a log file: missing column(s) {missing}")
        md = pf.metadata
        kv = md.metadata or {}
        if META_N_FRAMES in kv and META_N_FACE_ROWS in kv:
            n_frames, n_face = int(kv[META_N_FRAMES]), int(kv[META_N_FACE_ROWS])
        else:  # written by another tool: count from two small columns
            t = pf.read(columns=["face_index", "face_detected"])
            n_frames = int(pc.sum(pc.less_equal(t["face_index"], 0).cast(pa.int64())).as_py()
                           or 0)
            n_face = int(pc.sum(t["face_detected"].cast(pa.int64())).as_py() or 0)
        ts_min, ts_max = _ts_range(md, schema)
        # Every page once per file version (cached): a page whose checksum fails makes the file
        # damaged here, so listings, data_files() (external engines do not verify) and repair
        # all see it, not only a read that happens to touch it.
        verify_pages(pf)
        return FileInfo(path, md.num_rows, n_frames, n_face, ts_min, ts_max)
    except FileNotFoundError:
        raise FileVanished(str(path)) from None
    except (OSError, ValueError, pa.ArrowException) as exc:
        return FileInfo(path, error=f"{type(exc).__name__}: {exc}")


def _ts_range(md: pq.FileMetaData, schema: pa.Schema) -> tuple[int | None, int | None]:
    idx = schema.get_field_index("timestamp")
    lo = hi = None
    for rg in range(md.num_row_groups):
        stats = md.row_group(rg).column(idx).statistics
        if stats is None or not stats.has_min_max:
            return None, None
        mn, mx = _epoch_ms(stats.min), _epoch_ms(stats.max)
        lo = mn if lo is None else min(lo, mn)
        hi = mx if hi is None else max(hi, mx)
    return lo, hi


def _epoch_ms(value: object) -> int:
    """Exact epoch ms of a statistics value (datetime or int); never via float or local time."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # Parquet stores UTC instants; some readers return naive
            value = value.replace(tzinfo=UTC)
        return (value - _EPOCH) // timedelta(milliseconds=1)
    return int(value)  # type: ignore[call-overload]


def report_bad(info: FileInfo) -> None:
    """Warn once per file version about a skipped file."""
    try:
        key = _stat_key(info.path)
    except FileVanished:
        return
    if key in _reported:
        log.debug("skipping unreadable %s", info.path)
        return
    _reported.add(key)
    message = f"skipped unreadable log file {info.path}: {info.error}"
    log.warning(message)
    warnings.warn(message, CorruptFileWarning, stacklevel=3)


def report_damaged_session(directory: Path, problem: str) -> None:
    """Warn once per (session, problem) that a damaged session was skipped or read in part."""
    key = (str(directory), problem, 0)
    if key in _reported:
        return
    _reported.add(key)
    message = f"damaged session {directory}: {problem}; run `python -m fer_core logs repair`"
    log.warning(message)
    warnings.warn(message, CorruptFileWarning, stacklevel=3)


def scan(
    root: Path,
    files: list[Path],
    flt: ds.Expression | None,
    columns: list[str] | None,
) -> pa.Table:
    """Read ``files`` (all under ``root``'s hive layout) as one table; skip unreadable ones."""
    if not files:
        return _empty(columns)
    try:
        return _scan(root, files, flt, columns)
    except FileNotFoundError:
        raise FileVanished(str(root)) from None
    except (OSError, pa.ArrowException) as exc:
        log.info("dataset scan failed (%s); retrying file by file", exc)
    tables = []
    for path in files:
        try:
            tables.append(_scan(root, [path], flt, columns))
        except FileNotFoundError:
            raise FileVanished(str(path)) from None
        except (OSError, pa.ArrowException) as exc:
            report_bad(FileInfo(path, error=f"{type(exc).__name__}: {exc}"))
    return pa.concat_tables(tables) if tables else _empty(columns)


def _scan(root: Path, files: list[Path], flt: ds.Expression | None,
          columns: list[str] | None) -> pa.Table:
    dataset = ds.dataset(
        [str(p) for p in files],
        schema=DATASET_SCHEMA,
        format=scan_format(),
        partitioning=ds.partitioning(PARTITION_SCHEMA, flavor="hive"),
        partition_base_dir=str(root),
    )
    return dataset.to_table(columns=columns, filter=flt)


def is_sorted(table: pa.Table) -> bool:
    """True if ``table`` is already ordered by (timestamp, frame_index, face_index).

    Why: compacted files are stored sorted and files are scanned in time order, so a read is
    usually sorted already; checking costs a few vectorised passes, a 10M-row sort seconds.
    """
    import numpy as np

    if table.num_rows < 2:
        return True
    ts = table.column("timestamp").cast(pa.int64()).to_numpy()
    d = np.diff(ts)
    if (d < 0).any():
        return False
    tie = d == 0
    if not tie.any():
        return True
    frame = table.column("frame_index").to_numpy()
    face = table.column("face_index").to_numpy()
    d_frame = np.diff(frame)[tie]
    if (d_frame < 0).any():
        return False
    tie2 = d_frame == 0
    return not (np.diff(face)[tie][tie2] < 0).any()


def _empty(columns: list[str] | None) -> pa.Table:
    table = DATASET_SCHEMA.empty_table()
    return table.select(columns) if columns is not None else table
