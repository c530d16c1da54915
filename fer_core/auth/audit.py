"""Append-only audit log: who viewed, downloaded, exported, recorded or deleted what, and when.

One JSON object per line in ``audit/audit-YYYY-MM-DD.jsonl`` (UTC day). Lines are only ever
appended (``O_APPEND``) and fsynced before :meth:`AuditLog.write` returns, so an entry that the
app reported as written survives a crash. Each entry carries ``prev``, the SHA-256 of the line
before it (across day files), so editing or deleting an old line is detectable with
:meth:`AuditLog.verify`. Nothing in the app can rewrite or delete these files.

The chain alone cannot protect its own end: the last line (say, who erased a subject) could be
edited or deleted and every remaining ``prev`` would still match. So the head is anchored
outside the audit folder, in ``<auth dir>/audit-anchor.json``: the number of lines, the hash of
the last one and the day file's size, replaced atomically after each append. The next entry
takes its ``prev`` from the anchor, not from the file, so an edited last line also breaks the
chain at the next entry; :meth:`AuditLog.verify` compares the end of the files with the anchor.
Lines may be of any length (hashes are over whole lines, never a tail window).
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


log = logging.getLogger(__name__)


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` may write less than asked (long lines); loop until all of it is out."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class AuditLog:
    def __init__(self, directory: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.dir = Path(directory) / "audit"
        self.clock = clock or (lambda: datetime.now(UTC))

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("audit-*.jsonl")) if self.dir.is_dir() else []

    @property
    def anchor_path(self) -> Path:
        return self.dir.parent / ANCHOR

    def _scan(self) -> tuple[int, str, str]:
        """(number of lines, hash of the last line, hash of the one before) from the files."""
        n, last, before = 0, GENESIS, GENESIS
        for path in self.files():
            with open(path, "rb") as fh:
                for line in fh:  # whole lines, whatever their length
                    if line.strip():
                        n, last, before = n + 1, _line_hash(line), last
        return n, last, before

    def _head(self) -> tuple[int, str]:
        """(lines, last hash) to continue from; called under the audit lock.

        Fast path: the anchor matches the newest file's name and size. Otherwise (the app died
        between an append and the anchor update, a log from before anchors, or tampering) the
        files are read: an entry appended on top of the anchored head is adopted; anything else
        keeps the anchor's head, so the damage stays visible to :meth:`verify`.
        """
        anchor = read_json(self.anchor_path, None)
        files = self.files()
        if anchor and files and anchor.get("file") == files[-1].name:
            with contextlib.suppress(OSError):
                if files[-1].stat().st_size == anchor.get("size"):
                    return int(anchor["lines"]), str(anchor["last"])
        n, last, before = self._scan()
        if not anchor:
            if n:
                log.warning("audit log has no anchor yet; anchoring its current end")
            return n, last
        if n == anchor["lines"] + 1 and before == anchor["last"]:
            return n, last
        if (n, last) != (anchor["lines"], anchor["last"]):
            log.warning("audit log end does not match its anchor (altered?); keeping the anchor")
        return int(anchor["lines"]), str(anchor["last"])

    def write(self, user: str, action: str, target: str = "", **details: Any) -> dict:
        """Append one entry: time (UTC), user, action, target, details; fsynced."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        now = self.clock().astimezone(UTC)
        path = self.dir / f"audit-{now:%Y-%m-%d}.jsonl"
        with locked(self.dir / "audit"):
            entry = {"time": now.isoformat(timespec="milliseconds"), "user": user or "",
                     "action": action, "target": target, **({"details": details} if details
                                                            else {}),
                     "prev": ""}
            lines, entry["prev"] = self._head()
            line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                _write_all(fd, line)
                os.fsync(fd)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            write_json(self.anchor_path, {"file": path.name, "size": size, "lines": lines + 1,
                                          "last": _line_hash(line)})
        return entry

    def entries(self) -> Iterator[dict]:
        for path in self.files():
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        yield json.loads(line)

    def read(self, *, user: str | None = None, action: str | None = None,
             target_contains: str | None = None) -> list[dict]:
        return [e for e in self.entries()
                if (user is None or e["user"] == user)
                and (action is None or e["action"] == action)
                and (target_contains is None or target_contains in e["target"])]

    def verify(self) -> list[str]:
        """Problems found in the hash chain and its anchored end (empty when intact)."""
        problems: list[str] = []
        prev = last_prev = GENESIS
        total = 0
        for path in self.files():
            with open(path, "rb") as fh:
                for lineno, line in enumerate(fh, 1):  # whole lines, whatever their length
                    if not line.strip():
                        continue
                    total += 1
                    last_prev = prev
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        problems.append(f"{path.name}:{lineno}: not JSON")
                        prev = _line_hash(line)
                        continue
                    if entry.get("prev") != prev:
                        problems.append(f"{path.name}:{lineno}: chain broken (a line before it "
                                        "was changed or removed)")
                    prev = _line_hash(line)
        problems.extend(self._check_end(total, prev, last_prev))
        return problems

    def _check_end(self, n: int, last: str, last_prev: str) -> list[str]:
        try:
            anchor = read_json(self.anchor_path, None)
        except RuntimeError as exc:
            return [f"{ANCHOR}: {exc}"]
        if anchor is None:
            return [f"{ANCHOR} is missing: the end of the log cannot be checked"] if n else []
        if (n, last) == (anchor.get("lines"), anchor.get("last")):
            return []
        if n == anchor.get("lines", -2) + 1 and last_prev == anchor.get("last"):
            return []  # the app stopped between an append and the anchor update
        return [f"end of log: {n} line(s) ending in {last[:12]}, anchor says "
                f"{anchor.get('lines')} ending in {str(anchor.get('last'))[:12]} (the last "
                "line(s) were changed, removed or truncated)"]
