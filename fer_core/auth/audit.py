"""Append-only audit log: who viewed, downloaded, exported, recorded or deleted what, and when.

One JSON object per line in ``audit/audit-YYYY-MM-DD.jsonl`` (UTC day). Lines are only ever
appended (``O_APPEND``) and fsynced before :meth:`AuditLog.write` returns, so an entry that the
app reported as written survives a crash. Each entry carries ``prev``, the SHA-256 of the line
before it (across day files), so editing or deleting an old line is detectable with
:meth:`AuditLog.verify`. Nothing in the app can rewrite or delete these files. An entry's time
is read under the log's lock, so the lines of parallel writers are in time order.

The chain alone cannot protect its own end: the last line (say, who erased a subject) could be
edited or deleted and every remaining ``prev`` would still match. So the head is anchored
outside the audit folder, in ``<auth dir>/audit-anchor.json`` and a copy,
``<auth dir>/audit-anchor.copy.json``: the number of lines, the hash of the last one and the
day file's size, replaced atomically after each append. The next entry takes its ``prev`` from
the anchor, not from the file, so an edited last line also breaks the chain at the next entry;
:meth:`AuditLog.verify` compares the end of the files with the anchor.

Deleting the anchor is itself tampering once the log has entries: the next write does not
silently re-anchor the damaged end but records the finding in the new anchor's ``tamper``
list, which every later anchor carries forward, so :meth:`AuditLog.verify` keeps reporting it.
A line that is not JSON (truncated, garbled) is reported as tampering, never raised: readers
see it as an ``unreadable_line`` entry. Lines may be of any length (hashes are over whole
lines, never a tail window).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fer_core.auth.jsonfile import locked, read_json, write_json

GENESIS = "0" * 64
ANCHOR = "audit-anchor.json"
ANCHOR_COPY = "audit-anchor.copy.json"
#: the action of the placeholder :meth:`AuditLog.entries` yields for a line that is not JSON
UNREADABLE = "unreadable_line"
#: at most this many tamper findings are kept in the anchor (the count of all is kept too)
MAX_TAMPER_NOTES = 20


log = logging.getLogger(__name__)


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` may write less than asked (long lines); loop until all of it is out."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_anchor_file(path: Path) -> tuple[dict | None, str]:
    """(anchor, problem): the anchor or None, and why it could not be used ('' when fine)."""
    try:
        value = read_json(path, None)
    except (RuntimeError, OSError) as exc:
        return None, f"{path.name} is unreadable ({exc})"
    if value is None:
        return None, f"{path.name} is missing"
    if not isinstance(value, dict) or not {"lines", "last"} <= value.keys():
        return None, f"{path.name} is not an audit anchor"
    return value, ""


class AuditLog:
    def __init__(self, directory: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.dir = Path(directory) / "audit"
        self.clock = clock or (lambda: datetime.now(UTC))

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("audit-*.jsonl")) if self.dir.is_dir() else []

    @property
    def anchor_path(self) -> Path:
        return self.dir.parent / ANCHOR

    @property
    def anchor_copy_path(self) -> Path:
        return self.dir.parent / ANCHOR_COPY

    def _anchor(self) -> tuple[dict | None, list[str]]:
        """The anchor (the main file, else its copy) and what was wrong with the main file."""
        anchor, problem = _read_anchor_file(self.anchor_path)
        if anchor is not None:
            return anchor, []
        copy, _ = _read_anchor_file(self.anchor_copy_path)
        return copy, [problem]

    def _scan(self) -> tuple[int, str, str]:
        """(number of lines, hash of the last line, hash of the one before) from the files."""
        n, last, before = 0, GENESIS, GENESIS
        for path in self.files():
            with open(path, "rb") as fh:
                for line in fh:  # whole lines, whatever their length
                    if line.strip():
                        n, last, before = n + 1, _line_hash(line), last
        return n, last, before

    def _head(self, when: str) -> tuple[int, str, list[str]]:
        """(lines, last hash, tamper notes) to continue from; called under the audit lock.

        Fast path: the anchor matches the newest file's name and size. Otherwise (the app died
        between an append and the anchor update, or tampering) the files are read: an entry
        appended on top of the anchored head is adopted; anything else keeps the anchor's head,
        so the damage stays visible to :meth:`verify`. A missing anchor with entries in the log
        is recorded as a tamper note (never silently re-anchored).
        """
        anchor, problems = self._anchor()
        notes = list(anchor.get("tamper", [])) if anchor else []
        files = self.files()
        if anchor and not problems and files and anchor.get("file") == files[-1].name:
            with contextlib.suppress(OSError):
                if files[-1].stat().st_size == anchor.get("size"):
                    return int(anchor["lines"]), str(anchor["last"]), notes
        n, last, before = self._scan()
        if anchor is None:
            if n:
                log.warning("audit log has %d line(s) but no anchor: recorded as tampering", n)
                notes.append(f"{when}: the audit anchor was gone ({'; '.join(problems)}, and "
                             f"its copy too) while the log held {n} line(s): removed?")
            return n, last, notes
        if problems:
            log.warning("audit anchor damaged or removed (%s); continuing from its copy",
                        problems[0])
            notes.append(f"{when}: {problems[0]}; continued from {ANCHOR_COPY}")
        if n == anchor["lines"] + 1 and before == anchor["last"]:
            return n, last, notes
        if (n, last) != (anchor["lines"], anchor["last"]):
            log.warning("audit log end does not match its anchor (altered?); keeping the anchor")
        return int(anchor["lines"]), str(anchor["last"]), notes

    def write(self, user: str, action: str, target: str = "", **details: Any) -> dict:
        """Append one entry: time (UTC), user, action, target, details; fsynced."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with locked(self.dir / "audit"):
            # read under the lock: parallel writers' lines are then in time order
            now = self.clock().astimezone(UTC)
            path = self.dir / f"audit-{now:%Y-%m-%d}.jsonl"
            entry = {"time": now.isoformat(timespec="milliseconds"), "user": user or "",
                     "action": action, "target": target, **({"details": details} if details
                                                            else {}),
                     "prev": ""}
            lines, entry["prev"], notes = self._head(entry["time"])
            line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                _write_all(fd, line)
                os.fsync(fd)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            anchor: dict[str, Any] = {"file": path.name, "size": size, "lines": lines + 1,
                                      "last": _line_hash(line)}
            if notes:
                anchor["tamper"] = notes[:1] + notes[1:][-(MAX_TAMPER_NOTES - 1):]
            # the copy first: if the app dies between the two, the main anchor is the older
            # one, which the next write adopts as "one entry behind" (see _head)
            write_json(self.anchor_copy_path, anchor)
            write_json(self.anchor_path, anchor)
        return entry

    def entries(self) -> Iterator[dict]:
        """Every entry in order; a line that is not JSON comes as an ``unreadable_line`` entry."""
        for path in self.files():
            with open(path, "rb") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        entry = json.loads(line)
                        if not isinstance(entry, dict):
                            raise ValueError("not an object")
                    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                        entry = {"time": "", "user": "", "action": UNREADABLE,
                                 "target": f"{path.name}:{lineno}"}
                    yield entry

    def read(self, *, user: str | None = None, action: str | None = None,
             target_contains: str | None = None) -> list[dict]:
        return [e for e in self.entries()
                if (user is None or e.get("user") == user)
                and (action is None or e.get("action") == action)
                and (target_contains is None or target_contains in str(e.get("target", "")))]

    def verify(self) -> list[str]:
        """Problems found in the hash chain and its anchored end (empty when intact).

        One line per finding; never raises for a damaged line or anchor.
        """
        problems: list[str] = []
        prev = last_prev = GENESIS
        total, last_unreadable = 0, ""
        for path in self.files():
            with open(path, "rb") as fh:
                for lineno, line in enumerate(fh, 1):  # whole lines, whatever their length
                    if not line.strip():
                        continue
                    total += 1
                    last_prev = prev
                    try:
                        entry = json.loads(line)
                        if not isinstance(entry, dict):
                            raise ValueError("not an object")
                    except ValueError:
                        last_unreadable = f"{path.name}:{lineno}"
                        problems.append(f"{last_unreadable}: not a readable entry (truncated "
                                        "or garbled)")
                        prev = _line_hash(line)
                        continue
                    last_unreadable = ""
                    if entry.get("prev") != prev:
                        problems.append(f"{path.name}:{lineno}: chain broken (a line before it "
                                        "was changed or removed)")
                    prev = _line_hash(line)
        end = self._check_end(total, prev, last_prev)
        if last_unreadable and end and problems:
            # a truncated last line: one finding, not two
            problems[-1] = (f"end of log: {last_unreadable} is not a readable entry (truncated "
                            "or garbled); the anchor ends in another line")
            end = [p for p in end if p.startswith("tamper")]
        problems.extend(end)
        return problems

    def _check_end(self, n: int, last: str, last_prev: str) -> list[str]:
        anchor, anchor_problems = self._anchor()
        found = [f"tamper recorded: {note}" for note in (anchor or {}).get("tamper", [])]
        if anchor is None:
            if n:
                found.append(f"{ANCHOR} and its copy are missing while the log holds {n} "
                             "line(s): the anchor was removed")
            return found
        if anchor_problems and n:
            found.append(f"{anchor_problems[0]} (its copy is used)")
        if (n, last) == (anchor.get("lines"), anchor.get("last")):
            return found
        if n == anchor.get("lines", -2) + 1 and last_prev == anchor.get("last"):
            return found  # the app stopped between an append and the anchor update
        found.append(f"end of log: {n} line(s) ending in {last[:12]}, anchor says "
                     f"{anchor.get('lines')} ending in {str(anchor.get('last'))[:12]} (the last "
                     "line(s) were changed, removed or truncated)")
        return found
