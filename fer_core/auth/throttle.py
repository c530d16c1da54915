"""Login throttling: after repeated wrong passwords a username is locked for a growing time.

Per username (known or not, so the lock does not reveal which names exist), persisted in
``throttle.json`` so restarting the app does not reset the count. After ``free_attempts``
failures each further failure locks the name for ``base_s * 2**(n - free_attempts)`` seconds,
capped at ``max_s``. A successful login clears the count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fer_core.auth.jsonfile import read_json, update_json

FREE_ATTEMPTS = 5
BASE_LOCK_S = 30.0
MAX_LOCK_S = 900.0
MAX_ENTRIES = 10_000  # guessed names must not grow the file without bound


class Throttle:
    def __init__(self, directory: Path, clock: Callable[[], datetime] | None = None, *,
                 free_attempts: int = FREE_ATTEMPTS, base_s: float = BASE_LOCK_S,
                 max_s: float = MAX_LOCK_S) -> None:
        self.path = Path(directory) / "throttle.json"
        self.clock = clock or (lambda: datetime.now(UTC))
        self.free_attempts, self.base_s, self.max_s = free_attempts, base_s, max_s

    def _now(self) -> float:
        return self.clock().timestamp()

    @staticmethod
    def _key(username: str) -> str:
        return (username or "").strip().lower()

    def locked_for(self, username: str) -> float:
        """Seconds until ``username`` may try again (0 when it may try now)."""
        entry = read_json(self.path, {}).get(self._key(username))
        return max(0.0, entry["locked_until"] - self._now()) if entry else 0.0

    def failures(self, username: str) -> int:
        entry = read_json(self.path, {}).get(self._key(username))
        return entry["failures"] if entry else 0

    def record_failure(self, username: str) -> float:
        """Count a wrong password; returns the lock now in force (seconds, 0 if none)."""
        now, key = self._now(), self._key(username)

        def change(data: dict) -> float:
            entry = data.setdefault(key, {"failures": 0, "locked_until": 0.0})
            entry["failures"] += 1
            extra = entry["failures"] - self.free_attempts
            lock = min(self.max_s, self.base_s * 2 ** extra) if extra >= 0 else 0.0
            entry["locked_until"] = now + lock
            entry["last_failure"] = now
            if len(data) > MAX_ENTRIES:  # drop the oldest entries that no longer lock anything
                stale = sorted((k for k, v in data.items() if v["locked_until"] <= now),
                               key=lambda k: data[k].get("last_failure", 0))
                for k in stale[: len(data) - MAX_ENTRIES]:
                    del data[k]
            return lock

        return update_json(self.path, {}, change)

    def record_success(self, username: str) -> None:
        key = self._key(username)
        if key in read_json(self.path, {}):
            update_json(self.path, {}, lambda data: data.pop(key, None))
