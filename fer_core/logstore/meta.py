"""Session metadata (``_session.json``): who, when, which model, notes and event markers.

Metadata lives beside the data as JSON because it is edited after the fact (notes, markers) and
must stay human-readable. The writer process and the dashboard may both change it while a
session is recorded, so every change is a read-modify-write under an inter-process lock
(:func:`update_meta`) and every write is atomic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fer_core import __version__
from fer_core.logstore.fsutil import atomic_write_bytes, locked
from fer_core.logstore.layout import META_LOCK, SESSION_META
from fer_core.logstore.schema import SOURCES

#: Version of the metadata JSON layout (independent of the row schema).
META_FORMAT_VERSION = 1


def to_utc(value: datetime | Any, what: str = "timestamp") -> datetime:
    """A timezone-aware UTC datetime; naive datetimes are rejected (their zone is unknowable)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value!r} is naive; pass a timezone-aware datetime (UTC)")
    return value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Marker:
    """An event marker ("stimulus shown", "break") at a point in time."""

    timestamp: datetime
    label: str


@dataclass
class SessionMeta:
    """Everything about a session that is not a per-frame row."""

    subject: str
    session: str
    started_at: datetime
    ended_at: datetime | None = None
    operator: str = ""
    label: str = ""
    notes: str = ""
    #: Chosen by a psychologist as (part of) this subject's baseline: observations, Compare and
    #: the history charts are then relative to the chosen sessions (fer_core.measures.baseline).
    baseline: bool = False
    markers: list[Marker] = field(default_factory=list)
    model_name: str = ""
    model_version: str = ""
    app_version: str = __version__
    source: str = "webcam"
    synthetic: bool = False
    consent: dict | None = None
    extra: dict = field(default_factory=dict)
    #: What ``logs repair`` could not recover, one record per repair that lost something
    #: (:func:`damage_record`); empty for an intact session. Never cleared by a later repair.
    damage: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = _iso(self.started_at)
        data["ended_at"] = _iso(self.ended_at)
        data["markers"] = [{"timestamp": _iso(m.timestamp), "label": m.label} for m in self.markers]
        data["format_version"] = META_FORMAT_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionMeta:
        data = dict(data)
        version = data.pop("format_version", META_FORMAT_VERSION)
        if version > META_FORMAT_VERSION:
            raise ValueError(f"session metadata format {version} is newer than this library")
        known = set(cls.__dataclass_fields__)
        unknown = {k: data.pop(k) for k in list(data) if k not in known}
        data["started_at"] = _parse(data["started_at"])
        data["ended_at"] = _parse(data.get("ended_at"))
        data["markers"] = [
            Marker(_parse(m["timestamp"]), str(m["label"]))  # type: ignore[arg-type]
            for m in data.get("markers", [])
        ]
        if not isinstance(data.get("baseline", False), bool):
            raise ValueError("baseline must be true or false")
        damage = data.get("damage", [])
        if not isinstance(damage, list) or not all(isinstance(d, dict) for d in damage):
            raise ValueError("damage must be a list of objects")
        meta = cls(**data)
        meta.extra = {**unknown, **meta.extra}
        return meta

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False).encode("utf-8")

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


#: Provenance fields: who recorded, from what, with which consent. ``logs repair`` never
#: changes these from what the old metadata or the rows say (see :func:`salvage_meta`).
PROVENANCE_FIELDS = ("synthetic", "source", "operator", "consent")


def damage_record(*, what: str, files: list[str], rows_lost: int | None,
                  seconds_lost: float | None, metadata_lost: list[str],
                  ended_at_before: datetime | None = None,
                  at: datetime | None = None) -> dict[str, Any]:
    """One entry of ``SessionMeta.damage``: what a repair lost, and when it found out.

    ``rows_lost``/``seconds_lost`` are None when unknowable (a file whose footer is gone and no
    manifest or summary that counted it); ``files`` are the set-aside (quarantined) names.
    """
    return {"repaired_at": _iso(at or datetime.now(UTC)), "what": what, "files": list(files),
            "rows_lost": rows_lost,
            "seconds_lost": None if seconds_lost is None else round(float(seconds_lost), 3),
            "metadata_lost": list(metadata_lost), "ended_at_before": _iso(ended_at_before)}


def damage_text(record: dict[str, Any]) -> str:
    """One line for listings and the dashboard: when, what, how much was lost."""
    parts = [f"repaired {record.get('repaired_at') or '?'}: {record.get('what') or 'damaged'}"]
    rows, seconds = record.get("rows_lost"), record.get("seconds_lost")
    if rows is None and seconds is None:
        if record.get("files"):
            parts.append("amount of data lost unknown")
    else:
        lost = []
        if rows is not None:
            lost.append(f"{rows} row(s)")
        if seconds is not None:
            lost.append(f"{seconds:g} s")
        parts.append(" and ".join(lost) + " lost")
    if record.get("metadata_lost"):
        parts.append("metadata lost: " + ", ".join(map(str, record["metadata_lost"])))
    if record.get("files"):
        parts.append("set aside: " + ", ".join(map(str, record["files"])))
    return "; ".join(parts)


def salvage_meta(raw: bytes) -> dict[str, Any]:
    """The fields of a damaged ``_session.json`` that still parse and have the right type.

    Why: a garbled metadata file often still holds its provenance (a demo session's
    ``synthetic: true``); rebuilding it from scratch would turn synthetic data into a "real"
    recording. Only fields whose value has the documented type are kept.
    """
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, Any] = {}
    for key in ("operator", "label", "notes", "model_name", "model_version", "app_version"):
        if isinstance(data.get(key), str):
            out[key] = data[key]
    for key in ("synthetic", "baseline"):
        if isinstance(data.get(key), bool):
            out[key] = data[key]
    if data.get("source") in SOURCES:
        out["source"] = data["source"]
    if "consent" in data and (data["consent"] is None or isinstance(data["consent"], dict)):
        out["consent"] = data["consent"]
    for key in ("extra",):
        if isinstance(data.get(key), dict):
            out[key] = data[key]
    if isinstance(data.get("damage"), list):
        out["damage"] = [d for d in data["damage"] if isinstance(d, dict)]
    return out


def read_meta(session_dir: Path) -> SessionMeta | None:
    """The session's metadata, or None when the file is missing or unreadable."""
    try:
        return SessionMeta.from_dict(json.loads((session_dir / SESSION_META).read_bytes()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_meta(session_dir: Path, meta: SessionMeta, *, fsync: bool = True) -> None:
    """Write metadata atomically (no lock: for a session nobody else can see yet)."""
    atomic_write_bytes(session_dir / SESSION_META, meta.to_json(), fsync=fsync)


def update_meta(
    session_dir: Path, change: Callable[[SessionMeta], None], *, fsync: bool = True
) -> SessionMeta:
    """Apply ``change`` to the on-disk metadata under the session's metadata lock."""
    with locked(session_dir / META_LOCK):
        meta = read_meta(session_dir)
        if meta is None:
            raise FileNotFoundError(f"no readable {SESSION_META} in {session_dir}")
        change(meta)
        write_meta(session_dir, meta, fsync=fsync)
        return meta
