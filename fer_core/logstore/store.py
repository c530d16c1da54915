"""LogStore: the public face of the Parquet expression log (open, read, list, edit, delete).

The store is a directory tree anyone can read with DuckDB/Polars/Spark/pyarrow; this class adds
what those tools cannot: validated ids, the compaction snapshot rule, tolerance of damaged files,
schema-version checks, session metadata and the inter-process locks that keep writers, editors
and deleters from stepping on each other. It is cheap to construct: nothing is cached per
instance except through the module-level footer cache in :mod:`fer_core.logstore.reader`.

This class is the top of the package's import graph: it delegates to modules that never import
it -- :mod:`~fer_core.logstore.catalog` (what exists, the listing tables),
:mod:`~fer_core.logstore.writer` (recording), :mod:`~fer_core.logstore.export` (export and ZIP
import) and :mod:`~fer_core.logstore.repair` -- so none of them can form an import cycle with it
(``tests/test_import_graph.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from fer_core import __version__
from fer_core.clock import SessionClock
from fer_core.logstore import catalog, export, footer_cache, reader
from fer_core.logstore.errors import (
    FileVanished,
    SessionBusyError,
    SessionExistsError,
    SessionNotFoundError,
    SnapshotRace,
)
from fer_core.logstore.fsutil import make_dir, make_dirs
from fer_core.logstore.ids import new_session_id, validate_id
from fer_core.logstore.layout import (
    META_LOCK,
    SESSION_META,
    Snapshot,
    session_dir,
    snapshot,
    subject_dir,
)
from fer_core.logstore.meta import (
    Segment,
    SessionMeta,
    make_segment,
    read_meta,
    to_utc,
    update_meta,
)
from fer_core.logstore.mounts import check_local_store
from fer_core.logstore.repair import RepairResult, repair_session
from fer_core.logstore.root import resolve_root
from fer_core.logstore.rows import timestamp_ms
from fer_core.logstore.schema import ROW_COLUMNS, SORT_KEYS, SOURCES
from fer_core.logstore.session_lock import WriterLock, is_recording
from fer_core.logstore.writer import SessionWriter
from fer_core.logstore.zipcheck import ImportLimits

log = logging.getLogger(__name__)

_RETRIES = 20


class _Unset:
    """Type of :data:`UNSET`: "leave this field as it is" where None is a meaningful value."""

    def __repr__(self) -> str:
        return "UNSET"


#: Default of :meth:`LogStore.update_segment`'s fields: not changed.
UNSET = _Unset()


class LogStore:
    """A hive-partitioned Parquet store of per-frame expression predictions."""

    def __init__(self, root: str | Path | None = None, *, fsync: bool = True) -> None:
        self.root = resolve_root(root)
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"LogStore({str(self.root)!r})"

    # ------------------------------------------------------------------ writing
    def open_session(
        self,
        subject: str,
        session: str | None = None,
        *,
        operator: str = "",
        label: str = "",
        notes: str = "",
        model_name: str = "",
        model_version: str = "",
        source: str = "webcam",
        synthetic: bool = False,
        consent: dict | None = None,
        flush_interval: float = 1.0,
        started_at: datetime | None = None,
        extra: dict | None = None,
        app_version: str = __version__,
        clock: SessionClock | None = None,
    ) -> SessionWriter:
        """Create a new session and return its writer (raises SessionExistsError on reuse).

        With an explicit ``started_at`` (a video file, a replay, synthetic data) the session's
        clock is the data's, so ``close()`` sets ``ended_at`` to the last row's timestamp;
        otherwise to the session clock's time of ``close()``: ``clock`` (a
        :class:`~fer_core.clock.SessionClock`, default: one started now) is the wall time read
        once at the start plus monotonic seconds, so a wall-clock step cannot move the end.
        """
        validate_id(subject, "subject")
        if started_at is not None and clock is not None:
            raise ValueError("give started_at or clock, not both")
        clock = clock or SessionClock(to_utc(started_at, "started_at") if started_at else None)
        start = clock.started_at
        session = (validate_id(session, "session") if session is not None
                   else new_session_id(start))
        if source not in SOURCES:
            raise ValueError(f"source {source!r} is not one of {sorted(SOURCES)}")
        if flush_interval <= 0:
            raise ValueError("flush_interval must be > 0 seconds")
        directory = session_dir(self.root, subject, session)
        check_local_store(self.root)
        make_dirs(directory.parent)
        try:
            make_dir(directory)
        except FileExistsError:
            raise SessionExistsError(
                f"session {session!r} of subject {subject!r} already exists in {self.root}"
            ) from None
        meta = SessionMeta(
            subject=subject, session=session, started_at=start, operator=operator,
            label=label, notes=notes, model_name=model_name, model_version=model_version,
            app_version=app_version, source=source, synthetic=synthetic, consent=consent,
            extra=dict(extra or {}),
        )
        # The writer takes the session's writer lock and writes _session.json under it; it
        # releases the lock itself in close().
        return SessionWriter(directory, meta, flush_interval=flush_interval, fsync=self.fsync,
                             end_at_last_row=started_at is not None, clock=clock)

    # ------------------------------------------------------------------ discovery
    def _snapshot(self, subject: str, session: str) -> Snapshot:
        """The session's live files; a manifest missing on every try is damage, not a race."""
        directory = session_dir(self.root, subject, session)
        for attempt in range(_RETRIES):
            try:
                return snapshot(directory)
            except SnapshotRace:
                if attempt >= 2:
                    time.sleep(0.001 * attempt)  # let a running compaction finish its step
        return snapshot(directory, final=True)

    def _infos(self, subject: str, session: str) -> tuple[list[reader.FileInfo], str]:
        """Footer facts of the session's live files, and its damage ("" if none)."""
        for _ in range(_RETRIES):
            try:
                snap = self._snapshot(subject, session)
                return [reader.file_info(p) for p in snap.files], snap.problem
            except FileVanished:
                continue
        raise SnapshotRace(f"session {subject}/{session} kept changing while being read")

    def _readable(self, subject: str, session: str) -> list[reader.FileInfo]:
        """The files every reader uses: committed snapshot, damaged files and sessions skipped
        with a warning (one reading rule for LogStore and the DuckDB queries)."""
        infos, problem = self._infos(subject, session)
        if problem:
            reader.report_damaged_session(session_dir(self.root, subject, session), problem)
        good = []
        for info in infos:
            if info.error:
                reader.report_bad(info)
            elif info.num_rows:
                good.append(info)
        return good

    def data_files(self, subject: str | None = None, session: str | None = None) -> list[Path]:
        """Committed, readable, non-empty Parquet files of the scope, for external engines.

        The same rule :meth:`read` applies (compaction snapshot, damaged files and sessions
        skipped with a warning), so a query over exactly these files never counts a row twice
        and never sees a half-compacted session. A file can still vanish after this returns
        (a compaction or delete running); callers retry.
        """
        for _ in range(_RETRIES):
            try:
                return [i.path for subj, sess in catalog.session_pairs(self.root, subject, session)
                        for i in self._readable(subj, sess)]
            except FileVanished:
                continue
        raise SnapshotRace("the store kept changing while being listed")

    # ------------------------------------------------------------------ reading
    def read(
        self,
        subject: str | None = None,
        session: str | None = None,
        start: datetime | int | None = None,
        end: datetime | int | None = None,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """Rows as a DataFrame (``start <= timestamp < end``), sorted by time, frame, face."""
        table = self.read_table(subject, session, start, end, columns)
        return table_to_pandas(table)

    def read_table(
        self,
        subject: str | None = None,
        session: str | None = None,
        start: datetime | int | None = None,
        end: datetime | int | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """Like :meth:`read` but returns the Arrow table (lossless types, no pandas)."""
        if columns is not None:
            unknown = set(columns) - set(ROW_COLUMNS) - {"subject", "session"}
            if unknown:
                raise ValueError(f"unknown column(s) {sorted(unknown)}")
        wanted = ["subject", "session", *(c for c in (columns or ROW_COLUMNS)
                                          if c not in ("subject", "session"))]
        scan_cols = wanted + [k for k, _ in SORT_KEYS if k not in wanted]
        flt = _time_filter(start, end)
        for _ in range(_RETRIES):
            try:
                infos = [info for subj, sess in catalog.session_pairs(self.root, subject, session)
                         for info in self._readable(subj, sess)]
                # time order of files, so that the scan usually comes out sorted already
                infos.sort(key=lambda i: (i.ts_min if i.ts_min is not None else 0, str(i.path)))
                table = reader.scan(self.root, [i.path for i in infos], flt, scan_cols)
                break
            except FileVanished:
                continue
        else:
            raise SnapshotRace("the store kept changing while being read")
        if not reader.is_sorted(table):
            table = table.sort_by(SORT_KEYS)
        return table.select(wanted)

    def list_sessions(self, subject: str | None = None) -> pd.DataFrame:
        """One row per session with summary counts (footers only; data is not scanned).

        Columns and dtypes: :func:`fer_core.logstore.catalog.sessions_table`.
        """
        footer_cache.warm(self.root)  # facts checked before this process started
        rows, seen = [], []
        for s, x in catalog.session_pairs(self.root, subject):
            infos, problem = self._infos(s, x)
            seen.extend(infos)
            rows.append(catalog.session_row(self.root, s, x, infos, problem))
        footer_cache.remember(self.root, seen, whole_store=subject is None)
        return catalog.sessions_table([r for r in rows if r is not None])

    def list_subjects(self) -> pd.DataFrame:
        """One row per subject; ``synthetic`` is True when every session of it is synthetic."""
        return catalog.subjects_table(self.list_sessions())

    # ------------------------------------------------------------------ metadata
    def session_meta(self, subject: str, session: str) -> SessionMeta:
        """Metadata of one session (raises SessionNotFoundError)."""
        meta = read_meta(session_dir(self.root, subject, session))
        if meta is None:
            raise SessionNotFoundError(f"no session {subject}/{session} in {self.root}")
        return meta

    def _update(self, subject: str, session: str, change: Any) -> SessionMeta:
        directory = session_dir(self.root, subject, session)
        if read_meta(directory) is None:
            raise SessionNotFoundError(f"no session {subject}/{session} in {self.root}")
        return update_meta(directory, change, fsync=self.fsync)

    def add_segment(self, subject: str, session: str, label: str, start: datetime,
                    end: datetime | None = None) -> Segment:
        """Add a task segment (``end`` None: a point marker); safe while the session is being
        recorded. Returns the stored segment: the existing one when a segment with the same
        label, start and end is already there (a repeated click adds no duplicate).

        Raises :class:`~fer_core.logstore.meta.SegmentError` for an empty label, a naive time
        or an end before the start, SessionNotFoundError for an unknown session.
        """
        segment = make_segment(label, start, end)
        stored: list[Segment] = []
        self._update(subject, session, lambda m: stored.append(m.add_segment(segment)))
        return stored[0]

    def update_segment(self, subject: str, session: str, segment_id: str, *,
                       label: str | _Unset = UNSET, start: datetime | _Unset = UNSET,
                       end: datetime | _Unset | None = UNSET) -> Segment:
        """Change a segment's label, start and/or end (``end=None`` makes it a point); the
        fields not given stay. Validated as a whole (an end before the new start is refused).
        Raises SegmentError when the session has no segment ``segment_id``."""
        changed: list[Segment] = []

        def change(meta: SessionMeta) -> None:
            old = meta.segment(segment_id)
            new = Segment(old.id, old.label if isinstance(label, _Unset) else label,
                          old.start if isinstance(start, _Unset) else start,
                          old.end if isinstance(end, _Unset) else end)
            meta.segments[meta.segments.index(old)] = new
            changed.append(new)

        self._update(subject, session, change)
        return changed[0]

    def delete_segment(self, subject: str, session: str, segment_id: str) -> None:
        """Remove one segment (SegmentError when the session has none with this id)."""
        self._update(subject, session, lambda m: m.segments.remove(m.segment(segment_id)))

    def add_marker(self, subject: str, session: str, label: str,
                   timestamp: datetime | None = None) -> Segment:
        """A point segment at ``timestamp`` (default: now); the name kept from metadata
        version 1's markers."""
        return self.add_segment(subject, session, label, timestamp or datetime.now(UTC))

    def update_notes(self, subject: str, session: str, notes: str) -> None:
        """Replace a session's free-text notes."""
        if not isinstance(notes, str):
            raise TypeError("notes must be a string")
        self._update(subject, session, lambda m: setattr(m, "notes", notes))

    def set_baseline(self, subject: str, session: str, baseline: bool) -> bool:
        """Mark (or unmark) a session as part of its subject's chosen baseline.

        Returns the previous value, so a caller can audit only real changes.
        """
        if not isinstance(baseline, bool):
            raise TypeError("baseline must be True or False")
        before: list[bool] = []

        def change(meta: SessionMeta) -> None:
            before.append(meta.baseline)
            meta.baseline = baseline

        self._update(subject, session, change)
        return before[0]

    # ------------------------------------------------------------------ export / import
    def export(self, fmt: str, subject: str | None = None, session: str | None = None) -> bytes:
        """A session, a subject or everything as ``csv``, ``parquet`` or ``zip`` bytes."""
        return export.export_bytes(self, fmt, subject, session)

    def import_zip(self, data: bytes | Path, *, skip_existing: bool = False,
                   limits: ImportLimits | None = None) -> list[tuple[str, str]]:
        """Restore sessions from a ZIP made by :meth:`export`; returns (subject, session)s.

        A session already in the store is an error (nothing is imported) unless
        ``skip_existing``, which imports only the new ones. Bad input (too large, wrong
        types, rows the writer would refuse) is a ``ValueError`` and nothing is written.
        """
        check_local_store(self.root)
        return export.import_zip(self, data, skip_existing=skip_existing, limits=limits)

    # ------------------------------------------------------------------ deletion
    def delete_session(self, subject: str, session: str) -> None:
        """Remove a session; it disappears for readers in one rename."""
        directory = session_dir(self.root, subject, session)
        if not directory.is_dir():
            raise SessionNotFoundError(f"no session {subject}/{session} in {self.root}")
        if is_recording(directory):
            raise SessionBusyError(f"session {subject}/{session} is being recorded")
        self._remove(directory)
        with contextlib.suppress(OSError):
            directory.parent.rmdir()  # only succeeds when the subject has no other session

    def delete_subject(self, subject: str) -> None:
        """Remove a subject and all its sessions (refused while one is being recorded)."""
        directory = subject_dir(self.root, subject)
        if not directory.is_dir():
            raise SessionNotFoundError(f"no subject {subject} in {self.root}")
        for session in catalog.session_ids(self.root, subject):
            if is_recording(session_dir(self.root, subject, session)):
                raise SessionBusyError(f"session {subject}/{session} is being recorded")
        self._remove(directory)

    def _remove(self, directory: Path) -> None:
        trash = directory.with_name(f"{DELETING_PREFIX}{directory.name}-{secrets.token_hex(4)}")
        os.replace(directory, trash)
        _erase(trash)
        # after the files are gone, so no listing running meanwhile can store them again
        footer_cache.forget(self.root, directory)  # its entries name the subject

    # ------------------------------------------------------------------ maintenance
    def state_token(self) -> str:
        """Fingerprint of every file's name, size and mtime (changes whenever data changes)."""
        h = hashlib.sha1(usedforsecurity=False)
        h.update(str(self.root.resolve()).encode())
        for subject in catalog.subject_ids(self.root):
            for session in catalog.session_ids(self.root, subject):
                directory = session_dir(self.root, subject, session)
                try:
                    entries = sorted(os.scandir(directory), key=lambda e: e.name)
                    for e in entries:
                        if e.name.startswith("."):
                            continue
                        st = e.stat()
                        h.update(f"{subject}/{session}/{e.name}:{st.st_size}:"
                                 f"{st.st_mtime_ns}\n".encode())
                except FileNotFoundError:
                    continue
        return h.hexdigest()[:20]

    def data_token(self, subject: str, session: str) -> str:
        """Fingerprint of one session's *frames*: name, size and mtime of its files except the
        metadata (``_session.json``: notes, markers, label) and lock files.

        Why: a cache of what is computed from a session's rows (its charts) keyed on this
        survives a note or a marker being saved, which :meth:`state_token` (every file of the
        store) does not; a page then redraws in a fraction of the time after an annotation.
        """
        h = hashlib.sha1(usedforsecurity=False)
        h.update(f"{self.root.resolve()}|{subject}|{session}".encode())
        try:
            entries = sorted(os.scandir(session_dir(self.root, subject, session)),
                             key=lambda e: e.name)
        except FileNotFoundError:
            return "missing"
        for e in entries:
            if e.name.startswith(".") or e.name in (SESSION_META, META_LOCK):
                continue
            try:
                st = e.stat()
            except FileNotFoundError:
                continue
            h.update(f"{e.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:20]

    def repair(self) -> list[tuple[str, str]]:
        """Close sessions whose writer died and rebuild damaged ones; see :meth:`repair_report`.

        Returns the repaired (subject, session)s.
        """
        return [(r.subject, r.session) for r in self.repair_report()]

    def repair_report(self) -> list[RepairResult]:
        """Finish interrupted sessions (SIGKILL, power loss) and rebuild damaged ones.

        Interrupted: compacted, ``ended_at`` = last logged timestamp, ``extra["recovered"]``.
        Damaged (unreadable part, lost manifest, lost metadata): rebuilt from what can be read,
        unreadable files kept aside as ``_damaged-<name>.quarantined`` and what was lost recorded
        in the session's metadata (see :mod:`fer_core.logstore.repair`).
        Sessions with a live writer are left alone. One result per session changed, saying
        what was done and what could not be read.
        """
        results = []
        for trash in _leftover_deletions(self.root):  # a delete whose process died: finish it
            _erase(trash)
            log.info("finished the interrupted deletion %s", trash)
        for subject, session in catalog.session_pairs(self.root):
            directory = session_dir(self.root, subject, session)
            lock = WriterLock(directory)
            if not lock.acquire(blocking=False):
                continue  # a live writer: not ours to touch
            try:
                result = repair_session(directory, subject, session, fsync=self.fsync)
            finally:
                lock.release()
            if result is not None:
                results.append(result)
        return results


DELETING_PREFIX = ".deleting-"


def _erase(trash: Path) -> None:
    """Remove a folder being deleted: its Parquet files first, then the rest.

    Why that order: the hidden ``.deleting-*`` name already hides it from fer_core and from the
    documented ``subject=*/session=*/*.parquet`` glob, but DuckDB's ``**/*.parquet`` enters
    hidden folders; removing the data files first leaves that glob nothing to count for more
    than a moment, even if this process dies during the rest of the removal.
    """
    for path in sorted(trash.rglob("*.parquet")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    shutil.rmtree(trash, ignore_errors=True)


def _leftover_deletions(root: Path) -> list[Path]:
    """``.deleting-*`` folders a delete left behind when its process died."""
    found = []
    for parent in [root, *(subject_dir(root, s) for s in catalog.subject_ids(root))]:
        with contextlib.suppress(FileNotFoundError):
            found.extend(Path(e.path) for e in os.scandir(parent)
                         if e.is_dir() and e.name.startswith(DELETING_PREFIX))
    return sorted(found)


def _time_filter(start: datetime | int | None, end: datetime | int | None) -> ds.Expression | None:
    ts_type = pa.timestamp("ms", tz="UTC")
    flt = None
    if start is not None:
        flt = ds.field("timestamp") >= pa.scalar(timestamp_ms(start), ts_type)
    if end is not None:
        cond = ds.field("timestamp") < pa.scalar(timestamp_ms(end), ts_type)
        flt = cond if flt is None else flt & cond
    return flt


def table_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with nullable integer boxes (a missing box stays <NA>, not a float)."""
    def mapper(t: pa.DataType) -> Any:
        return pd.Int32Dtype() if t == pa.int32() else None

    return table.to_pandas(types_mapper=mapper)


__all__ = ["LogStore", "table_to_pandas"]
