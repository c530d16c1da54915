"""Where things are inside the store root, and which files of a session are live.

Layout (hive partitioning)::

    <root>/subject=<id>/session=<id>/part-w<writer>-<seq>.parquet   flushed by a live writer
    <root>/subject=<id>/session=<id>/part-c<gen>.parquet            compacted (generation gen)
    <root>/subject=<id>/session=<id>/_compaction-<gen>.json         which files gen supersedes
    <root>/subject=<id>/session=<id>/_session.json                  session metadata
    <root>/subject=<id>/session=<id>/_summary.json                  summary (summary_file.py)
    <root>/subject=<id>/session=<id>/_writer.lock, _meta.lock        inter-process locks

Names starting with ``_`` or ``.`` are ignored by pyarrow, Spark and ``**/*.parquet`` globs.

Snapshot rule (see docs/log-format.md, "Compaction"): list the directory once; take the highest
compaction generation ``g`` whose ``part-c<g>.parquet`` is in the listing; its manifest (always
published *before* that file appears) names the superseded files, which are dropped. A manifest
whose compacted file is not (yet) there is ignored. Therefore a reader sees either all the
small parts or the compacted file, never both and never neither.

Damage: a manifest that stays missing or unreadable over repeated listings is not a race but a
damaged session (a deleted or garbled ``_compaction-*.json``). ``snapshot(..., final=True)``
then never raises: if the compacted file is the only data file, it is the whole session and is
read; otherwise which parts it supersedes is unknowable, and the session is skipped (no rows,
``problem`` set) until ``LogStore.repair()`` rebuilds it. One damaged session never stops the
rest of the store from being read.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from fer_core.logstore.errors import SnapshotRace
from fer_core.logstore.ids import validate_id

SESSION_META = "_session.json"
WRITER_LOCK = "_writer.lock"
META_LOCK = "_meta.lock"

PART_RE = re.compile(r"part-w([0-9a-f]+)-(\d+)\.parquet")
COMPACT_RE = re.compile(r"part-c(\d+)\.parquet")
MANIFEST_RE = re.compile(r"_compaction-(\d+)\.json")


def subject_dir(root: Path, subject: str) -> Path:
    return root / f"subject={validate_id(subject, 'subject')}"


def session_dir(root: Path, subject: str, session: str) -> Path:
    return subject_dir(root, subject) / f"session={validate_id(session, 'session')}"


def part_name(writer_token: str, seq: int) -> str:
    return f"part-w{writer_token}-{seq:06d}.parquet"


def compact_name(gen: int) -> str:
    return f"part-c{gen:06d}.parquet"


def manifest_name(gen: int) -> str:
    return f"_compaction-{gen:06d}.json"


def parse_key_dir(name: str, key: str) -> str | None:
    """``subject=abc`` -> ``abc`` when the id is valid, else None (foreign entries are skipped)."""
    prefix = f"{key}="
    if not name.startswith(prefix):
        return None
    value = name[len(prefix):]
    try:
        return validate_id(value, key)
    except ValueError:
        return None


@dataclass(frozen=True)
class Snapshot:
    """The live data files of one session at one moment."""

    files: tuple[Path, ...]
    generation: int  # highest visible compaction generation, 0 if none
    superseded: tuple[Path, ...]  # files present but replaced by a compaction (garbage)
    problem: str = ""  # why this session is damaged ("" when it is not)


def list_names(directory: Path) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(directory) if entry.is_file()]
    except FileNotFoundError:
        return []


def read_manifest(path: Path) -> dict | None:
    """A compaction manifest, or None when missing or not of the documented shape."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    superseded = data.get("superseded", [])
    if not isinstance(superseded, list) or not all(isinstance(n, str) for n in superseded):
        return None
    return data


def snapshot(directory: Path, *, final: bool = False) -> Snapshot:
    """Live data files of a session directory.

    Raises :class:`SnapshotRace` when the newest compacted file's manifest is missing (a newer
    compaction or a delete is running), unless ``final``: the caller has retried and the
    manifest is still missing, so the session is damaged (see the module docstring).
    """
    names = list_names(directory)
    parts = sorted(n for n in names if PART_RE.fullmatch(n))
    compacts = sorted(n for n in names if COMPACT_RE.fullmatch(n))
    if not compacts:
        return Snapshot(tuple(directory / n for n in parts), 0, ())
    top = compacts[-1]
    gen = int(COMPACT_RE.fullmatch(top).group(1))  # type: ignore[union-attr]
    manifest = read_manifest(directory / manifest_name(gen))
    if manifest is None:
        # Published before the compacted file and deleted only after it: its absence means a
        # newer compaction or a delete is running right now -- or, if it persists, damage.
        if not final:
            raise SnapshotRace(str(directory))
        how = "missing" if manifest_name(gen) not in names else "unreadable"
        problem = f"compaction manifest {manifest_name(gen)} {how}"
        if len(parts) + len(compacts) == 1:  # nothing it could supersede: the file is the data
            return Snapshot((directory / top,), gen, (), problem)
        return Snapshot((), gen, (), f"{problem}; which of its {len(parts) + len(compacts)} "
                        "data files are current is unknown, session skipped until repair")
    gone = set(manifest.get("superseded", []))
    live = [n for n in [*parts, *compacts] if n == top or n not in gone]
    dead = [n for n in [*parts, *compacts] if n != top and n in gone]
    return Snapshot(tuple(directory / n for n in live), gen, tuple(directory / n for n in dead))
