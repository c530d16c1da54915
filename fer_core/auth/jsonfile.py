"""Small JSON files shared by threads and processes: locked read-modify-write, atomic replace.

The auth state (accounts, assignments, throttling) is a few kilobytes; a JSON file per kind is
easy to back up and inspect. Writers take an exclusive ``flock`` on a sibling lock file and
replace the file atomically (write, fsync, rename), so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_thread_lock = threading.RLock()  # flock is per process; threads of one process need this too


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive lock for ``path`` across threads and processes."""
    lock_path = path.with_name(f".{path.name}.lock")
    with _thread_lock:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def read_json(path: Path, default: Any) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # never silently treat a damaged account file as "no accounts" (that would reopen setup)
        raise RuntimeError(f"auth file {path} is damaged: {exc}") from exc


def write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def update_json(path: Path, default: Any, change: Callable[[Any], Any]) -> Any:
    """Apply ``change`` to the file's value under the lock; returns what ``change`` returned."""
    with locked(path):
        value = read_json(path, default)
        result = change(value)
        write_json(path, value)
        return result
