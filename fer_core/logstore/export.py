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

import contextlib
import io
import json
import logging
import os
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
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
from fer_core.logstore.fsutil import atomic_write_bytes, fsync_dir, make_dir, make_dirs, publish
from fer_core.logstore.ids import validate_id
from fer_core.logstore.layout import compact_name, manifest_name, session_dir
from fer_core.logstore.meta import SessionMeta, write_meta
from fer_core.logstore.parquet_io import PARQUET_OPTIONS, write_parquet
from fer_core.logstore.rows import validate_table, with_summary
from fer_core.logstore.schema import (
    META_N_FACE_ROWS,
    META_N_FRAMES,
    META_SCHEMA_VERSION,
    PARTITION_SCHEMA,
    ROW_SCHEMA,
    SCHEMA_VERSION,
    SORT_KEYS,
    conform,
)
from fer_core.logstore.summary_file import ensure_summary
from fer_core.logstore.zipcheck import (
    ImportLimits,
    ZipReader,
    check_manifest,
    check_meta,
    load_json,
)

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

    Memory: ``data.parquet`` is spooled to a hidden scratch folder and read a batch at a time;
    each session's rows are written to a scratch file as they come, so an import holds one
    batch (plus, only for rows that arrive out of order, one session) in memory.
    """
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else Path(data)
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"not a readable export ZIP: {exc}") from exc
    with zf, _scratch(store.root) as scratch:
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
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
                raise ValueError(f"{name}: not valid session metadata: {exc}") from exc
            if (meta.subject, meta.session) != (subj, sess):
                raise ValueError(f"metadata of {subj}/{sess} names {meta.subject}/{meta.session}")
            metas[(subj, sess)] = meta
            expected_rows[(subj, sess)] = n_rows
        wanted = list(metas)
        existing = [p for p in wanted if session_dir(store.root, *p).exists()]
        if existing and not skip_existing:
            raise SessionExistsError(
                "already in the store (nothing imported): "
                + ", ".join(f"{s}/{x}" for s, x in existing))
        sinks: dict[tuple[str, str], _SessionRows] = {}
        try:
            for table in members.parquet_batches("data.parquet", scratch / "data.parquet.spool"):
                _check_key_columns(table)
                for pair, part in _split(table).items():
                    if pair not in metas:
                        raise ValueError(f"rows of {pair[0]}/{pair[1]} have no metadata in the ZIP")
                    if pair not in sinks:
                        sinks[pair] = _SessionRows(scratch / f"{len(sinks):06d}.rows")
                    sinks[pair].add(part)
        finally:
            for sink in sinks.values():
                sink.close()
        for pair, expected in expected_rows.items():
            got = sinks[pair].n_rows if pair in sinks else 0
            if expected is not None and expected != got:
                raise ValueError(f"export.json says {expected} row(s) for {pair[0]}/{pair[1]}, "
                                 f"data.parquet holds {got}")
        done = []
        for pair in wanted:
            if pair in existing:
                continue
            _install(store, metas[pair], sinks.get(pair))
            done.append(pair)
    log.info("imported %d session(s) into %s", len(done), store.root)
    return done


def install_session(store: StoreView, meta: SessionMeta, rows: pa.Table) -> None:
    """Write one finished session (its metadata and all its rows at once) into ``store``.

    Why: copying a session that already exists elsewhere (the central store's local cache,
    :mod:`fer_core.central.cache`) through :class:`SessionWriter` turns every row into a
    Python dict and back, minutes for a few million rows; here the Arrow table is conformed,
    checked with the writer's rules, sorted and written as the session's compacted file, and
    the session appears in one directory rename with its ``_summary.json``, as an import does.
    A session that already exists is a :class:`SessionExistsError`.
    """
    validate_id(meta.subject, "subject")
    validate_id(meta.session, "session")
    if session_dir(store.root, meta.subject, meta.session).exists():
        raise SessionExistsError(f"{meta.subject}/{meta.session} already exists")
    where = f"rows of {meta.subject}/{meta.session}"
    try:
        part = conform(rows)
        validate_table(part)
    except (ValueError, RowError, pa.ArrowException) as exc:
        raise ValueError(f"{where}: {exc}") from exc
    with _scratch(store.root) as scratch:
        sink = _SessionRows(scratch / "000000.rows")
        try:
            sink.add(part.sort_by(SORT_KEYS))
        finally:
            sink.close()
        _install(store, meta, sink)
    final = session_dir(store.root, meta.subject, meta.session)
    ensure_summary(final, fsync=store.fsync)


@contextlib.contextmanager
def _scratch(root: Path) -> Iterator[Path]:
    """A scratch folder for an import, on the store's disk when it exists (hidden, removed).

    Why there: the spooled Parquet member can be large; the system's temporary folder may be
    a RAM disk. Files in it never end in ``.parquet``, so no reader's glob reaches them.
    """
    parent = root if root.is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix=".import-scratch-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_key_columns(table: pa.Table) -> None:
    for name in ("subject", "session"):
        if name not in table.column_names:
            raise ValueError(f"data.parquet has no {name!r} column")
        if not pa.types.is_string(table.schema.field(name).type):
            raise ValueError(f"data.parquet column {name!r} must be strings")


#: PARQUET_OPTIONS as a ParquetWriter takes them (the row group size goes to each write)
_WRITER_OPTIONS = {k: v for k, v in PARQUET_OPTIONS.items() if k != "row_group_size"}


class _SessionRows:
    """One session's validated rows, written to a scratch Parquet file batch by batch.

    Tracks the row and frame counts (for the file's summary metadata) and whether the rows
    arrived in :data:`SORT_KEYS` order; only if not are they re-read whole and sorted.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.n_rows = self.n_frames = self.n_face = 0
        self.ordered = True
        self._last: tuple | None = None
        self._writer: pq.ParquetWriter | None = None

    def add(self, part: pa.Table) -> None:
        """Append a batch's rows of this session (already conformed, validated, sorted)."""
        if not part.num_rows:
            return
        first = tuple(part[k][0].as_py() for k, _ in SORT_KEYS)
        if self._last is not None and first < self._last:
            self.ordered = False
        self._last = tuple(part[k][-1].as_py() for k, _ in SORT_KEYS)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, part.schema, **_WRITER_OPTIONS)
        self._writer.write_table(part, row_group_size=PARQUET_OPTIONS["row_group_size"])
        summary = with_summary(part).schema.metadata
        self.n_rows += part.num_rows
        self.n_frames += int(summary[META_N_FRAMES])
        self.n_face += int(summary[META_N_FACE_ROWS])

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def publish(self, final: Path, fsync: bool) -> None:
        """Write the session's rows as its compacted file ``final`` (sorted, with summary)."""
        if not self.ordered:  # rows out of order across batches: this one session is sorted
            write_parquet(with_summary(pq.read_table(self.path).sort_by(SORT_KEYS)), final,
                          fsync=fsync)
            return
        table_meta = pq.read_schema(self.path).metadata or {}
        meta = {**table_meta, META_SCHEMA_VERSION: str(SCHEMA_VERSION).encode(),
                META_N_FRAMES: str(self.n_frames).encode(),
                META_N_FACE_ROWS: str(self.n_face).encode()}

        def write(tmp: Path) -> None:
            source = pq.ParquetFile(self.path)
            schema = source.schema_arrow.with_metadata(meta)
            with pq.ParquetWriter(tmp, schema, **_WRITER_OPTIONS) as out:
                for batch in source.iter_batches(batch_size=PARQUET_OPTIONS["row_group_size"]):
                    out.write_table(pa.Table.from_batches([batch], schema),
                                    row_group_size=PARQUET_OPTIONS["row_group_size"])

        publish(write, final, fsync=fsync)


def _json_member(members: ZipReader, name: str) -> dict[str, Any]:
    data = load_json(members.read(name, members.limits.max_json_bytes), name)
    if not isinstance(data, dict):
        raise ValueError(f"{name} in the export ZIP is not a JSON object")
    return data


def _split(table: pa.Table) -> dict[tuple[str, str], pa.Table]:
    """Rows per (subject, session), conformed to the row schema, validated and sorted."""
    out: dict[tuple[str, str], pa.Table] = {}
    if not table.num_rows:
        return out
    keys = table.select(["subject", "session"]).group_by(["subject", "session"]).aggregate([])
    for key in keys.to_pylist():
        validate_id(key["subject"], "subject")
        validate_id(key["session"], "session")
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


def _install(store: StoreView, meta: SessionMeta, rows: _SessionRows | None) -> None:
    final = session_dir(store.root, meta.subject, meta.session)
    make_dirs(final.parent)
    staging = final.parent / f".import-{meta.session}-{secrets.token_hex(4)}"
    make_dir(staging)
    # Staged data is named so that no ``*.parquet`` glob (DuckDB's ``**`` enters hidden
    # folders) reaches it; it takes its real name just before the folder appears.
    staged_data = staging / f"{compact_name(1)}.staged"
    try:
        if rows is not None and rows.n_rows:
            rows.publish(staged_data, store.fsync)
            atomic_write_bytes(staging / manifest_name(1), json.dumps(
                {"generation": 1, "compacted": compact_name(1), "superseded": [],
                 "rows": rows.n_rows, "schema_version": SCHEMA_VERSION}).encode(),
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
