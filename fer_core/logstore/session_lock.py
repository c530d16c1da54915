"""The session's writer lock (``_writer.lock``): who may change a session's files right now.

One holder at a time: the live :class:`~fer_core.logstore.writer.SessionWriter` for the whole
recording, or a maintenance step (``repair``, refreshing summaries) for a moment. The OS drops
the lock when its holder dies, so "locked" also means "its writer is alive" (``status``
``recording``; delete refused).

Ownership rule: whoever acquires a :class:`WriterLock` releases it. The writer takes the lock
in its constructor and gives it up in ``close``; a maintenance step takes it around its work.
The lock is never handed from one object to another, so every release can be read next to its
acquire.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from fer_core.logstore.fsutil import FileLock, is_locked
from fer_core.logstore.layout import WRITER_LOCK


class WriterLock:
    """The inter-process writer lock of one session directory."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / WRITER_LOCK
        self._lock = FileLock(self.path)

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with ``blocking=False`` return False when someone else holds it."""
        return self._lock.acquire(blocking=blocking)

    def release(self) -> None:
        """Remove the lock file, then release the lock (idempotent).

        Why remove it: a finished session keeps no bookkeeping file beyond its data, metadata
        and summary. It is removed while still held, so no other holder can be inside it.
        """
        if not self._lock.held:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._lock.release()

    @property
    def held(self) -> bool:
        return self._lock.held


def is_recording(directory: Path) -> bool:
    """True while someone (a live writer, usually in another process) holds the writer lock."""
    return is_locked(directory / WRITER_LOCK)
