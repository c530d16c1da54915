"""Small filesystem primitives: atomic writes, directory fsync and inter-process file locks.

Why: every file a reader can see must be complete. Files are therefore written under a hidden
temporary name (leading ``.``, which pyarrow, Spark and the ``*.parquet`` glob all ignore) and
published with :func:`os.replace`, which is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


#: Modes of everything the store creates: expression logs of identified people are readable by
#: their owner only, like the auth folder (docs/security.md, "Files and permissions").
FILE_MODE = 0o600
DIR_MODE = 0o700


def make_dirs(path: Path) -> None:
    """Create ``path`` and any missing parents with :data:`DIR_MODE` (existing ones untouched).

    Why not ``mkdir(parents=True, mode=...)``: Python applies ``mode`` to the last folder only,
    and the umask could widen nothing but might narrow it, so each created level is chmod-ed.
    """
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        make_dir(folder, exist_ok=True)


def make_dir(path: Path, *, exist_ok: bool = False) -> None:
    """Create one folder with :data:`DIR_MODE` (raises FileExistsError unless ``exist_ok``)."""
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not exist_ok:
            raise
        return
    os.chmod(path, DIR_MODE)


def tmp_name(final: Path) -> Path:
    """Hidden, unique temporary sibling of ``final`` (ignored by dataset readers)."""
    return final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")


def fsync_dir(path: Path) -> None:
    """Persist a rename/unlink in ``path`` (no-op where directories cannot be opened)."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(write: Callable[[Path], None], final: Path, *, fsync: bool = True) -> None:
    """Call ``write(tmp)`` then atomically rename ``tmp`` to ``final``.

    On any error the temporary file is removed and ``final`` is untouched.
    """
    tmp = tmp_name(final)
    try:
        write(tmp)
        os.chmod(tmp, FILE_MODE)  # before it is visible under its final name
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if fsync:
        fsync_dir(final.parent)


def atomic_write_bytes(final: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``final`` so that readers see either the old or the new content."""
    publish(lambda tmp: tmp.write_bytes(data), final, fsync=fsync)


class FileLock:
    """An advisory inter-process lock on a file (flock on POSIX, msvcrt on Windows).

    The OS drops it when the holder dies (even by SIGKILL), which is what makes it usable as a
    "is the writer of this session still alive?" test.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with ``blocking=False`` return False instead of waiting."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            if fcntl is not None:
                flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
                fcntl.flock(fd, flags)
            else:  # pragma: no cover - Windows
                mode = msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK
                msvcrt.locking(fd, mode, 1)
        except OSError:
            os.close(fd)
            if blocking:
                raise
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            else:  # pragma: no cover - Windows
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(path: Path) -> bool:
    """True if another holder (any process, or another FileLock here) holds the lock on ``path``.

    Never creates the file: a missing lock file means nobody holds it.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        try:  # pragma: no cover - Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return True
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return False
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold :class:`FileLock` on ``path`` for the duration of the block."""
    lock = FileLock(path)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()
