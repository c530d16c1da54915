"""Append-only session writer: a memory buffer, a writer thread and atomic part files.

Why a thread: the per-frame caller (the video callback) must never wait on disk. ``append``
validates the row and appends it, as a Python list, to an in-memory buffer under a lock
(microseconds); the writer thread flushes on a fixed cadence (:func:`next_deadline`), swaps the
buffer out, transposes it into Arrow columns and publishes it as a new part file (temporary
name, then :func:`os.replace`). A process killed at any moment therefore loses at most
``flush_interval`` of rows (while flushing keeps pace) and leaves only complete Parquet files
(plus, at worst, a hidden ``.tmp`` that readers ignore).
"""

from __future__ import annotations

import atexit
import collections
import logging
import queue
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from fer_core.clock import SessionClock
from fer_core.logstore.finishing import finish_session
from fer_core.logstore.layout import part_name
from fer_core.logstore.meta import (
    Segment,
    SessionMeta,
    make_segment,
    to_utc,
    update_meta,
    write_meta,
)
from fer_core.logstore.parquet_io import write_parquet
from fer_core.logstore.rows import RowBuffer, row_template, validate_row
from fer_core.logstore.session_lock import WriterLock

log = logging.getLogger(__name__)

_OPEN_WRITERS: weakref.WeakSet[SessionWriter] = weakref.WeakSet()


class SessionWriter:
    """Writes one session's rows; use as a context manager or call :meth:`close`.

    Created by :meth:`fer_core.logstore.LogStore.open_session`, which has made the (new, empty)
    session directory. The writer owns the session from here on: it takes the session's writer
    lock, writes ``_session.json`` under it, and releases the lock in :meth:`close` -- the
    object that takes the lock is the one that gives it back.
    """

    def __init__(
        self,
        directory: Path,
        meta: SessionMeta,
        *,
        flush_interval: float = 1.0,
        fsync: bool = True,
        compact_on_close: bool = True,
        end_at_last_row: bool = False,
        clock: SessionClock | None = None,
    ) -> None:
        if flush_interval <= 0:
            raise ValueError("flush_interval must be > 0 seconds")
        self.subject = meta.subject
        self.session = meta.session
        self.directory = directory
        self.started_at = meta.started_at
        self.source = meta.source
        # The session's clock: its start's wall time + monotonic seconds, so a wall-clock step
        # while recording cannot end the session before it began (fer_core.clock).
        self.clock = clock or SessionClock(meta.started_at)
        self.flush_interval = flush_interval
        self.rows_appended = 0
        self.rows_written = 0
        self.parts_written = 0
        self.last_error: BaseException | None = None
        self._fsync = fsync
        self._compact_on_close = compact_on_close
        # True when the session's clock is the data's, not the wall's (video files, imports,
        # synthetic sessions opened with an explicit started_at): end = last row's timestamp.
        self._end_at_last_row = end_at_last_row
        self._ts_max: int | None = None
        self._template = row_template({
            "model_name": meta.model_name,
            "model_version": meta.model_version,
            "source": meta.source,
        })
        self._token = secrets.token_hex(3)
        self._seq = 0
        self._buffer = RowBuffer()
        self._buffer_lock = threading.Lock()
        self._pending: list[RowBuffer] = []  # swapped out, not yet written: retried
        # metadata changes (segments added or ended) waiting for the next flush, in order
        self._meta_changes: list[Callable[[SessionMeta], None]] = []
        self._own_segments: dict[str, Segment] = {}  # added through this writer
        self._commands: queue.Queue[tuple[str, threading.Event]] = queue.Queue()
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name=f"logstore-writer-{self.session}", daemon=True
        )
        # The lock before the metadata: a session whose _session.json exists while nobody
        # holds its lock would look interrupted, and a concurrent repair would close it.
        self._lock = WriterLock(directory)
        self._lock.acquire()
        try:
            write_meta(directory, meta, fsync=fsync)
            self._thread.start()
        except BaseException:
            self._lock.release()
            raise
        _OPEN_WRITERS.add(self)

    # ------------------------------------------------------------------ caller side
    def append(self, row: Mapping[str, object]) -> None:
        """Buffer one row (validated now; written by the writer thread). Never touches disk."""
        values = validate_row(row, self._template)
        with self._buffer_lock:
            if self._closed:
                raise RuntimeError(f"session {self.session} is closed")
            self._buffer.rows.append(values)
            self.rows_appended += 1

    def append_many(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Buffer several rows; all are validated first, so a bad row adds none of them."""
        checked = [validate_row(row, self._template) for row in rows]
        with self._buffer_lock:
            if self._closed:
                raise RuntimeError(f"session {self.session} is closed")
            self._buffer.rows.extend(checked)
            self.rows_appended += len(checked)

    def add_segment(self, label: str, start: datetime | None = None,
                    end: datetime | None = None) -> Segment:
        """Record a task segment (``end`` None: a point marker; ``start`` default: now on the
        session's clock); saved to ``_session.json`` with the next flush, never waiting on disk.

        After :meth:`close` it is written at once (the session still exists). Raises
        :class:`~fer_core.logstore.meta.SegmentError` for an empty label or an end before the
        start.
        """
        segment = make_segment(label, start or self.clock.now(), end)
        self._own_segments[segment.id] = segment
        self._change_meta(lambda m: m.add_segment(_copy(segment)))
        return segment

    def end_segment(self, segment_id: str, end: datetime | None = None) -> Segment:
        """End an open segment at ``end`` (default: now on the session's clock).

        A segment added through this writer is ended in memory and saved with the next flush;
        one added elsewhere (the dashboard) is ended in ``_session.json`` at once.
        """
        end = to_utc(end or self.clock.now(), "segment end")
        own = self._own_segments.get(segment_id)
        if own is None:
            def end_on_disk(meta: SessionMeta) -> None:
                seg = meta.segment(segment_id)
                _replace(meta, Segment(seg.id, seg.label, seg.start, end))
            meta = update_meta(self.directory, end_on_disk, fsync=self._fsync)
            return meta.segment(segment_id)
        ended = Segment(own.id, own.label, own.start, end)  # validates end >= start
        self._own_segments[segment_id] = ended
        self._change_meta(lambda m: _replace(m, _copy(ended)))
        return ended

    def add_marker(self, label: str, timestamp: datetime | None = None) -> Segment:
        """A point segment (the name kept from metadata version 1's markers)."""
        return self.add_segment(label, timestamp)

    def _change_meta(self, change: Callable[[SessionMeta], None]) -> None:
        with self._buffer_lock:
            if not self._closed:
                self._meta_changes.append(change)
                return
        update_meta(self.directory, change, fsync=self._fsync)

    def flush(self) -> None:
        """Write everything buffered now and wait for it (the one call that waits on disk)."""
        self._command("flush")
        if self._pending:
            raise OSError(f"could not write part file: {self.last_error}") from self.last_error

    def close(self, ended_at: datetime | None = None) -> None:
        """Flush, stop the thread, compact the session's parts and record its end time."""
        end_override = to_utc(ended_at, "ended_at") if ended_at is not None else None
        with self._buffer_lock:
            if self._closed:
                return
            self._closed = True  # from here on append() raises: no row can miss the last flush
        done = threading.Event()
        self._commands.put(("close", done))
        self._thread.join()
        _OPEN_WRITERS.discard(self)
        try:
            if self._pending:
                try:  # one last synchronous try
                    self._write_pending()
                except Exception as exc:
                    lost = sum(b.n for b in self._pending)
                    raise OSError(f"{lost} row(s) of session {self.session} could not be "
                                  f"written: {exc}") from exc
            finish_session(self.directory, lambda: self._end_time(end_override),
                           compact=self._compact_on_close, fsync=self._fsync)
        finally:
            self._lock.release()

    def _end_time(self, override: datetime | None) -> datetime:
        """``ended_at``: the caller's, else the last row's (data clock), else the session
        clock's now (start + monotonic time: a wall-clock step cannot put it before the start)."""
        if override is not None:
            return override
        if self._end_at_last_row and self._ts_max is not None:
            return max(self.started_at, datetime.fromtimestamp(self._ts_max / 1000, UTC))
        return self.clock.now()

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writer thread
    def _command(self, kind: str) -> None:
        if self._closed:
            if kind == "flush":
                return
            raise RuntimeError(f"session {self.session} is closed")
        done = threading.Event()
        self._commands.put((kind, done))
        done.wait()

    def _run(self) -> None:
        # the first flush comes early: no flush duration is known yet to plan the grid with
        deadline = time.monotonic() + self.flush_interval / 2
        recent: collections.deque[float] = collections.deque(maxlen=5)  # flush durations (s)
        while True:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                kind, done = self._commands.get(timeout=timeout)
            except queue.Empty:
                kind, done = "timer", None
            started = time.monotonic()
            try:
                self._flush_now()
            except Exception as exc:  # keep the thread alive; the rows stay pending
                self.last_error = exc
                log.exception("log writer for %s could not flush", self.directory)
            finished = time.monotonic()
            recent.append(finished - started)
            if kind == "timer":
                deadline = next_deadline(deadline, finished, self.flush_interval, max(recent))
            if done is not None:
                done.set()
            if kind == "close":
                return

    def _flush_now(self) -> None:
        with self._buffer_lock:
            buffer, self._buffer = self._buffer, RowBuffer()
            changes, self._meta_changes = self._meta_changes, []
        if buffer.n:
            batch_max = max(buffer.timestamps())  # epoch ms
            self._ts_max = batch_max if self._ts_max is None else max(self._ts_max, batch_max)
            self._pending.append(buffer)
        if changes:
            def apply(meta: SessionMeta) -> None:
                for change in changes:
                    change(meta)
            try:
                update_meta(self.directory, apply, fsync=self._fsync)
            except Exception:  # each change is idempotent, so retrying them all is safe
                with self._buffer_lock:
                    self._meta_changes[:0] = changes
                raise
        self._write_pending()

    def _write_pending(self) -> None:
        """Write buffers in order; a failing one stays first in line and is retried later."""
        while self._pending:
            buffer = self._pending[0]
            name = part_name(self._token, self._seq + 1)
            try:
                table = buffer.to_table()
                write_parquet(table, self.directory / name, fsync=self._fsync)
            except BaseException as exc:
                self.last_error = exc
                raise
            self._seq += 1
            self._pending.pop(0)
            self.rows_written += table.num_rows
            self.parts_written += 1


def _copy(segment: Segment) -> Segment:
    return Segment(segment.id, segment.label, segment.start, segment.end)


def _replace(meta: SessionMeta, segment: Segment) -> None:
    """Put ``segment`` in place of the one with its id; nothing when it was deleted meanwhile
    (from the dashboard): ending a deleted segment must not bring it back."""
    for i, seg in enumerate(meta.segments):
        if seg.id == segment.id:
            meta.segments[i] = segment
            return
    log.info("segment %s of %s was deleted before it was ended", segment.id, meta.session)


def next_deadline(previous: float, now: float, interval: float, flush_s: float = 0.0) -> float:
    """When the next timed flush is due: on a fixed grid from ``previous``, not from ``now``.

    Why: rows are at risk from the moment a flush swaps the buffer out until the *next* flush
    has published its file. Restarting the clock after each flush (``now + interval``) made
    that ``interval`` plus twice the flush time (1.106 s was lost to a SIGKILL with a 1 s
    interval under CPU load). Here the grid step is ``interval - flush_s`` (the recent flush
    duration, at most half the interval), so every row is on disk within ``interval`` of being
    appended as long as flushing keeps pace. When it cannot (a flush longer than the
    interval), the writer flushes back to back from ``now`` rather than queueing missed ticks.
    """
    due = previous + max(interval - flush_s, interval / 2)
    return due if due > now - interval else now


@atexit.register
def _close_open_writers() -> None:
    """On a normal interpreter exit, do not lose buffered rows of writers left open."""
    for writer in list(_OPEN_WRITERS):
        try:
            writer.close()
        except Exception:
            log.exception("closing log writer %s at exit failed", writer.session)

