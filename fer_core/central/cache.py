"""A local cache of the central store, so the app reviews every site's sessions unchanged.

A review machine that records nothing points the app at a cache folder (an ordinary local log
store) and turns on review mode (``$FER_CENTRAL_REVIEW=1`` or ``[central] review = true``);
:func:`sync` then makes that store mirror the central sessions table: sessions published since
the last sync are written into it (rows from the frames table, metadata, notes and segments from
the sessions row, closed and summarised like any recording), sessions whose central row changed
(``published_at``) are rewritten, and sessions no longer in the central store (erased) are
deleted. Every page (Overview, Subject history, Compare, Session) then works as on a recording
machine, reading local files. Cached sessions are named by their central id
(``<site>.<local id>``), so two sites' sessions never collide.

The cache is derived data: deleting the folder and syncing again rebuilds it. Never record into
a cache folder (a local session there would look like an erased central one and be deleted).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow.compute as pc

from fer_core.central import reader
from fer_core.central.location import CentralStore
from fer_core.logstore import InvalidIdError, LogStore, SessionMeta, validate_id
from fer_core.logstore.catalog import session_pairs
from fer_core.logstore.export import install_session
from fer_core.logstore.layout import session_dir
from fer_core.logstore.meta import read_meta
from fer_core.logstore.session_lock import is_recording

log = logging.getLogger(__name__)

#: Environment variable that turns the app's review mode on (the store root is the cache).
REVIEW_ENV = "FER_CENTRAL_REVIEW"
#: Key in a cached session's ``extra`` holding the central row's ``published_at``.
STAMP = "central_published_at"


def review_mode() -> bool:
    """True when this install reviews the central store through a local cache."""
    if os.environ.get(REVIEW_ENV) is not None:
        return os.environ[REVIEW_ENV] == "1"
    from fer_core.central.location import _config_file

    return bool(_config_file()[1].get("review", False))


@dataclass
class SyncResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"central cache: {len(self.added)} added, {len(self.updated)} updated, "
                f"{len(self.removed)} removed, {len(self.skipped)} skipped")


def _stamp(value: datetime) -> str:
    return value.isoformat()


def sync(central: CentralStore, cache: LogStore) -> SyncResult:
    """Make ``cache`` hold exactly the central store's committed sessions."""
    result = SyncResult()
    rows = reader.sessions(central).to_pylist()
    wanted = {}
    for row in rows:
        try:
            validate_id(row["session"], "session")
        except InvalidIdError as exc:
            result.skipped.append(f"{row['subject']}/{row['session']}: {exc}")
            continue
        wanted[(row["subject"], row["session"])] = row
    # The folders, not ``cache.list_sessions()``: a listing inspects every data file (and
    # verifies its pages once per process), which cost 21 s per sync of a 1,000-session,
    # 100M-row cache (docs/benchmarks.md); a sync only needs to know which sessions exist.
    present = set(session_pairs(cache.root))
    for subject, session in sorted(present - set(wanted)):
        if not is_recording(session_dir(cache.root, subject, session)):
            cache.delete_session(subject, session)
            result.removed.append(f"{subject}/{session}")
    fetch: dict[str, list[dict]] = {}  # subject -> central rows to copy
    for (subject, session), row in wanted.items():
        stamp = _stamp(row["published_at"])
        if (subject, session) in present:
            meta = read_meta(session_dir(cache.root, subject, session))
            if meta is not None and meta.extra.get(STAMP) == stamp:
                continue
            cache.delete_session(subject, session)
            result.updated.append(f"{subject}/{session}")
        else:
            result.added.append(f"{subject}/{session}")
        fetch.setdefault(subject, []).append(row)
    for subject, new_rows in fetch.items():
        _write_subject(central, cache, subject, new_rows)
    if result.added or result.updated or result.removed:
        log.info("%s", result.summary())
    return result


def _write_subject(central: CentralStore, cache: LogStore, subject: str,
                   rows: list[dict]) -> None:
    """Copy sessions of one subject into the cache, their frames fetched in one read (a
    subject's sessions share files after ``logs optimize``): each session's metadata (notes,
    markers, consent as published) and frames, written at once as its compacted file."""
    import json

    frames = reader.read_frames(central, subject, [row["session"] for row in rows])
    columns = [c for c in frames.column_names if c not in ("subject", "session", "site")]
    ids = frames.column("session")
    for row in rows:
        meta = SessionMeta.from_dict(json.loads(row["meta_json"]))
        meta.extra = {**meta.extra, STAMP: _stamp(row["published_at"]),
                      "central_site": row["site"], "central_local_session": row["local_session"]}
        meta.session = row["session"]
        mine = frames.filter(pc.equal(ids, row["session"])).select(columns)
        install_session(cache, meta, mine)
