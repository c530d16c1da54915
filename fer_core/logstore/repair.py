"""Repairing one session: close it after a crash, rebuild it after damage, and say what was lost.

Why a separate step: readers never write (they skip what is damaged and warn), so the store is
only ever changed by a writer or by an explicit ``LogStore.repair()`` / ``logs repair``. The
caller holds the session's writer lock, so no writer or other repair runs at the same time.

What counts as damage, and what repair does about it:

* an unreadable Parquet file (truncated, garbage, a page failing its checksum, not a log file):
  set aside as ``_damaged-<name>.quarantined`` -- kept for inspection, and a name no
  ``*.parquet`` glob of any engine reaches -- and reported;
* a missing or unreadable compaction manifest: the session is rebuilt from every readable data
  file, de-duplicated (:func:`fer_core.logstore.compaction.rebuild_session`);
* a missing or unreadable ``_session.json``: an unreadable one is set aside the same way; a new
  one is made from the data (start and end = first and last row) and from whatever fields of the
  old file still parse (:func:`fer_core.logstore.meta.salvage_meta`). Provenance is never
  invented: a session whose rows or old metadata say ``synthetic`` stays synthetic, and an
  operator or consent that cannot be read is recorded as lost, not as "none";
* an interrupted session (writer died): finished as its writer would have
  (:func:`fer_core.logstore.finishing.finish_session`: compacted, summary written), ending at
  its last stored row and marked ``extra["recovered"]``.

Whatever was lost (rows, seconds of recording, set-aside files, metadata fields) is recorded in
the session's metadata (``damage``, :func:`fer_core.logstore.meta.damage_record`), so the
session keeps listing as ``damaged`` after the repair instead of passing for an intact one, and
its end time, duration and counts are recomputed from what remains.

Files of a newer schema version are not damage: they are left alone for a newer fer_core.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fer_core.logstore import reader
from fer_core.logstore.compaction import compact_session, rebuild_session
from fer_core.logstore.errors import SnapshotRace
from fer_core.logstore.finishing import finish_session
from fer_core.logstore.layout import (
    COMPACT_RE,
    PART_RE,
    SESSION_META,
    list_names,
    manifest_name,
    read_manifest,
    snapshot,
)
from fer_core.logstore.meta import (
    SessionMeta,
    damage_record,
    read_meta,
    salvage_meta,
    update_meta,
    write_meta,
)
from fer_core.logstore.parquet_io import read_parquet
from fer_core.logstore.summary_file import read_summary

log = logging.getLogger(__name__)

DAMAGED_PREFIX = "_damaged-"
#: Suffix of a set-aside file: with it no ``*.parquet`` glob (DuckDB, Polars, Spark) matches.
QUARANTINE_SUFFIX = ".quarantined"


@dataclass
class RepairResult:
    """What ``repair`` did to one session and what it could not recover."""

    subject: str
    session: str
    actions: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "<file>: <why>", kept aside

    def summary(self) -> str:
        text = f"{self.subject}/{self.session}: " + "; ".join(self.actions)
        if self.unreadable:
            text += "; could not read: " + "; ".join(self.unreadable)
        return text


def is_set_aside(name: str) -> bool:
    """True for a file a repair has set aside (either naming)."""
    return name.startswith(DAMAGED_PREFIX)


def _legacy_set_aside(names: list[str]) -> list[str]:
    """Files set aside by an older repair as ``_damaged-<name>.parquet``, which DuckDB's and
    Spark's ``*.parquet`` globs still matched."""
    return [n for n in names if is_set_aside(n) and n.endswith(".parquet")]


def _data_names(directory: Path) -> list[str]:
    return [n for n in list_names(directory) if PART_RE.fullmatch(n) or COMPACT_RE.fullmatch(n)]


def _set_aside(directory: Path, name: str) -> str:
    """Rename ``name`` out of every reader's and every glob's sight; returns the new name."""
    base = name if is_set_aside(name) else f"{DAMAGED_PREFIX}{name}"
    target, n = f"{base}{QUARANTINE_SUFFIX}", 1
    while (directory / target).exists():
        n += 1
        target = f"{base}-{n}{QUARANTINE_SUFFIX}"
    os.replace(directory / name, directory / target)
    return target


def _row_span(directory: Path) -> tuple[int | None, int | None]:
    """First and last row timestamp (epoch ms) of the session's readable live files."""
    infos = [reader.file_info(p) for p in snapshot(directory, final=True).files]
    good = [i for i in infos if not i.error]
    first = min((i.ts_min for i in good if i.ts_min is not None), default=None)
    last = max((i.ts_max for i in good if i.ts_max is not None), default=None)
    return first, last


def _rows_in(directory: Path, name: str) -> int | None:
    """How many rows an unreadable file held, when anything still says so: its footer (a page
    failed its checksum, the footer is fine) or the manifest that wrote it; else None."""
    try:
        return int(pq.ParquetFile(directory / name).metadata.num_rows)
    except (OSError, ValueError, pa.ArrowException):  # no footer: ask the manifest
        pass
    m = COMPACT_RE.fullmatch(name)
    manifest = read_manifest(directory / manifest_name(int(m.group(1)))) if m else None
    rows = (manifest or {}).get("rows")
    return rows if isinstance(rows, int) and not isinstance(rows, bool) else None


def _covered_seconds(directory: Path, meta: SessionMeta | None) -> float | None:
    """Recorded time of the session before the repair: its summary's time covered, else the
    metadata's start-to-end span; None when neither exists (an interrupted session)."""
    summary = read_summary(directory)
    seconds = (summary or {}).get("duration_s")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return float(seconds)
    return meta.duration_s if meta is not None else None


def _live_rows(directory: Path) -> int:
    infos = [reader.file_info(p) for p in snapshot(directory, final=True).files]
    return sum(i.num_rows for i in infos if not i.error)


def _provenance_from_rows(directory: Path) -> dict[str, Any]:
    """Source, model and synthetic flag as the session's own rows state them."""
    counts: dict[str, Counter] = {c: Counter() for c in ("source", "model_name",
                                                          "model_version")}
    for path in snapshot(directory, final=True).files:
        try:
            table = read_parquet(path, columns=list(counts))
        except (OSError, ValueError, pa.ArrowException):  # set aside already; be safe anyway
            continue
        for col, counter in counts.items():
            counter.update(v for v in table.column(col).to_pylist() if v is not None)
    out: dict[str, Any] = {}
    for col, counter in counts.items():
        if counter:
            out[col] = counter.most_common(1)[0][0]
    if counts["source"]["synthetic"]:
        out["source"] = "synthetic"  # any synthetic row: never passes for a real recording
    return out


def _rebuild_meta(directory: Path, subject: str, session: str, raw: bytes | None,
                  first: int, last: int | None) -> tuple[SessionMeta, list[str]]:
    """A new ``_session.json`` from the rows and the salvageable old fields; returns it and
    the fields that were lost (could not be read from either)."""
    old = salvage_meta(raw) if raw is not None else {}
    rows = _provenance_from_rows(directory)
    start = datetime.fromtimestamp(first / 1000, UTC)
    end = datetime.fromtimestamp(last / 1000, UTC) if last is not None else start
    synthetic = bool(old.get("synthetic")) or rows.get("source") == "synthetic" \
        or old.get("source") == "synthetic"
    source = "synthetic" if synthetic else old.get("source", rows.get("source", "webcam"))
    meta = SessionMeta(
        subject, session, started_at=start, ended_at=end,
        operator=old.get("operator", ""), label=old.get("label", ""),
        notes=old.get("notes", ""),
        model_name=old.get("model_name", rows.get("model_name", "")),
        model_version=old.get("model_version", rows.get("model_version", "")),
        source=source, synthetic=synthetic, consent=old.get("consent"),
        extra={**old.get("extra", {}), "recovered": True, "metadata_rebuilt": True},
        damage=old.get("damage", []))
    if "app_version" in old:
        meta.app_version = old["app_version"]
    lost = [f for f in ("operator", "consent", "label", "notes") if f not in old]
    lost.append("segments")  # never salvaged: their times cannot be trusted field by field
    if "source" not in old and "source" not in rows:
        lost.append("source")
    return meta, lost


def repair_session(directory: Path, subject: str, session: str, *,
                   fsync: bool = True) -> RepairResult | None:
    """Repair one session (writer lock held by the caller); None when nothing needed doing."""
    result = RepairResult(subject, session)
    meta = read_meta(directory)
    meta_exists = (directory / SESSION_META).exists()
    seconds_before = _covered_seconds(directory, meta)
    lost_files: list[str] = []
    rows_lost: int | None = 0
    for name in _data_names(directory):
        info = reader.file_info(directory / name)
        if info.error and not reader.is_newer_schema(info):
            rows = _rows_in(directory, name)
            rows_lost = None if rows is None or rows_lost is None else rows_lost + rows
            kept = _set_aside(directory, name)
            lost_files.append(kept)
            result.unreadable.append(f"{name}: {info.error} (kept as {kept})")
    legacy = _legacy_set_aside(list_names(directory))
    for name in legacy:
        _set_aside(directory, name)
    if legacy:
        result.actions.append(f"renamed {len(legacy)} set-aside file(s) to *"
                              f"{QUARANTINE_SUFFIX}, out of every *.parquet glob")
    leftovers = 0
    try:
        leftovers = len(snapshot(directory).superseded)
        manifest_ok = True
    except SnapshotRace:  # still missing while we hold the writer lock: damage, not a race
        manifest_ok = False
    if manifest_ok and not result.unreadable:
        if meta is not None and meta.ended_at is not None and not leftovers:
            return result if legacy else None
        if meta is None and not meta_exists and not _data_names(directory):
            return None  # being created right now (or an empty folder): nothing to repair

    interrupted = meta is not None and meta.ended_at is None
    if not manifest_ok:
        problem = snapshot(directory, final=True).problem
        rebuilt = rebuild_session(directory, fsync=fsync)
        result.actions.append(f"{problem}: rebuilt from the readable data files"
                              + ("" if rebuilt else " (none left)"))
    else:
        if not interrupted:  # an interrupted one is compacted by finish_session below
            compact_session(directory, fsync=fsync)
        if leftovers:
            result.actions.append(f"removed {leftovers} file(s) an interrupted compaction had "
                                  "already superseded")

    metadata_lost: list[str] = []
    if meta is None:
        first, last = _row_span(directory)
        raw = None
        if meta_exists:
            try:
                raw = (directory / SESSION_META).read_bytes()
            except OSError:
                raw = None
            kept = _set_aside(directory, SESSION_META)
            lost_files.append(kept)
            result.unreadable.append(f"{SESSION_META}: unreadable (kept as {kept})")
        if first is None:
            result.actions.append("no readable data and no metadata: nothing to rebuild")
            return result
        rebuilt_meta, metadata_lost = _rebuild_meta(directory, subject, session, raw, first,
                                                    last)
        write_meta(directory, rebuilt_meta, fsync=fsync)
        result.actions.append(f"{SESSION_META} rebuilt from the data and the readable old "
                              f"fields (lost: {', '.join(metadata_lost)})")
    elif interrupted:
        started_at = meta.started_at

        def last_row() -> datetime:
            last = _row_span(directory)[1]
            return datetime.fromtimestamp(last / 1000, UTC) if last is not None else started_at

        # compact=False after a rebuild: the rebuilt file is already the one compacted file
        finish_session(directory, last_row, compact=manifest_ok, compaction_must_succeed=True,
                       recovered=True, fsync=fsync)
        result.actions.append("interrupted session compacted and closed")
    if lost_files or metadata_lost:
        _record_damage(directory, result, lost_files, rows_lost, seconds_before,
                       metadata_lost, rows_were_lost=any(
                           not n.startswith(f"{DAMAGED_PREFIX}{SESSION_META}")
                           for n in lost_files), fsync=fsync)
    if result.unreadable and not result.actions:
        result.actions.append("unreadable file(s) set aside")
    log.info("repaired %s", result.summary())
    return result


def _record_damage(directory: Path, result: RepairResult, files: list[str],
                   rows_lost: int | None, seconds_before: float | None,
                   metadata_lost: list[str], *, rows_were_lost: bool, fsync: bool) -> None:
    """Write what was lost into ``_session.json`` and recompute the end from what remains."""
    last = _row_span(directory)[1]
    summary = read_summary(directory)
    seconds_after = (summary or {}).get("duration_s") if _live_rows(directory) else 0.0
    seconds_lost = None
    if rows_were_lost and seconds_before is not None and isinstance(seconds_after, int | float):
        seconds_lost = max(0.0, seconds_before - float(seconds_after))
    what = ", ".join(r.split(" (kept as")[0] for r in result.unreadable) or "metadata lost"
    recorded: dict[str, Any] = {}

    def record(meta: SessionMeta) -> None:
        ended_before = meta.ended_at
        if rows_were_lost and meta.ended_at is not None:
            # the end (so the duration) from what remains, never later than it was
            remaining_end = (datetime.fromtimestamp(last / 1000, UTC) if last is not None
                             else meta.started_at)
            meta.ended_at = max(meta.started_at, min(meta.ended_at, remaining_end))
        entry = damage_record(what=what, files=files,
                              rows_lost=rows_lost if rows_were_lost else 0,
                              seconds_lost=seconds_lost if rows_were_lost else 0.0,
                              metadata_lost=metadata_lost, ended_at_before=ended_before)
        meta.damage.append(entry)
        recorded.update(entry)

    update_meta(directory, record, fsync=fsync)
    lost = recorded.get("rows_lost")
    seconds = recorded.get("seconds_lost")
    result.actions.append(
        "recorded in _session.json: "
        + (f"{lost} row(s)" if lost is not None else "an unknown number of rows")
        + (f", {seconds:g} s" if seconds is not None else "") + " lost"
        + (f", metadata lost: {', '.join(metadata_lost)}" if metadata_lost else ""))
