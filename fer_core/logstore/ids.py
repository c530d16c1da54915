"""Subject and session identifiers: validated before they ever become a path.

Ids become directory names (``subject=<id>``), so an unchecked id could address a file outside
the store (``../../etc``), collide with hidden bookkeeping files (``.tmp``, ``_session.json``) or
be unrepresentable on Windows. One conservative rule for every id keeps all of that impossible.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from fer_core.logstore.errors import InvalidIdError

#: Longest id accepted (directory names stay far below every filesystem's limit).
MAX_ID_LENGTH = 64

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Device names Windows refuses as file names, whatever the extension.
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(10)}
    | {f"lpt{i}" for i in range(10)}
)


def validate_id(value: str, kind: str = "subject") -> str:
    """Return ``value`` unchanged if it is a safe id, else raise :class:`InvalidIdError`.

    Safe: 1..64 characters from ``A-Z a-z 0-9 _ . -``, starting with a letter or digit, not
    ending with ``.``, no ``..``, not a Windows device name. This excludes path separators,
    ``=`` (hive partition syntax), ``%`` (hive URL-decoding), whitespace and control characters.
    """
    if not isinstance(value, str):
        raise InvalidIdError(f"{kind} id must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidIdError(f"{kind} id must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidIdError(
            f"{kind} id is {len(value)} characters long; the limit is {MAX_ID_LENGTH}"
        )
    if not _ID_RE.fullmatch(value):
        raise InvalidIdError(
            f"{kind} id {value!r} is not allowed: use letters, digits, '_', '-' and '.', "
            "starting with a letter or digit"
        )
    if ".." in value or value.endswith("."):
        raise InvalidIdError(f"{kind} id {value!r} must not contain '..' or end with '.'")
    if value.split(".")[0].lower() in _WINDOWS_RESERVED:
        raise InvalidIdError(f"{kind} id {value!r} is a reserved device name on Windows")
    return value


def new_session_id(now: datetime | None = None) -> str:
    """A fresh, sortable session id like ``20261127T210501Z-ab12``."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
