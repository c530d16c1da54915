"""LogStore: the public face of the Parquet expression log (open, read, list, edit, delete).

The store is a directory tree anyone can read with DuckDB/Polars/Spark/pyarrow; this class adds
what those tools cannot: validated ids, the compaction snapshot rule, tolerance of damaged files,
schema-version checks, session metadata and the inter-process locks that keep writers, editors
and deleters from stepping on each other. It is cheap to construct: nothing is cached per
instance except through the module-level footer cache in :mod:`fer_core.logstore.reader`.
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
from fer_core.logstore import reader
from fer_core.logstore.fsutil import FileLock, is_locked, make_dir, make_dirs
from fer_core.logstore.ids import new_session_id, validate_id
from fer_core.logstore.layout import (
    SESSION_META,
    WRITER_LOCK,
    Snapshot,
    SnapshotRace,
    parse_key_dir,
    session_dir,
    snapshot,
    subject_dir,
)
from fer_core.logstore.meta import Marker, SessionMeta, read_meta, to_utc, update_meta, write_meta
from fer_core.logstore.repair import RepairResult, repair_session
from fer_core.logstore.root import resolve_root
from fer_core.logstore.rows import timestamp_ms
from fer_core.logstore.schema import PARTITION_SCHEMA, ROW_COLUMNS, SORT_KEYS, SOURCES
from fer_core.logstore.writer import SessionWriter
from fer_core.logstore.zipcheck import ImportLimits

log = logging.getLogger(__name__)

_RETRIES = 20


class SessionExistsError(FileExistsError):
    """open_session/import with a (subject, session) that is already in the store."""


class SessionNotFoundError(LookupError):
    """A (subject, session) or subject that is not in the store."""


class SessionBusyError(RuntimeError):
    """The session is being recorded by a live writer (possibly in another process)."""


SESSION_COLUMNS = [
    "subject", "session", "started_at", "ended_at", "duration_s", "n_rows", "n_frames",
    "n_face_rows", "label", "operator", "model_name", "synthetic",
    # beyond the contract:
    "model_version", "source", "status", "n_markers", "n_bad_files", "damage",
]
SUBJECT_COLUMNS = [
    "subject", "n_sessions", "n_rows", "first_started_at", "last_started_at",
    "total_duration_s", "synthetic",
]


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
    ) -> SessionWriter:
        """Create a new session and return its writer (raises SessionExistsError on reuse).

        With an explicit ``started_at`` (a video file, a replay, synthetic data) the session's
        clock is the data's, so ``close()`` sets ``ended_at`` to the last row's timestamp;
        otherwise to the wall-clock time of ``close()``.
        """
        validate_id(subject, "subject")
        start = to_utc(started_at, "started_at") if started_at else datetime.now(UTC)
        session = (validate_id(session, "session") if session is not None
                   else new_session_id(start))
        if source not in SOURCES:
            raise ValueError(f"source {source!r} is not one of {sorted(SOURCES)}")
        if flush_interval <= 0:
            raise ValueError("flush_interval must be > 0 seconds")
        directory = session_dir(self.root, subject, session)
        make_dirs(directory.parent)
        try:
            make_dir(directory)
        except FileExistsError:
            raise SessionExistsError(
                f"session {session!r} of subject {subject!r} already exists in {self.root}"
            ) from None
        lock = FileLock(directory / WRITER_LOCK)
        lock.acquire()
        try:
            meta = SessionMeta(
                subject=subject, session=session, started_at=start, operator=operator,
                label=label, notes=notes, model_name=model_name, model_version=model_version,
                app_version=app_version, source=source, synthetic=synthetic, consent=consent,
                extra=dict(extra or {}),
            )
            write_meta(directory, meta, fsync=self.fsync)
            return SessionWriter(directory, meta, lock, flush_interval=flush_interval,
                                 fsync=self.fsync, end_at_last_row=started_at is not None)
        except BaseException:
            lock.release()
            raise

    # ------------------------------------------------------------------ discovery
    def _subjects(self) -> list[str]:
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        out = [parse_key_dir(e.name, "subject") for e in entries if e.is_dir()]
        return sorted(s for s in out if s)

    def _sessions(self, subject: str) -> list[str]:
        try:
            entries = list(os.scandir(subject_dir(self.root, subject)))
        except FileNotFoundError:
            return []
        out = [parse_key_dir(e.name, "session") for e in entries if e.is_dir()]
        return sorted(s for s in out if s)

    def _pairs(self, subject: str | None, session: str | None) -> list[tuple[str, str]]:
        if session is not None and subject is None:
            validate_id(session, "session")
            return [(s, session) for s in self._subjects() if session in self._sessions(s)]
        subjects = [validate_id(subject, "subject")] if subject is not None else self._subjects()
        pairs = []
        for subj in subjects:
            if session is not None:
                validate_id(session, "session")
                if session_dir(self.root, subj, session).is_dir():
                    pairs.append((subj, session))
            else:
                pairs.extend((subj, sess) for sess in self._sessions(subj))
        return pairs

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
            except reader.FileVanished:
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
                return [i.path for subj, sess in self._pairs(subject, session)
                        for i in self._readable(subj, sess)]
            except reader.FileVanished:
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
                infos = [info for subj, sess in self._pairs(subject, session)
                         for info in self._readable(subj, sess)]
                # time order of files, so that the scan usually comes out sorted already
                infos.sort(key=lambda i: (i.ts_min if i.ts_min is not None else 0, str(i.path)))
                table = reader.scan(self.root, [i.path for i in infos], flt, scan_cols)
                break
            except reader.FileVanished:
                continue
        else:
            raise SnapshotRace("the store kept changing while being read")
        if not reader.is_sorted(table):
            table = table.sort_by(SORT_KEYS)
        return table.select(wanted)

    def list_sessions(self, subject: str | None = None) -> pd.DataFrame:
        """One row per session with summary counts (footers only; data is not scanned)."""
        rows = [self._session_summary(s, x) for s, x in self._pairs(subject, None)]
        rows = [r for r in rows if r is not None]
        df = pd.DataFrame(rows, columns=SESSION_COLUMNS)
        for col in ("started_at", "ended_at"):
            df[col] = pd.to_datetime(df[col], utc=True).astype("datetime64[ms, UTC]")
        for col in ("n_rows", "n_frames", "n_face_rows", "n_markers", "n_bad_files"):
            df[col] = df[col].astype("int64")
        df["duration_s"] = df["duration_s"].astype("float64")
        df["synthetic"] = df["synthetic"].astype(bool)
        return df.sort_values(["subject", "started_at", "session"]).reset_index(drop=True)

    def _session_summary(self, subject: str, session: str) -> dict[str, Any] | None:
        directory = session_dir(self.root, subject, session)
        infos, problem = self._infos(subject, session)
        meta = read_meta(directory)
        good = [i for i in infos if not i.error]
        bad = [i for i in infos if i.error and not reader.is_newer_schema(i)]
        ts_max = max((i.ts_max for i in good if i.ts_max is not None), default=None)
        ts_min = min((i.ts_min for i in good if i.ts_min is not None), default=None)
        damage = [problem] if problem else []
        if bad:
            damage.append(f"{len(bad)} unreadable file(s): "
                          + ", ".join(f"{i.path.name} ({i.error})" for i in bad))
        if meta is None:
            if not directory.is_dir():
                return None
            if not good and not damage:
                return None  # being created right now, or an empty foreign directory
            how = "unreadable" if (directory / SESSION_META).exists() else "missing"
            damage.append(f"metadata {SESSION_META} {how}")
            meta = SessionMeta(subject, session,
                               started_at=datetime.fromtimestamp((ts_min or 0) / 1000, UTC))
        if damage:
            log.warning("damaged session %s/%s: %s", subject, session, "; ".join(damage))
        if meta.ended_at is not None:
            status = "closed"
            duration = meta.duration_s
        else:
            status = "recording" if is_locked(directory / WRITER_LOCK) else "interrupted"
            last = datetime.fromtimestamp(ts_max / 1000, UTC) if ts_max is not None else None
            duration = (last - meta.started_at).total_seconds() if last else 0.0
        if damage and status != "recording":
            status = "damaged"
        return {
            "subject": subject, "session": session, "started_at": meta.started_at,
            "ended_at": meta.ended_at, "duration_s": duration,
            "n_rows": sum(i.num_rows for i in good), "n_frames": sum(i.n_frames for i in good),
            "n_face_rows": sum(i.n_face_rows for i in good), "label": meta.label,
            "operator": meta.operator, "model_name": meta.model_name,
            "synthetic": meta.synthetic, "model_version": meta.model_version,
            "source": meta.source, "status": status, "n_markers": len(meta.markers),
            "n_bad_files": len(infos) - len(good), "damage": "; ".join(damage),
        }

    def list_subjects(self) -> pd.DataFrame:
        """One row per subject; ``synthetic`` is True when every session of it is synthetic."""
        sessions = self.list_sessions()
        if sessions.empty:
            df = pd.DataFrame(columns=SUBJECT_COLUMNS)
            return df.astype({"n_sessions": "int64", "n_rows": "int64",
                              "total_duration_s": "float64", "synthetic": bool,
                              "first_started_at": "datetime64[ms, UTC]",
                              "last_started_at": "datetime64[ms, UTC]"})
        grouped = sessions.groupby("subject", sort=True)
        df = pd.DataFrame({
            "n_sessions": grouped.size(),
            "n_rows": grouped["n_rows"].sum(),
            "first_started_at": grouped["started_at"].min(),
            "last_started_at": grouped["started_at"].max(),
            "total_duration_s": grouped["duration_s"].sum(),
            "synthetic": grouped["synthetic"].all(),
        }).reset_index()
        return df[SUBJECT_COLUMNS]

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

    def add_marker(self, subject: str, session: str, label: str,
                   timestamp: datetime | None = None) -> None:
        """Add an event marker to a session (safe while it is being recorded)."""
        marker = Marker(to_utc(timestamp or datetime.now(UTC)), str(label))
        self._update(subject, session, lambda m: m.markers.append(marker))

    def update_notes(self, subject: str, session: str, notes: str) -> None:
        """Replace a session's free-text notes."""
        if not isinstance(notes, str):
            raise TypeError("notes must be a string")
        self._update(subject, session, lambda m: setattr(m, "notes", notes))

    # ------------------------------------------------------------------ export / import
    def export(self, fmt: str, subject: str | None = None, session: str | None = None) -> bytes:
        """A session, a subject or everything as ``csv``, ``parquet`` or ``zip`` bytes."""
        from fer_core.logstore.export import export_bytes

        return export_bytes(self, fmt, subject, session)

    def import_zip(self, data: bytes | Path, *, skip_existing: bool = False,
                   limits: ImportLimits | None = None) -> list[tuple[str, str]]:
        """Restore sessions from a ZIP made by :meth:`export`; returns (subject, session)s.

        A session already in the store is an error (nothing is imported) unless
        ``skip_existing``, which imports only the new ones. Bad input (too large, wrong
        types, rows the writer would refuse) is a ``ValueError`` and nothing is written.
        """
        from fer_core.logstore.export import import_zip

        return import_zip(self, data, skip_existing=skip_existing, limits=limits)

    # ------------------------------------------------------------------ deletion
    def delete_session(self, subject: str, session: str) -> None:
        """Remove a session; it disappears for readers in one rename."""
        directory = session_dir(self.root, subject, session)
        if not directory.is_dir():
            raise SessionNotFoundError(f"no session {subject}/{session} in {self.root}")
        if is_locked(directory / WRITER_LOCK):
            raise SessionBusyError(f"session {subject}/{session} is being recorded")
        self._remove(directory)
        with contextlib.suppress(OSError):
            directory.parent.rmdir()  # only succeeds when the subject has no other session

    def delete_subject(self, subject: str) -> None:
        """Remove a subject and all its sessions (refused while one is being recorded)."""
        directory = subject_dir(self.root, subject)
        if not directory.is_dir():
            raise SessionNotFoundError(f"no subject {subject} in {self.root}")
        for session in self._sessions(subject):
            if is_locked(session_dir(self.root, subject, session) / WRITER_LOCK):
                raise SessionBusyError(f"session {subject}/{session} is being recorded")
        self._remove(directory)

    def _remove(self, directory: Path) -> None:
        trash = directory.with_name(f".deleting-{directory.name}-{secrets.token_hex(4)}")
        os.replace(directory, trash)
        shutil.rmtree(trash, ignore_errors=True)

    # ------------------------------------------------------------------ maintenance
    def state_token(self) -> str:
        """Fingerprint of every file's name, size and mtime (changes whenever data changes)."""
        h = hashlib.sha1(usedforsecurity=False)
        h.update(str(self.root.resolve()).encode())
        for subject in self._subjects():
            for session in self._sessions(subject):
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

    def repair(self) -> list[tuple[str, str]]:
        """Close sessions whose writer died and rebuild damaged ones; see :meth:`repair_report`.

        Returns the repaired (subject, session)s.
        """
        return [(r.subject, r.session) for r in self.repair_report()]

    def repair_report(self) -> list[RepairResult]:
        """Finish interrupted sessions (SIGKILL, power loss) and rebuild damaged ones.

        Interrupted: compacted, ``ended_at`` = last logged timestamp, ``extra["recovered"]``.
        Damaged (unreadable part, lost manifest, lost metadata): rebuilt from what can be read,
        unreadable files kept aside as ``_damaged-<name>`` (see :mod:`fer_core.logstore.repair`).
        Sessions with a live writer are left alone. One result per session changed, saying
        what was done and what could not be read.
        """
        results = []
        for subject, session in self._pairs(None, None):
            directory = session_dir(self.root, subject, session)
            lock = FileLock(directory / WRITER_LOCK)
            if not lock.acquire(blocking=False):
                continue
            try:
                result = repair_session(directory, subject, session, fsync=self.fsync)
            finally:
                with contextlib.suppress(OSError):
                    (directory / WRITER_LOCK).unlink()
                lock.release()
            if result is not None:
                results.append(result)
        return results


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


__all__ = [
    "PARTITION_SCHEMA", "LogStore", "SessionBusyError", "SessionExistsError",
    "SessionNotFoundError",
]
