"""Publishing finished local sessions to the central Delta tables: atomic, idempotent, retried.

A session is published in two Delta commits, in this order:

1. its frames, in **one** commit to the frames table (an append; or, when the table holds a
   different number of its rows than the local session, one predicate overwrite that replaces
   exactly that session's rows);
2. its row in the sessions table, in one ``MERGE`` on ``(subject, session)`` (insert, or
   update when notes, markers or other metadata changed since). Like the local store, a
   session id is unique within its subject; the central id ``<site>.<local id>`` makes it
   unique across sites.

The sessions row is the commit point: every reader (``fer_core.central.reader`` and every
recipe in docs/log-format.md) counts a frame only when its session's row exists. A publish
killed between the commits therefore leaves frames no reader counts, and the next
``logs publish`` finds them complete (same count) and commits only the missing row.
Publishing again changes nothing (``unchanged``): the frames count matches and the row's content
is equal. Two publishes of the same session never race: a per-session lock file in the local
store's hidden ``.central/`` folder serialises them (a session is published only from the
store that recorded it, and its central id carries that site's name).

Each publish writes its outcome to ``<root>/.central/<subject>/<session>.json`` (state
``published`` or ``failed`` with the reason), which :func:`publish_state` reads for the app.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from fer_core.central import query
from fer_core.central.commit import deltalake, open_table, with_retries
from fer_core.central.location import CentralError, CentralStore, central_session_id
from fer_core.central.query import sql_literal, where_equal
from fer_core.central.tables import (
    CONTENT_COLUMNS,
    FRAMES_PARTITION,
    TABLE_CONFIGURATION,
    frames_table,
    read_summary,
    sessions_row,
)
from fer_core.logstore.errors import SessionNotFoundError
from fer_core.logstore.fsutil import atomic_write_bytes, locked, make_dirs
from fer_core.logstore.ids import validate_id
from fer_core.logstore.layout import session_dir
from fer_core.logstore.summary_file import SUMMARY_FILE

log = logging.getLogger(__name__)

#: Hidden folder in the local store root holding publish locks and outcomes.
STATE_DIR = ".central"
#: Test hook: seconds to sleep between the frames commit and the sessions commit.
PAUSE_ENV = "FER_CENTRAL_PAUSE_AFTER_FRAMES"
#: Local statuses that are finished and can be published.
PUBLISHABLE = frozenset({"closed", "damaged"})


@dataclass
class PublishResult:
    """What publishing one session did."""

    subject: str
    session: str
    session_id: str
    #: published | completed (frames were there from an interrupted publish) | updated
    #: (metadata changed) | replaced (frames differed and were replaced) | unchanged |
    #: waiting (not finished locally) | failed
    action: str
    n_rows: int = 0
    retries: int = 0
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.action not in ("failed", "waiting")

    def summary(self) -> str:
        text = f"{self.subject}/{self.session} -> {self.session_id}: {self.action}"
        if self.action not in ("failed", "waiting"):
            text += f" ({self.n_rows} rows"
            text += f", {self.retries} retried commit(s))" if self.retries else ")"
        if self.reason:
            text += f": {self.reason}"
        return text


def _state_path(root: Path, subject: str, session: str, suffix: str) -> Path:
    return root / STATE_DIR / f"subject={subject}" / f"{session}{suffix}"


def _record(root: Path, result: PublishResult, fsync: bool) -> None:
    path = _state_path(root, result.subject, result.session, ".json")
    make_dirs(path.parent)
    state = "failed" if result.action == "failed" else (
        "waiting" if result.action == "waiting" else "published")
    atomic_write_bytes(path, json.dumps({
        "state": state, "action": result.action, "session_id": result.session_id,
        "n_rows": result.n_rows, "reason": result.reason,
        "at": datetime.now(UTC).isoformat(timespec="seconds")}).encode(), fsync=fsync)


def publish_state(root: Path, subject: str, session: str) -> dict[str, Any] | None:
    """The last recorded publish outcome of a session (None: never tried)."""
    try:
        return json.loads(_state_path(root, subject, session, ".json").read_bytes())
    except (OSError, ValueError):
        return None


def _frames_count(central: CentralStore, subject: str, session_id: str) -> int:
    table = open_table(central, central.frames_uri)
    if table is None:
        return 0
    return query.count(table, where_equal(subject=subject, session=session_id))


def _published_row(central: CentralStore, subject: str,
                   session_id: str) -> dict[str, Any] | None:
    table = open_table(central, central.sessions_uri)
    if table is None:
        return None
    rows = query.select(table, where_equal(subject=subject, session=session_id))
    return rows.to_pylist()[0] if rows.num_rows else None


def _merge_row(central: CentralStore, row: pa.Table) -> None:
    dl = deltalake()
    table = open_table(central, central.sessions_uri)
    if table is None:  # the first session anywhere: create the table (a race is retried)
        dl.write_deltalake(central.sessions_uri, row, mode="append",
                           configuration=TABLE_CONFIGURATION,
                           storage_options=central.storage_options or None)
        return
    # The literal values let delta-rs skip every file whose statistics exclude this session;
    # with the join condition alone it scans the whole table, and a publish's cost grew with
    # the sessions already published (docs/benchmarks.md, *Central store*).
    subject, session = row.column("subject")[0].as_py(), row.column("session")[0].as_py()
    predicate = (f"t.subject = {sql_literal(subject)} AND t.session = {sql_literal(session)}"
                 " AND t.subject = s.subject AND t.session = s.session")
    # merge_schema: a table created before a column was added (``baseline``) gains it here
    (table.merge(source=row, predicate=predicate,
                 source_alias="s", target_alias="t", merge_schema=True)
     .when_matched_update_all().when_not_matched_insert_all().execute())


def publish_session(store: Any, central: CentralStore, subject: str, session: str) -> PublishResult:
    """Publish one finished session of ``store`` (a LogStore); see the module doc for how."""
    site = central.require_site()
    validate_id(subject, "subject")
    validate_id(session, "session")
    session_id = central_session_id(site, session)
    listing = store.list_sessions(subject)
    match = listing.loc[listing["session"] == session]
    if match.empty:
        raise SessionNotFoundError(f"no session {subject}/{session} in {store.root}")
    info = match.iloc[0].to_dict()
    if info["status"] not in PUBLISHABLE:
        why = ("being recorded" if info["status"] == "recording"
               else "interrupted: run `python -m fer_core logs repair` first")
        result = PublishResult(subject, session, session_id, "waiting", reason=why)
        _record(store.root, result, store.fsync)
        return result
    lock = _state_path(store.root, subject, session, ".lock")
    make_dirs(lock.parent)
    with locked(lock):
        try:
            result = _publish_locked(store, central, subject, session, session_id, site)
        except CentralError as exc:
            result = PublishResult(subject, session, session_id, "failed", reason=str(exc))
        _record(store.root, result, store.fsync)
    return result


def _publish_locked(store: Any, central: CentralStore, subject: str, session: str,
                    session_id: str, site: str) -> PublishResult:
    dl = deltalake()
    meta = store.session_meta(subject, session)
    listing = store.list_sessions(subject)
    info = listing.loc[listing["session"] == session].iloc[0].to_dict()
    summary = read_summary(session_dir(store.root, subject, session) / SUMMARY_FILE)
    row = sessions_row(meta, info, session_id, site, summary)
    rows = store.read_table(subject, session)
    n = rows.num_rows
    retries = 0

    present, r = with_retries(central, "reading the frames table",
                              lambda: _frames_count(central, subject, session_id))
    old, r2 = with_retries(central, "reading the sessions table",
                           lambda: _published_row(central, subject, session_id))
    retries += r + r2
    new = row.to_pylist()[0]
    if (present == n and old is not None
            and all(old[c] == new[c] for c in CONTENT_COLUMNS)):
        return PublishResult(subject, session, session_id, "unchanged", n, retries)

    opts = central.storage_options or None
    frames = frames_table(rows, subject, session_id, site)
    if present == n:
        action = "updated" if old is not None else "completed"
    elif present == 0:
        action = "published"
        _, r = with_retries(central, f"appending the frames of {session_id}", lambda: (
            dl.write_deltalake(central.frames_uri, frames, mode="append",
                               partition_by=FRAMES_PARTITION, storage_options=opts,
                               configuration=TABLE_CONFIGURATION, schema_mode="merge")))
        retries += r
    else:  # a different count (the local session was repaired since): replace it, one commit
        action = "replaced"
        predicate = where_equal(subject=subject, session=session_id)
        _, r = with_retries(central, f"replacing the frames of {session_id}", lambda: (
            dl.write_deltalake(central.frames_uri, frames, mode="overwrite",
                               predicate=predicate, partition_by=FRAMES_PARTITION,
                               storage_options=opts, schema_mode="merge")))
        retries += r
    pause = float(os.environ.get(PAUSE_ENV) or 0)
    if pause > 0:
        log.warning("frames of %s committed; pausing %.1f s before its sessions row (%s)",
                    session_id, pause, PAUSE_ENV)
        time.sleep(pause)
    _, r = with_retries(central, f"merging the sessions row of {session_id}",
                        lambda: _merge_row(central, row))
    retries += r
    log.info("%s/%s -> %s: %s (%d rows)", subject, session, session_id, action, n)
    return PublishResult(subject, session, session_id, action, n, retries)


def publish_all(store: Any, central: CentralStore,
                subject: str | None = None) -> list[PublishResult]:
    """Publish every finished session of ``store`` (or of one subject); one result each.

    A session that fails is reported and the others are still published.
    """
    results = []
    for s in store.list_sessions(subject).itertuples():
        try:
            results.append(publish_session(store, central, s.subject, s.session))
        except (OSError, ValueError, LookupError) as exc:  # one unreadable local session
            session_id = central_session_id(central.require_site(), s.session)
            result = PublishResult(s.subject, s.session, session_id, "failed",
                                   reason=central.redact(f"{type(exc).__name__}: {exc}"))
            _record(store.root, result, store.fsync)
            results.append(result)
    return results
