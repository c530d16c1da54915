"""Erasure and compaction of the central tables.

**Erasure** (:func:`erase_subject`) deletes a subject's rows from the sessions table first
(its frames stop counting at once, see :mod:`fer_core.central.publish`), then from the frames
table, and then *vacuums both tables with zero retention*, so the data files that held the
subject are removed from storage, not merely unreferenced. Delta keeps removed files for
time travel (7 days by default); erasure cannot wait for that, which is why it vacuums with
``retention_hours=0``: a reader holding an older table version at that moment fails (it
retries on the current one) and the tables lose their time travel to before the erasure.
Finally a checkpoint is written and older log entries are cleaned up, so the subject's file
names and column statistics do not linger in ``_delta_log`` either (see docs/log-format.md,
*Central store*, for what remains and why).

**Optimize** (:func:`optimize`) compacts the small files many publishes leave (one or more per
session) into larger ones, and vacuums what it replaced after the normal retention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fer_core.central.commit import open_table, with_retries
from fer_core.central.location import CentralStore
from fer_core.central.query import where_equal
from fer_core.logstore.ids import validate_id

log = logging.getLogger(__name__)


@dataclass
class EraseResult:
    subject: str
    sessions_deleted: int
    frames_deleted: int
    files_removed: int

    def summary(self) -> str:
        return (f"erased subject {self.subject} from the central store: "
                f"{self.sessions_deleted} session row(s), {self.frames_deleted} frame row(s), "
                f"{self.files_removed} file(s) removed from storage")


#: Set for the moment of an erasure's checkpoint, so it keeps no tombstone and no older log.
ERASE_PROPERTIES = {"delta.logRetentionDuration": "interval 0 seconds",
                    "delta.deletedFileRetentionDuration": "interval 0 seconds"}
#: Delta's defaults, restored right after (time travel and concurrent writers need the log).
DEFAULT_PROPERTIES = {"delta.logRetentionDuration": "interval 30 days",
                      "delta.deletedFileRetentionDuration": "interval 1 weeks"}


def _erase_from(central: CentralStore, uri: str, subject: str,
                session: str | None = None) -> tuple[int, int]:
    """Delete the subject's (or one session's) rows from one table and vacuum it;
    (rows deleted, files removed)."""
    predicate = (where_equal(subject=subject) if session is None
                 else where_equal(subject=subject, session=session))

    def delete() -> int:
        table = open_table(central, uri)
        if table is None:
            return 0
        metrics = table.delete(predicate)
        return int(metrics.get("num_deleted_rows", 0) or 0)

    deleted, _ = with_retries(central, f"deleting subject {subject} from {uri}", delete)

    def vacuum() -> int:
        table = open_table(central, uri)
        if table is None:
            return 0
        removed = table.vacuum(retention_hours=0, enforce_retention_duration=False,
                               dry_run=False, full=True)
        # the log's older entries name the removed files and hold their column statistics:
        # a checkpoint without tombstones, then every log entry before it removed
        table.alter.set_table_properties(ERASE_PROPERTIES)
        table = open_table(central, uri)
        table.create_checkpoint()
        table.cleanup_metadata()
        table.alter.set_table_properties(DEFAULT_PROPERTIES)
        return len(removed)

    removed, _ = with_retries(central, f"vacuuming {uri}", vacuum)
    return deleted, removed


def erase_subject(central: CentralStore, subject: str) -> EraseResult:
    """Delete every row of ``subject`` from both tables and remove the files that held them."""
    validate_id(subject, "subject")
    sessions_deleted, removed_s = _erase_from(central, central.sessions_uri, subject)
    frames_deleted, removed_f = _erase_from(central, central.frames_uri, subject)
    result = EraseResult(subject, sessions_deleted, frames_deleted, removed_s + removed_f)
    log.info("%s", result.summary())
    return result


def erase_session(central: CentralStore, subject: str, session_id: str) -> EraseResult:
    """Like :func:`erase_subject` for one session (``session_id``: the central id)."""
    validate_id(subject, "subject")
    sessions_deleted, removed_s = _erase_from(central, central.sessions_uri, subject, session_id)
    frames_deleted, removed_f = _erase_from(central, central.frames_uri, subject, session_id)
    result = EraseResult(f"{subject}/{session_id}", sessions_deleted, frames_deleted,
                         removed_s + removed_f)
    log.info("%s", result.summary().replace("subject ", "session ", 1))
    return result


@dataclass
class OptimizeResult:
    table: str
    files_before: int
    files_after: int
    files_vacuumed: int

    def summary(self) -> str:
        return (f"{self.table}: {self.files_before} -> {self.files_after} data file(s); "
                f"{self.files_vacuumed} replaced file(s) past retention removed")


def optimize(central: CentralStore, *, retention_hours: int | None = None) -> list[OptimizeResult]:
    """Compact both tables' small files; vacuum replaced files older than the retention
    (the table's, 7 days by default, unless ``retention_hours`` is given)."""
    results = []
    for name, uri in (("sessions", central.sessions_uri), ("frames", central.frames_uri)):
        def run(uri: str = uri, name: str = name) -> OptimizeResult | None:
            table = open_table(central, uri)
            if table is None:
                return None
            before = len(table.file_uris())
            table.optimize.compact()
            table = open_table(central, uri)
            kwargs = {} if retention_hours is None else {
                "retention_hours": retention_hours, "enforce_retention_duration": False}
            vacuumed = table.vacuum(dry_run=False, **kwargs)
            return OptimizeResult(name, before, len(table.file_uris()), len(vacuumed))

        result, _ = with_retries(central, f"optimizing the {name} table", run)
        if result is not None:
            results.append(result)
    return results
