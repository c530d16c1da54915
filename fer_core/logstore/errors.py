"""Every exception and warning the log store raises, in one module that imports nothing.

Why one module: these classes are raised in one module and caught in others (a snapshot race is
raised by :mod:`~fer_core.logstore.layout` and retried by the store, the repair, the summary
writer and the analytics; ``SessionExistsError`` is raised by both ``open_session`` and the ZIP
import). When each lived beside its first raiser, a module that only wanted to *catch* one had
to import the raiser, and two of those imports closed import cycles (export <-> store). A leaf
module of exception classes can be imported by anyone without creating a dependency on
behaviour. The public ones are re-exported by :mod:`fer_core.logstore`.
"""

from __future__ import annotations


class InvalidIdError(ValueError):
    """A subject or session id that is not safe to use as a directory name."""


class RowError(ValueError):
    """An appended row that does not fit the schema (nothing of it was stored)."""


class SessionExistsError(FileExistsError):
    """open_session/import with a (subject, session) that is already in the store."""


class SessionNotFoundError(LookupError):
    """A (subject, session) or subject that is not in the store."""


class SessionBusyError(RuntimeError):
    """The session is being recorded by a live writer (possibly in another process)."""


class SnapshotRace(Exception):
    """The directory changed under a reader (a compaction finished); take a new snapshot."""


class FileVanished(Exception):
    """A file listed in a snapshot was removed (compaction or delete ran); re-snapshot."""


class CorruptFileWarning(UserWarning):
    """A Parquet file of the store could not be read and was skipped."""


class UnsafeStoreError(OSError):
    """The store root is on a network or FUSE filesystem, where its locks and renames are not
    safe (see :mod:`fer_core.logstore.mounts`)."""
