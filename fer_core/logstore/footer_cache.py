"""The footer facts of a store's files, kept on disk so a restarted app need not re-verify them.

Why: a listing (``LogStore.list_sessions``, which Overview calls) reads every data file's footer
and verifies its pages once per file version (``reader.file_info``), so that a corrupt page
marks its file damaged everywhere. That is cached in memory, per process; after a restart the
first Overview of a 1,000-session, 100M-row store took 26 s, every later one 1 s
(docs/benchmarks.md). Stored in ``<root>/.footers.json`` (a name no subject folder can have),
the facts of every file that passed survive restarts. An entry is keyed by the file's path,
size and modification time, as the in-memory cache is: a file written, replaced, truncated or
edited since has another size or time and is inspected again. Files that failed are never
stored, so they are re-checked every time, and reported. The file is derived data: deleting it
only costs one slow listing; an unreadable one is ignored; a read-only store never writes it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from fer_core.logstore.fsutil import atomic_write_bytes
from fer_core.logstore.reader import FileInfo, cached_infos, inspections, seed_cache

log = logging.getLogger(__name__)

CACHE_FILE = ".footers.json"
VERSION = 1
#: root -> (size, mtime_ns) of the cache file last loaded by this process.
_loaded: dict[str, tuple[int, int]] = {}
#: root -> this process's inspection count when it last brought the file up to date.
_synced: dict[str, int] = {}


def warm(root: Path) -> None:
    """Load ``root``'s stored footer facts into the in-memory cache (once per file version)."""
    path = root / CACHE_FILE
    try:
        st = path.stat()
        if _loaded.get(str(root)) == (st.st_size, st.st_mtime_ns):
            return
        data = json.loads(path.read_bytes())
        if data.get("version") != VERSION:
            return
        entries = {}
        for rel, (size, mtime, rows, frames, faces, lo, hi) in data["files"].items():
            full = root / rel
            entries[(str(full), int(size), int(mtime))] = FileInfo(
                full, int(rows), int(frames), int(faces), lo, hi)
    except FileNotFoundError:
        return
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.debug("ignoring unreadable %s: %s", path, exc)
        return
    seed_cache(entries)
    _loaded[str(root)] = (st.st_size, st.st_mtime_ns)


def remember(root: Path, infos: Iterable[FileInfo], *, whole_store: bool) -> None:
    """Store the facts of ``infos`` (the files that passed) when they differ from what is
    stored, and only when this process inspected a file since it last did so (a listing that
    learnt nothing new reads and writes nothing here). Then, after a listing of the whole store
    the file holds exactly its files now (those gone, changed or failed since drop out); after
    a listing of one subject the other subjects' entries are kept as they were. An entry gone
    stale meanwhile is never used (its key no longer matches the file); erasure removes its
    entries at once (:func:`forget`)."""
    seen = inspections()
    if _synced.get(str(root)) == seen:
        return  # nothing inspected since: every listing after the first costs nothing here
    path = root / CACHE_FILE
    try:
        old = json.loads(path.read_bytes()).get("files", {})
        old = old if isinstance(old, dict) else {}
    except (OSError, ValueError, AttributeError):
        old = {}
    current = {os.path.relpath(key[0], root): [key[1], key[2], info.num_rows, info.n_frames,
                                                info.n_face_rows, info.ts_min, info.ts_max]
               for key, info in cached_infos(i.path for i in infos if i.error is None).items()}
    files = current if whole_store else {**old, **current}
    if files == old:
        _synced[str(root)] = seen
        return
    try:
        atomic_write_bytes(path, json.dumps({"version": VERSION, "files": files}).encode(),
                           fsync=False)
        st = path.stat()
        _loaded[str(root)] = (st.st_size, st.st_mtime_ns)
        _synced[str(root)] = seen
    except OSError as exc:  # a read-only store (a viewer's mount): listings stay correct
        log.debug("footer facts not stored in %s: %s", path, exc)


def forget(root: Path, directory: Path) -> None:
    """Drop every entry under ``directory`` (a subject's or a session's folder being deleted).

    Why: the entries name their files, and a file's path holds the subject's id; an erasure
    must leave no trace of the subject in the store, this file included.
    """
    path = root / CACHE_FILE
    try:
        files = json.loads(path.read_bytes()).get("files", {})
    except FileNotFoundError:
        return
    except (OSError, ValueError, AttributeError):
        files = None  # unreadable: it cannot be checked, so it goes (it is derived data)
    prefix = os.path.relpath(directory, root) + os.sep
    if isinstance(files, dict):
        kept = {rel: e for rel, e in files.items() if not rel.startswith(prefix)}
        if len(kept) == len(files):
            return
        atomic_write_bytes(path, json.dumps({"version": VERSION, "files": kept}).encode(),
                           fsync=False)
    else:
        path.unlink(missing_ok=True)
    _loaded.pop(str(root), None)
    _synced.pop(str(root), None)
