"""Export (CSV, Parquet, ZIP) and ZIP import: moving a person's record between machines.

Formats (all carry ``subject`` and ``session`` as ordinary columns, rows sorted as in a read):

* ``csv`` -- UTF-8, header row, ISO-8601 UTC timestamps with milliseconds (``...T09:00:00.123Z``),
  empty cell = null, floats in their shortest exact float32 form (so the CSV is lossless too;
  :func:`read_csv_export` parses it back with the exact schema).
* ``parquet`` -- one file, :data:`EXPORT_SCHEMA`; key-value metadata ``fer.sessions`` holds the
  sessions' metadata JSON.
* ``zip`` -- ``export.json`` (format version, schema version, list of sessions),
  ``data.parquet``, ``data.csv`` and ``sessions/<subject>/<session>.json``. :func:`import_zip`
  restores it. Members are only ever read by names built from validated ids (no zip-slip).

This module does not import :mod:`fer_core.logstore.store` (the store imports it for
``LogStore.export``/``import_zip``): what it needs of a store is the :class:`StoreView`
protocol, the scope comes from :mod:`fer_core.logstore.catalog`, and the errors from
:mod:`fer_core.logstore.errors`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fer_core import __version__
from fer_core.logstore.catalog import session_pairs
from fer_core.logstore.errors import RowError, SessionExistsError, SessionNotFoundError
from fer_core.logstore.fsutil import atomic_write_bytes, fsync_dir, make_dir, make_dirs
from fer_core.logstore.ids import validate_id
from fer_core.logstore.layout import compact_name, manifest_name, session_dir
from fer_core.logstore.meta import SessionMeta, write_meta
from fer_core.logstore.parquet_io import PARQUET_OPTIONS, write_parquet
from fer_core.logstore.rows import validate_table, with_summary
from fer_core.logstore.schema import (
    PARTITION_SCHEMA,
    ROW_SCHEMA,
    SCHEMA_VERSION,
    SORT_KEYS,
    conform,
)
from fer_core.logstore.zipcheck import ImportLimits, ZipReader, check_manifest, check_meta

log = logging.getLogger(__name__)

#: Version of the ZIP layout.
EXPORT_FORMAT_VERSION = 1
EXPORT_SCHEMA: pa.Schema = pa.schema([*PARTITION_SCHEMA, *ROW_SCHEMA])
FORMATS = ("csv", "parquet", "zip")


class StoreView(Protocol):
    """What export and import use of a :class:`~fer_core.logstore.LogStore`.

    A protocol rather than the class itself, so that this module needs no import of
    ``store.py`` (which imports this module): ``LogStore`` satisfies it as it is.
    """

    root: Path
    fsync: bool

    def read_table(self, subject: str | None = None,
                   session: str | None = None) -> pa.Table: ...

    def session_meta(self, subject: str, session: str) -> SessionMeta: ...


def _scope(store: StoreView, subject: str | None, session: str | None) -> list[SessionMeta]:
    pairs = session_pairs(store.root, subject, session)
    if not pairs and (subject is not None or session is not None):
        raise SessionNotFoundError(f"nothing to export for subject={subject} session={session}")
    metas = []
    for subj, sess in pairs:
        try:
            metas.append(store.session_meta(subj, sess))
        except LookupError:
            log.warning("session %s/%s has no readable metadata; exporting its rows only",
                        subj, sess)
    return metas


def export_bytes(store: StoreView, fmt: str, subject: str | None, session: str | None) -> bytes:
    """The rows (and for ZIP the metadata) of a session, a subject or the whole store."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")
    metas = _scope(store, subject, session)
    table = store.read_table(subject, session).cast(EXPORT_SCHEMA)
    if fmt == "csv":
        return table_to_csv(table)
    if fmt == "parquet":
        return table_to_parquet(table, metas)
    return _zip(table, metas, subject, session)


def table_to_csv(table: pa.Table) -> bytes:
    ts = pc.strftime(table.column("timestamp"), format="%Y-%m-%dT%H:%M:%SZ")
    table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", ts)
    buf = io.BytesIO()
    pacsv.write_csv(table, buf)
    return buf.getvalue()


def read_csv_export(data: bytes) -> pa.Table:
    """Parse a CSV made by :func:`export_bytes` back into :data:`EXPORT_SCHEMA`, losslessly."""
    table = pacsv.read_csv(
        io.BytesIO(data),
        convert_options=pacsv.ConvertOptions(
            column_types={f.name: f.type for f in EXPORT_SCHEMA},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    return table.select(EXPORT_SCHEMA.names).cast(EXPORT_SCHEMA)


def table_to_parquet(table: pa.Table, metas: list[SessionMeta]) -> bytes:
    meta = {b"fer.export_format": str(EXPORT_FORMAT_VERSION).encode(),
            b"fer.schema_version": str(SCHEMA_VERSION).encode(),
            b"fer.sessions": json.dumps([m.to_dict() for m in metas]).encode()}
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf, **PARQUET_OPTIONS)
    return buf.getvalue()


def _zip(table: pa.Table, metas: list[SessionMeta], subject: str | None,
         session: str | None) -> bytes:
    counts = {}
    if table.num_rows:
        grouped = table.group_by(["subject", "session"]).aggregate([([], "count_all")])
        counts = {(r["subject"], r["session"]): r["count_all"] for r in grouped.to_pylist()}
    manifest = {
        "export_format": EXPORT_FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "app_version": __version__,
        "exported_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "scope": {"subject": subject, "session": session},
        "sessions": [{"subject": m.subject, "session": m.session,
                      "n_rows": counts.get((m.subject, m.session), 0)} for m in metas],
        "files": {"data": "data.parquet", "csv": "data.csv",
                  "metadata": "sessions/<subject>/<session>.json"},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export.json", json.dumps(manifest, indent=2))
        zf.writestr("data.parquet", table_to_parquet(table, metas),
                    compress_type=zipfile.ZIP_STORED)
        zf.writestr("data.csv", table_to_csv(table))
        for m in metas:
            zf.writestr(f"sessions/{m.subject}/{m.session}.json", m.to_json())
    return buf.getvalue()


def import_zip(store: StoreView, data: bytes | Path, *, skip_existing: bool = False,
               limits: ImportLimits | None = None) -> list[tuple[str, str]]:
    """Restore the sessions of an export ZIP into ``store``.

    Everything is validated before anything is written (sizes within ``limits``, the manifest
    and every session's metadata against their typed layout, every row against the writer's
    rules); a bad input is a one-line ``ValueError``. A session that already exists is an
    error (:class:`SessionExistsError`, nothing imported) unless ``skip_existing``. Each
    session appears to readers in one directory rename, complete with data and metadata.
    """
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else Path(data)
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"not a readable export ZIP: {exc}") from exc
    with zf:
        members = ZipReader(zf, limits)
        entries = check_manifest(_json_member(members, "export.json"), EXPORT_FORMAT_VERSION)
        metas: dict[tuple[str, str], SessionMeta] = {}
        expected_rows: dict[tuple[str, str], int | None] = {}
        for subj, sess, n_rows in entries:
            name = f"sessions/{subj}/{sess}.json"
            raw = _json_member(members, name)
            check_meta(raw, name)
            try:
                meta = SessionMeta.from_dict(raw)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise ValueError(f"{name}: not valid session metadata: {exc}") from exc
            if (meta.subject, meta.session) != (subj, sess):
                raise ValueError(f"metadata of {subj}/{sess} names {meta.subject}/{meta.session}")
            metas[(subj, sess)] = meta
            expected_rows[(subj, sess)] = n_rows
        table = members.parquet("data.parquet")
    for name in ("subject", "session"):
        if name not in table.column_names:
            raise ValueError(f"data.parquet has no {name!r} column")
        if not pa.types.is_string(table.schema.field(name).type):
            raise ValueError(f"data.parquet column {name!r} must be strings")
    groups = _split(table)
    for subj, sess in groups:
        validate_id(subj, "subject")
        validate_id(sess, "session")
        if (subj, sess) not in metas:
            raise ValueError(f"rows of {subj}/{sess} have no metadata in the ZIP")
    for pair, expected in expected_rows.items():
        got = groups[pair].num_rows if pair in groups else 0
        if expected is not None and expected != got:
            raise ValueError(f"export.json says {expected} row(s) for {pair[0]}/{pair[1]}, "
                             f"data.parquet holds {got}")
    wanted = list(metas)
    existing = [p for p in wanted if session_dir(store.root, *p).exists()]
    if existing and not skip_existing:
        raise SessionExistsError(
            "already in the store (nothing imported): "
            + ", ".join(f"{s}/{x}" for s, x in existing))
    done = []
    for pair in wanted:
        if pair in existing:
            continue
        _install(store, metas[pair], groups.get(pair))
        done.append(pair)
    log.info("imported %d session(s) into %s", len(done), store.root)
    return done


def _json_member(members: ZipReader, name: str) -> dict[str, Any]:
    raw = members.read(name, members.limits.max_json_bytes)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{name} in the export ZIP is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{name} in the export ZIP is not a JSON object")
    return data


def _split(table: pa.Table) -> dict[tuple[str, str], pa.Table]:
    """Rows per (subject, session), conformed to the row schema."""
    out: dict[tuple[str, str], pa.Table] = {}
    if not table.num_rows:
        return out
    keys = table.select(["subject", "session"]).group_by(["subject", "session"]).aggregate([])
    for key in keys.to_pylist():
        mask = pc.and_(pc.equal(table["subject"], key["subject"]),
                       pc.equal(table["session"], key["session"]))
        where = f"data.parquet rows of {key['subject']}/{key['session']}"
        try:
            part = conform(table.filter(mask).drop_columns(["subject", "session"]))
        except (ValueError, pa.ArrowException) as exc:  # a missing column, a wrong type
            raise ValueError(f"{where}: {exc}") from exc
        try:
            validate_table(part)
        except RowError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        out[(key["subject"], key["session"])] = part.sort_by(SORT_KEYS)
    return out


def _install(store: StoreView, meta: SessionMeta, rows: pa.Table | None) -> None:
    final = session_dir(store.root, meta.subject, meta.session)
    make_dirs(final.parent)
    staging = final.parent / f".import-{meta.session}-{secrets.token_hex(4)}"
    make_dir(staging)
    # Staged data is named so that no ``*.parquet`` glob (DuckDB's ``**`` enters hidden
    # folders) reaches it; it takes its real name just before the folder appears.
    staged_data = staging / f"{compact_name(1)}.staged"
    try:
        if rows is not None and rows.num_rows:
            write_parquet(with_summary(rows), staged_data, fsync=store.fsync)
            atomic_write_bytes(staging / manifest_name(1), json.dumps(
                {"generation": 1, "compacted": compact_name(1), "superseded": [],
                 "rows": rows.num_rows, "schema_version": SCHEMA_VERSION}).encode(),
                fsync=store.fsync)
        write_meta(staging, meta, fsync=store.fsync)
        if store.fsync:
            fsync_dir(staging)
        if final.exists():
            raise SessionExistsError(f"{meta.subject}/{meta.session} appeared during import")
        if staged_data.exists():
            os.replace(staged_data, staging / compact_name(1))
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if store.fsync:
        fsync_dir(final.parent)
