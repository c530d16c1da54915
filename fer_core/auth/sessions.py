"""Login sessions: random server-side tokens with an idle timeout and a maximum age.

Kept in memory of the app process on purpose: a restart logs everyone out, and no token is ever
written to disk. Only a SHA-256 of each token is kept, so the table itself grants nothing.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class LoginSession:
    username: str
    created: float
    last_seen: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionRegistry:
    def __init__(self, clock: Callable[[], datetime] | None = None, *,
                 idle_timeout_s: float = 1800.0, max_age_s: float = 43200.0) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.idle_timeout_s, self.max_age_s = idle_timeout_s, max_age_s
        self._sessions: dict[str, LoginSession] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        return self.clock().timestamp()

    def create(self, username: str) -> str:
        token, now = secrets.token_urlsafe(32), self._now()
        with self._lock:
            self._expire(now)
            self._sessions[_digest(token)] = LoginSession(username, now, now)
        return token

    def touch(self, token: str | None) -> str | None:
        """The username of a live session (and mark it active now), or None if expired/unknown."""
        if not token:
            return None
        now, key = self._now(), _digest(token)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if (now - session.last_seen > self.idle_timeout_s
                    or now - session.created > self.max_age_s):
                del self._sessions[key]
                return None
            session.last_seen = now
            return session.username

    def revoke(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    def revoke_user(self, username: str) -> int:
        with self._lock:
            keys = [k for k, s in self._sessions.items() if s.username == username]
            for k in keys:
                del self._sessions[k]
        return len(keys)

    def _expire(self, now: float) -> None:
        for k, s in list(self._sessions.items()):
            if now - s.last_seen > self.idle_timeout_s or now - s.created > self.max_age_s:
                del self._sessions[k]
