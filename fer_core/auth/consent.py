"""The consent record stored with every recorded session: who, when, and the exact text shown.

Checked where a recording is armed, so a session can never be opened without one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class ConsentError(ValueError):
    pass


def consent_problem(record: Any) -> str | None:
    """Why ``record`` is not a usable consent record, or None when it is.

    Required: ``given`` is True, ``text`` (the words shown) is not empty, ``at`` is an ISO time
    with a time zone. Optional but written by the app: ``subject`` (who consented) and
    ``obtained_by`` (the logged-in account that recorded it).
    """
    if not isinstance(record, dict):
        return "no consent record"
    if record.get("given") is not True:
        return "consent was not given"
    if not str(record.get("text") or "").strip():
        return "the consent text shown is missing"
    try:
        at = datetime.fromisoformat(str(record.get("at")))
    except ValueError:
        return "the consent time is missing or not an ISO time"
    if at.tzinfo is None:
        return "the consent time has no time zone"
    return None


def require_consent(record: Any) -> dict:
    problem = consent_problem(record)
    if problem:
        raise ConsentError(f"a recording needs a consent record: {problem}")
    return record
