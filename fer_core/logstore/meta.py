"""Session metadata (``_session.json``): who, when, which model, notes and task segments.

Metadata lives beside the data as JSON because it is edited after the fact (notes, segments) and
must stay human-readable. The writer process and the dashboard may both change it while a
session is recorded, so every change is a read-modify-write under an inter-process lock
(:func:`update_meta`) and every write is atomic.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fer_core import __version__
from fer_core.logstore.fsutil import atomic_write_bytes, locked
from fer_core.logstore.layout import META_LOCK, SESSION_META
from fer_core.logstore.schema import SOURCES

#: Version of the metadata JSON layout (independent of the row schema). 2: ``segments``
#: (intervals with an id) replace version 1's ``markers`` (points); version 1 files still read.
META_FORMAT_VERSION = 2
#: Longest segment label; a label is a task name ("stimulus A"), not a note.
MAX_SEGMENT_LABEL = 200


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
    """A point in time with a label: the read-only view of a segment's start
    (:attr:`SessionMeta.markers`), kept for code written against metadata version 1."""

    timestamp: datetime
    label: str


class SegmentError(ValueError):
    """A segment that cannot exist (empty label, end before start, naive time, unknown id)."""


def new_segment_id() -> str:
    """A short random id: stable across edits, so an edit or delete names what it changes even
    when two segments share a label and a start."""
    return secrets.token_hex(4)


def _ms(value: datetime) -> datetime:
    """Truncated to whole milliseconds, the resolution ``_session.json`` stores, so a segment
    compares equal to itself after a write and a read (the duplicate check relies on it).
    A pandas Timestamp becomes a plain datetime (its nanoseconds would survive ``replace``)."""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime(warn=False)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass
class Segment:
    """A labelled task interval of a session ("baseline interview", "stimulus A").

    ``end`` None makes it a point (an event marker). Times are UTC-aware, stored to the
    millisecond; a segment may lie partly or wholly outside the recorded rows (a marker added
    after STOP). Construction validates, so no invalid segment reaches ``_session.json``.
    """

    id: str
    label: str
    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise SegmentError("a segment needs a non-empty id")
        if not isinstance(self.label, str):
            raise SegmentError(f"segment label must be text, got {type(self.label).__name__}")
        self.label = self.label.strip()
        if not self.label:
            raise SegmentError("a segment needs a non-empty label")
        if len(self.label) > MAX_SEGMENT_LABEL:
            raise SegmentError(f"segment label is longer than {MAX_SEGMENT_LABEL} characters")
        try:
            self.start = _ms(to_utc(self.start, "segment start"))
            self.end = None if self.end is None else _ms(to_utc(self.end, "segment end"))
        except (TypeError, ValueError) as exc:
            raise SegmentError(str(exc)) from None
        if self.end is not None and self.end < self.start:
            raise SegmentError(f"segment {self.label!r} ends ({_iso(self.end)}) before it "
                               f"starts ({_iso(self.start)})")

    @property
    def is_point(self) -> bool:
        """True for a point marker (no end)."""
        return self.end is None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end; None for a point."""
        return None if self.end is None else (self.end - self.start).total_seconds()

    def same_as(self, other: Segment) -> bool:
        """Same label, start and end (ids aside): a second click of "add" makes no copy."""
        return (self.label, self.start, self.end) == (other.label, other.start, other.end)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "start": _iso(self.start),
                "end": _iso(self.end)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        if not isinstance(data, dict):
            raise SegmentError("a segment must be an object")
        try:
            return cls(str(data["id"]), data["label"], _parse(data["start"]),  # type: ignore[arg-type]
                       _parse(data.get("end")))
        except KeyError as exc:
            raise SegmentError(f"segment is missing {exc.args[0]!r}") from None

    @classmethod
    def from_marker(cls, data: dict[str, Any]) -> Segment:
        """A version-1 marker ``{"timestamp", "label"}`` as a point segment.

        Its id is derived from the marker, so reading the same old file twice gives the same
        ids (an edit names the segment by id before the file is rewritten as version 2).
        """
        if not isinstance(data, dict) or "timestamp" not in data:
            raise SegmentError("a marker must be {\"timestamp\": ..., \"label\": ...}")
        stamp = str(data["timestamp"])
        digest = hashlib.sha256(f"{stamp}|{data.get('label')}".encode()).hexdigest()[:8]
        return cls(digest, data.get("label"), _parse(stamp))  # type: ignore[arg-type]


def make_segment(label: str, start: datetime, end: datetime | None = None) -> Segment:
    """A new segment with a fresh id (validated)."""
    return Segment(new_segment_id(), label, start, end)


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
    segments: list[Segment] = field(default_factory=list)
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
        data["segments"] = [seg.to_dict() for seg in self.segments]
        data["format_version"] = META_FORMAT_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionMeta:
        data = dict(data)
        legacy = "markers" in data and "segments" not in data
        version = data.pop("format_version", 1 if legacy else META_FORMAT_VERSION)
        if not isinstance(version, int):
            raise ValueError(f"format_version must be an integer, got {version!r}")
        if version > META_FORMAT_VERSION:
            raise ValueError(f"session metadata format {version} is newer than this library")
        # version 1's point markers become point segments (popped before unknown keys go to
        # ``extra``); a version-2 file has no ``markers``
        markers = data.pop("markers", None) if version < 2 else None
        known = set(cls.__dataclass_fields__)
        unknown = {k: data.pop(k) for k in list(data) if k not in known}
        data["started_at"] = _parse(data["started_at"])
        data["ended_at"] = _parse(data.get("ended_at"))
        segments = data.get("segments", [])
        if not isinstance(segments, list):
            raise SegmentError("segments must be a list")
        data["segments"] = [Segment.from_dict(seg) for seg in segments]
        ids = [seg.id for seg in data["segments"]]
        if len(set(ids)) != len(ids):
            raise SegmentError(f"segment ids must be unique, got {sorted(ids)}")
        if markers is not None:
            if not isinstance(markers, list):
                raise SegmentError("markers must be a list")
            for marker in map(Segment.from_marker, markers):
                # version 1 let a double click store a marker twice: one point is kept
                if not any(marker.id == seg.id for seg in data["segments"]):
                    data["segments"].append(marker)
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

    @property
    def markers(self) -> list[Marker]:
        """Every segment's start and label, in time order: a read-only view for code written
        against version 1 (reports, charts that draw points). Edit :attr:`segments`."""
        return [Marker(seg.start, seg.label) for seg in self.sorted_segments()]

    def sorted_segments(self) -> list[Segment]:
        """Segments by start, then end (points first), then label."""
        return sorted(self.segments, key=lambda s: (s.start, s.end or s.start, s.label))

    def segment(self, segment_id: str) -> Segment:
        """The segment with this id (SegmentError when there is none)."""
        for seg in self.segments:
            if seg.id == segment_id:
                return seg
        raise SegmentError(f"session {self.session!r} has no segment {segment_id!r}")

    def add_segment(self, segment: Segment) -> Segment:
        """Add ``segment`` unless one with the same label, start and end exists; returns the
        one in the metadata (the existing one on a repeat: a double click adds nothing)."""
        for seg in self.segments:
            if seg.id == segment.id or seg.same_as(segment):
                return seg
        self.segments.append(segment)
        return segment


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
