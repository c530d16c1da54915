"""Decode-once cache: a dataset folder or CSV becomes one compressed .npz keyed by its content.

The key hashes every source file's relative path, size and modification time (and, for a CSV, its
bytes), so a changed, added or removed file gives a new key and a stale cache can never be read.
Loading FER2013 from the cache takes well under a second instead of decoding 32k JPEGs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from fer_core.config import cache_dir
from fer_core.data.faceset import FaceSet

log = logging.getLogger(__name__)

CACHE_FORMAT = 1


def files_key(kind: str, root: Path, files: Iterable[Path]) -> str:
    """Content key of a set of files: kind, format, and each file's relpath, size, mtime."""
    h = hashlib.sha256(f"{kind}:{CACHE_FORMAT}".encode())
    for path in files:
        st = path.stat()
        h.update(f"{path.relative_to(root).as_posix()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def bytes_key(kind: str, path: Path, extra: str = "") -> str:
    """Content key of one file from its bytes (used for the FER2013 CSV)."""
    h = hashlib.sha256(f"{kind}:{CACHE_FORMAT}:{extra}".encode())
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:24]


def cached(key: str, build: Callable[[], FaceSet], use_cache: bool = True) -> FaceSet:
    """Return the FaceSet cached under ``key``, building and storing it on a miss.

    The cache is written to a temporary file and renamed, so a crash never leaves a truncated
    cache behind; an unreadable cache file is rebuilt rather than trusted.
    """
    if not use_cache:
        return build()
    folder = cache_dir()
    path = folder / f"faces-{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return FaceSet(
                    images=z["images"],
                    labels=z["labels"],
                    classes=tuple(str(c) for c in z["classes"]),
                    names=[str(n) for n in z["names"]],
                    skipped=[str(s) for s in z["skipped"]],
                )
        except Exception as exc:  # corrupt cache: rebuild, never fail the user's run
            log.warning("ignoring unreadable cache %s (%s)", path, exc)
    faces = build()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                images=faces.images,
                labels=faces.labels,
                classes=np.asarray(faces.classes),
                names=np.asarray(faces.names),
                skipped=np.asarray(faces.skipped, dtype=str),
            )
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write dataset cache %s (%s); continuing without", path, exc)
    return faces
