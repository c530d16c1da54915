"""Repairing one session: close it after a crash, rebuild it after damage, and say what was lost.

Why a separate step: readers never write (they skip what is damaged and warn), so the store is
only ever changed by a writer or by an explicit ``LogStore.repair()`` / ``logs repair``. The
caller holds the session's writer lock, so no writer or other repair runs at the same time.

What counts as damage, and what repair does about it:

* an unreadable Parquet file (truncated, garbage, not a log file): renamed to
  ``_damaged-<name>`` (kept for inspection, ignored by every reader) and reported;
* a missing or unreadable compaction manifest: the session is rebuilt from every readable data
  file, de-duplicated (:func:`fer_core.logstore.compaction.rebuild_session`);
* a missing or unreadable ``_session.json``: an unreadable one is renamed to
  ``_damaged-_session.json``; a new one is made from the data (start and end = first and last
  row; label, notes, markers and consent are lost and reported);
* an interrupted session (writer died): finished as its writer would have
  (:func:`fer_core.logstore.finishing.finish_session`: compacted, summary written), ending at
  its last stored row and marked ``extra["recovered"]``.

Files of a newer schema version are not damage: they are left alone for a newer fer_core.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fer_core.logstore import reader
from fer_core.logstore.compaction import compact_session, rebuild_session
from fer_core.logstore.errors import SnapshotRace
from fer_core.logstore.finishing import finish_session
from fer_core.logstore.layout import COMPACT_RE, PART_RE, SESSION_META, list_names, snapshot
from fer_core.logstore.meta import SessionMeta, read_meta, write_meta

log = logging.getLogger(__name__)

DAMAGED_PREFIX = "_damaged-"


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


def _data_names(directory: Path) -> list[str]:
    return [n for n in list_names(directory) if PART_RE.fullmatch(n) or COMPACT_RE.fullmatch(n)]


def _set_aside(directory: Path, name: str) -> str:
    target = f"{DAMAGED_PREFIX}{name}"
    os.replace(directory / name, directory / target)
    return target


def _row_span(directory: Path) -> tuple[int | None, int | None]:
    """First and last row timestamp (epoch ms) of the session's readable live files."""
    infos = [reader.file_info(p) for p in snapshot(directory, final=True).files]
    good = [i for i in infos if not i.error]
    first = min((i.ts_min for i in good if i.ts_min is not None), default=None)
    last = max((i.ts_max for i in good if i.ts_max is not None), default=None)
    return first, last


def repair_session(directory: Path, subject: str, session: str, *,
                   fsync: bool = True) -> RepairResult | None:
    """Repair one session (writer lock held by the caller); None when nothing needed doing."""
    result = RepairResult(subject, session)
    for name in _data_names(directory):
        info = reader.file_info(directory / name)
        if info.error and not reader.is_newer_schema(info):
            kept = _set_aside(directory, name)
            result.unreadable.append(f"{name}: {info.error} (kept as {kept})")
    leftovers = 0
    try:
        leftovers = len(snapshot(directory).superseded)
        manifest_ok = True
    except SnapshotRace:  # still missing while we hold the writer lock: damage, not a race
        manifest_ok = False
    meta = read_meta(directory)
    meta_exists = (directory / SESSION_META).exists()
    if manifest_ok and not result.unreadable:
        if meta is not None and meta.ended_at is not None and not leftovers:
            return None
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

    if meta is None:
        first, last = _row_span(directory)
        if meta_exists:
            kept = _set_aside(directory, SESSION_META)
            result.unreadable.append(f"{SESSION_META}: unreadable (kept as {kept})")
        if first is None:
            result.actions.append("no readable data and no metadata: nothing to rebuild")
            return result
        start = datetime.fromtimestamp(first / 1000, UTC)
        end = datetime.fromtimestamp(last / 1000, UTC) if last is not None else start
        write_meta(directory, SessionMeta(
            subject, session, started_at=start, ended_at=end,
            extra={"recovered": True, "metadata_rebuilt": True}), fsync=fsync)
        result.actions.append(f"{SESSION_META} rebuilt from the data (times only; label, "
                              "notes, markers and consent are lost)")
    elif interrupted:
        started_at = meta.started_at

        def last_row() -> datetime:
            last = _row_span(directory)[1]
            return datetime.fromtimestamp(last / 1000, UTC) if last is not None else started_at

        # compact=False after a rebuild: the rebuilt file is already the one compacted file
        finish_session(directory, last_row, compact=manifest_ok, compaction_must_succeed=True,
                       recovered=True, fsync=fsync)
        result.actions.append("interrupted session compacted and closed")
    if result.unreadable and not result.actions:
        result.actions.append("unreadable file(s) set aside")
    log.info("repaired %s", result.summary())
    return result
