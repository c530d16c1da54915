"""Login throttling: after repeated wrong passwords a username is locked for a growing time.

Per username (known or not, so the lock does not reveal which names exist), persisted in
``throttle.json`` so restarting the app does not reset the count. The first ``free_attempts``
wrong passwords are free; the ``n``-th (``n > free_attempts``) locks the name for
``base_s * 2**(n - free_attempts - 1)`` seconds, capped at ``max_s``. A successful login clears
the count.

Why a reservation: a password check takes ~150 ms (argon2). Reading the lock before the check
and recording the failure after it let N parallel requests make N guesses. :meth:`reserve`
checks the lock *and* counts the attempt in one locked read-modify-write of the file (a
``flock`` shared by threads and processes), before the password is checked; a correct password
then clears the count. So however many requests arrive at once, at most ``free_attempts + 1``
passwords are checked before the lock holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fer_core.auth.jsonfile import read_json, update_json

FREE_ATTEMPTS = 5
BASE_LOCK_S = 30.0
MAX_LOCK_S = 900.0
MAX_ENTRIES = 10_000  # guessed names must not grow the file without bound


@dataclass(frozen=True)
class Reservation:
    """Outcome of :meth:`Throttle.reserve`."""

    wait_s: float  # > 0: locked, the password must not be checked
    lock_if_wrong_s: float = 0.0  # the lock this attempt started (in force unless it succeeds)

    @property
    def allowed(self) -> bool:
        return self.wait_s <= 0


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

    def lock_after(self, failures: int) -> float:
        """Lock (seconds) started by the ``failures``-th wrong password in a row."""
        extra = failures - self.free_attempts - 1
        return min(self.max_s, self.base_s * 2 ** extra) if extra >= 0 else 0.0

    def locked_for(self, username: str) -> float:
        """Seconds until ``username`` may try again (0 when it may try now)."""
        entry = read_json(self.path, {}).get(self._key(username))
        return max(0.0, entry["locked_until"] - self._now()) if entry else 0.0

    def failures(self, username: str) -> int:
        entry = read_json(self.path, {}).get(self._key(username))
        return entry["failures"] if entry else 0

    def reserve(self, username: str) -> Reservation:
        """Atomically: refuse while locked, else count this attempt as a failure in advance.

        The attempt stays counted (and its lock, if it starts one, stays in force) unless
        :meth:`record_success` clears it after a correct password.
        """
        now, key = self._now(), self._key(username)

        def change(data: dict) -> Reservation:
            entry = data.get(key)
            if entry and entry["locked_until"] > now:
                return Reservation(entry["locked_until"] - now)
            entry = data.setdefault(key, {"failures": 0, "locked_until": 0.0})
            entry["failures"] += 1
            lock = self.lock_after(entry["failures"])
            entry["locked_until"] = now + lock
            entry["last_failure"] = now
            _forget_stale(data, now)
            return Reservation(0.0, lock)

        return update_json(self.path, {}, change)

    def record_success(self, username: str) -> None:
        key = self._key(username)
        if key in read_json(self.path, {}):
            update_json(self.path, {}, lambda data: data.pop(key, None))


def _forget_stale(data: dict, now: float) -> None:
    """Drop the oldest entries that no longer lock anything once the file is too big."""
    if len(data) <= MAX_ENTRIES:
        return
    stale = sorted((k for k, v in data.items() if v["locked_until"] <= now),
                   key=lambda k: data[k].get("last_failure", 0))
    for k in stale[: len(data) - MAX_ENTRIES]:
        del data[k]
