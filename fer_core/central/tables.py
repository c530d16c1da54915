"""The two central Delta tables: their Arrow schemas and how a local session becomes rows.

``frames``: the local row schema (docs/log-format.md, *Row columns*) plus ``subject``,
``session`` (the central id ``<site>.<local id>``) and ``site``; partitioned by ``subject`` so
one subject's data lives under ``frames/subject=<id>/`` (reads filtered by subject touch only
those files, and erasure removes whole files). Timestamps are microseconds UTC, Delta's only
timestamp type (the values are the local store's milliseconds, unchanged).

``sessions``: one row per session, the commit point readers rely on (a frame counts only when
its session's row exists): metadata, notes, segments, consent, damage and the session summary,
with the JSON-shaped fields as JSON text so every engine reads them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from fer_core.logstore.meta import SessionMeta
from fer_core.logstore.schema import ROW_SCHEMA

TS = pa.timestamp("us", tz="UTC")
KEY_FIELDS = [pa.field("subject", pa.string(), nullable=False),
              pa.field("session", pa.string(), nullable=False),
              pa.field("site", pa.string(), nullable=False)]
#: The frames table: key columns, then the local row columns (timestamps widened to us).
FRAMES_SCHEMA = pa.schema(
    KEY_FIELDS + [f.with_type(TS) if f.name == "timestamp" else f for f in ROW_SCHEMA])
FRAMES_PARTITION = ["subject"]
#: Table properties set when a table is created. A checkpoint every 10 commits instead of
#: delta-rs's 100: every publish opens both tables several times, and each open replays the
#: JSON commits since the last checkpoint, one GET each (docs/benchmarks.md, *Central store*).
TABLE_CONFIGURATION = {"delta.checkpointInterval": "10"}

#: The sessions table, one row per published session.
SESSIONS_SCHEMA = pa.schema([
    *KEY_FIELDS,
    pa.field("local_session", pa.string(), nullable=False),
    pa.field("started_at", TS, nullable=False),
    pa.field("ended_at", TS),
    pa.field("duration_s", pa.float64()),
    pa.field("n_rows", pa.int64(), nullable=False),
    pa.field("n_frames", pa.int64(), nullable=False),
    pa.field("n_face_rows", pa.int64(), nullable=False),
    pa.field("status", pa.string(), nullable=False),
    pa.field("damage", pa.string(), nullable=False),
    pa.field("label", pa.string(), nullable=False),
    pa.field("operator", pa.string(), nullable=False),
    pa.field("notes", pa.string(), nullable=False),
    pa.field("model_name", pa.string(), nullable=False),
    pa.field("model_version", pa.string(), nullable=False),
    pa.field("app_version", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("synthetic", pa.bool_(), nullable=False),
    pa.field("baseline", pa.bool_()),  # nullable: rows published before the column existed
    pa.field("n_segments", pa.int64(), nullable=False),
    pa.field("segments_json", pa.string(), nullable=False),
    pa.field("consent_json", pa.string(), nullable=False),
    pa.field("extra_json", pa.string(), nullable=False),
    pa.field("damage_json", pa.string(), nullable=False),
    pa.field("summary_json", pa.string(), nullable=False),
    pa.field("meta_json", pa.string(), nullable=False),
    pa.field("published_at", TS, nullable=False),
])


def frames_table(rows: pa.Table, subject: str, session_id: str, site: str) -> pa.Table:
    """The frames-table rows of one session from ``LogStore.read_table``'s output."""
    n = rows.num_rows
    columns: list[pa.Array | pa.ChunkedArray] = [
        pa.array([subject] * n, pa.string()), pa.array([session_id] * n, pa.string()),
        pa.array([site] * n, pa.string())]
    for f in FRAMES_SCHEMA:
        if f.name in ("subject", "session", "site"):
            continue
        columns.append(rows.column(f.name).cast(f.type))
    return pa.Table.from_arrays(columns, schema=FRAMES_SCHEMA)


def conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """``rows`` with ``schema``'s columns in order and types, missing nullable ones null.

    Why: a central table created before a column existed lacks it until a newer session is
    published into it (the publish merges the schema): frames tables made before row schema
    version 2 have no ``face_brightness``/``face_contrast``, sessions tables made before the
    chosen baseline no ``baseline``. Readers get such columns as nulls, as the local store
    reads version-1 files.
    """
    columns = []
    for f in schema:
        if f.name in rows.column_names:
            columns.append(rows.column(f.name).cast(f.type))
        elif f.nullable:
            columns.append(pa.nulls(rows.num_rows, f.type))
        else:
            raise ValueError(f"the central table has no column {f.name!r}")
    return pa.Table.from_arrays(columns, schema=schema)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def sessions_row(meta: SessionMeta, listing: dict[str, Any], session_id: str, site: str,
                 summary: dict | None, *, published_at: datetime | None = None) -> pa.Table:
    """The one sessions-table row of a session.

    ``listing``: the session's row of ``LogStore.list_sessions`` (counts, status, damage);
    ``summary``: its ``_summary.json`` (``{}`` when it has none).
    """
    data = meta.to_dict()
    row = {
        "subject": meta.subject, "session": session_id, "site": site,
        "local_session": meta.session, "started_at": meta.started_at,
        "ended_at": meta.ended_at, "duration_s": float(listing["duration_s"]),
        "n_rows": int(listing["n_rows"]), "n_frames": int(listing["n_frames"]),
        "n_face_rows": int(listing["n_face_rows"]), "status": str(listing["status"]),
        "damage": str(listing["damage"]), "label": meta.label, "operator": meta.operator,
        "notes": meta.notes, "model_name": meta.model_name,
        "model_version": meta.model_version, "app_version": meta.app_version,
        "source": meta.source, "synthetic": bool(meta.synthetic),
        "baseline": bool(meta.baseline),
        "n_segments": len(meta.segments), "segments_json": _json(data["segments"]),
        "consent_json": _json(meta.consent), "extra_json": _json(meta.extra),
        "damage_json": _json(meta.damage), "summary_json": _json(summary or {}),
        "meta_json": _json(data), "published_at": published_at or datetime.now(UTC),
    }
    return pa.Table.from_pylist([row], schema=SESSIONS_SCHEMA)


#: Columns compared to decide whether a published session row is out of date.
CONTENT_COLUMNS = tuple(n for n in SESSIONS_SCHEMA.names if n != "published_at")


def read_summary(path: Path) -> dict:
    """A session's ``_summary.json`` as published (``{}`` when missing or unreadable)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
