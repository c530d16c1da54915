"""The audit log as a table a person reads: local times named with their zone, details as text.

The log itself stays machine-shaped (UTC ISO times, JSON details, a hash chain); this is only
its presentation on the Admin page (issue 19: raw ISO times and Python dicts were shown).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

AUDIT_COLUMNS = ["time", "user", "action", "target", "details"]


def local_time(value: Any, tz: str) -> str:
    """``2026-11-02 10:00:05 CET`` from a stored UTC ISO time; the raw text if it is not one."""
    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        return str(value or "")
    if pd.isna(ts):
        return str(value or "")
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    local = ts.tz_convert(tz)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or tz}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def details_text(details: Any) -> str:
    """``field: notes; value: yes`` from an entry's details object (sorted keys as stored)."""
    if not details:
        return ""
    if isinstance(details, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_text(v)}" for k, v in details.items())
    return _text(details)


def audit_table(entries: Iterable[dict], tz: str) -> pd.DataFrame:
    """Newest first: :data:`AUDIT_COLUMNS`, every cell text (time in ``tz``, zone named)."""
    rows = [{"time": local_time(e.get("time", ""), tz), "user": str(e.get("user", "")),
             "action": str(e.get("action", "")), "target": str(e.get("target", "")),
             "details": details_text(e.get("details"))} for e in entries]
    return pd.DataFrame(rows[::-1], columns=AUDIT_COLUMNS)
