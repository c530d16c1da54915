"""Append-only audit log: who viewed, downloaded, exported, recorded or deleted what, and when.

One JSON object per line in ``audit/audit-YYYY-MM-DD.jsonl`` (UTC day). Lines are only ever
appended (``O_APPEND``) and fsynced before :meth:`AuditLog.write` returns, so an entry that the
app reported as written survives a crash. Each entry carries ``prev``, the SHA-256 of the line
before it (across day files), so editing or deleting an old line is detectable with
:meth:`AuditLog.verify`. Nothing in the app can rewrite or delete these files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fer_core.auth.jsonfile import locked

GENESIS = "0" * 64


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


class AuditLog:
    def __init__(self, directory: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.dir = Path(directory) / "audit"
        self.clock = clock or (lambda: datetime.now(UTC))

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("audit-*.jsonl")) if self.dir.is_dir() else []

    def _last_hash(self) -> str:
        for path in reversed(self.files()):
            with open(path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 65536))
                lines = [ln for ln in fh.read().split(b"\n") if ln.strip()]
            if lines:
                return _line_hash(lines[-1])
        return GENESIS

    def write(self, user: str, action: str, target: str = "", **details: Any) -> dict:
        """Append one entry: time (UTC), user, action, target, details; fsynced."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        now = self.clock().astimezone(UTC)
        path = self.dir / f"audit-{now:%Y-%m-%d}.jsonl"
        with locked(self.dir / "audit"):
            entry = {"time": now.isoformat(timespec="milliseconds"), "user": user or "",
                     "action": action, "target": target, **({"details": details} if details
                                                            else {}),
                     "prev": self._last_hash()}
            line = (json.dumps(entry, sort_keys=True, default=str) + "\n").encode()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
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
        """Problems found in the hash chain (empty when no line was changed or removed)."""
        problems, prev = [], GENESIS
        for path in self.files():
            with open(path, "rb") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        problems.append(f"{path.name}:{n}: not JSON")
                        prev = _line_hash(line)
                        continue
                    if entry.get("prev") != prev:
                        problems.append(f"{path.name}:{n}: chain broken (a line before it was "
                                        "changed or removed)")
                    prev = _line_hash(line)
        return problems
