"""Checks of an export ZIP before anything of it is trusted: size limits and typed JSON.

Why: an import reads a file that came from elsewhere. A 1 MB ZIP can hold a member that
decompresses to 1 GiB (a "ZIP bomb"), a manifest can hold a string where a number belongs, and
metadata can be any JSON at all. Each of these must end in a one-line ``ValueError`` naming the
member and the field, never in a traceback or in gigabytes of memory. Sizes are enforced while
decompressing (a member's declared size can lie), and a Parquet member's own uncompressed size is
checked from its footer before its columns are decoded.

The Parquet member is never held in memory whole: it must start with Parquet's magic bytes (a
member of zeros is refused at its first four bytes), it is copied to a scratch file in 1 MiB
chunks under its own cap (``max_parquet_bytes``, like ``max_json_bytes`` for the JSON members),
its footer is checked (each row group's decoded size under ``max_row_group_bytes``, all of them
within the total budget), and its rows are then read in batches (:meth:`ZipReader.parquet_batches`),
so an import's memory is bounded by a batch, not by the ZIP (docs/benchmarks.md, "Import memory").
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fer_core.logstore.ids import validate_id
from fer_core.logstore.schema import SCHEMA_VERSION, SOURCES

MIB = 1 << 20


@dataclass(frozen=True)
class ImportLimits:
    """How much an import may decompress (defaults fit ~10 million rows of logs)."""

    max_members: int = 20_000
    max_member_bytes: int = 1024 * MIB  # any one member, decompressed
    max_total_bytes: int = 2048 * MIB  # all members read, decompressed, plus Parquet decoding
    max_json_bytes: int = 4 * MIB  # export.json and each session's metadata
    max_parquet_bytes: int = 1024 * MIB  # data.parquet, as stored (compressed columns)
    max_row_group_bytes: int = 256 * MIB  # one row group of data.parquet, decoded
    batch_rows: int = 65_536  # rows decoded at a time


class _Budget:
    def __init__(self, limits: ImportLimits) -> None:
        self.limits, self.used = limits, 0

    def take(self, n: int, what: str) -> None:
        self.used += n
        if self.used > self.limits.max_total_bytes:
            raise ValueError(f"export ZIP too large: reading {what} exceeds the limit of "
                             f"{self.limits.max_total_bytes // MIB} MiB decompressed in total")


class ZipReader:
    """Reads members of an export ZIP within :class:`ImportLimits`."""

    def __init__(self, zf: zipfile.ZipFile, limits: ImportLimits | None = None) -> None:
        self.zf, self.limits = zf, limits or ImportLimits()
        self.budget = _Budget(self.limits)
        infos = zf.infolist()
        if len(infos) > self.limits.max_members:
            raise ValueError(f"export ZIP has {len(infos)} members, more than the limit of "
                             f"{self.limits.max_members}")

    def read(self, name: str, limit: int | None = None) -> bytes:
        """Member ``name`` as bytes, at most ``limit`` (and the per-member limit) decompressed."""
        chunks: list[bytes] = []
        self._copy(name, limit or self.limits.max_member_bytes, chunks.append)
        return b"".join(chunks)

    def spool(self, name: str, target: Path, limit: int, magic: bytes = b"") -> None:
        """Copy member ``name`` to the file ``target`` in 1 MiB chunks, at most ``limit`` bytes.

        ``magic``: the bytes the member must start with, checked before anything else is read.
        """
        with open(target, "wb") as out:
            self._copy(name, limit, out.write, magic)

    def _copy(self, name: str, limit: int, sink: Callable[[bytes], object],
              magic: bytes = b"") -> None:
        """Stream member ``name`` into ``sink`` in 1 MiB chunks; every limit checked as it goes.

        The declared size is checked first, the real one while decompressing (a ZIP header can
        lie), and every chunk is taken from the whole import's budget.
        """
        limit = min(limit, self.limits.max_member_bytes)
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise ValueError(f"export ZIP has no {name}") from None
        if info.file_size > limit:
            raise ValueError(f"{name} in the export ZIP is {info.file_size // MIB} MiB "
                             f"decompressed, over the limit of {limit // MIB} MiB")
        try:
            with self.zf.open(info) as fh:
                size = 0
                if magic:
                    head = fh.read(len(magic))
                    if head != magic:
                        raise ValueError(f"{name} in the export ZIP is not a readable Parquet "
                                         f"file (it does not start with {magic!r})")
                    sink(head)
                    size = len(head)
                while chunk := fh.read(MIB):
                    size += len(chunk)
                    if size > limit:  # the declared size lied
                        raise ValueError(f"{name} in the export ZIP decompresses to more than "
                                         f"{limit // MIB} MiB")
                    self.budget.take(len(chunk), name)
                    sink(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, zlib.error) as exc:
            raise ValueError(f"{name} in the export ZIP cannot be read: {exc}") from exc

    def parquet_batches(self, name: str, scratch: Path) -> Iterator[pa.Table]:
        """The rows of Parquet member ``name``, a batch at a time, within the limits.

        The member is spooled to ``scratch`` (a file the caller deletes), its footer is checked
        before any column is decoded, and batches of ``batch_rows`` rows are decoded one by one.
        """
        self.spool(name, scratch, self.limits.max_parquet_bytes, magic=b"PAR1")
        try:
            pf = pq.ParquetFile(scratch)
            md = pf.metadata
            decoded = 0
            for i in range(md.num_row_groups):
                size = max(md.row_group(i).total_byte_size, sum(
                    md.row_group(i).column(c).total_uncompressed_size
                    for c in range(md.row_group(i).num_columns)))
                if size > self.limits.max_row_group_bytes:
                    raise ValueError(f"{name} in the export ZIP has a row group of "
                                     f"{size // MIB} MiB decoded, over the limit of "
                                     f"{self.limits.max_row_group_bytes // MIB} MiB")
                decoded += size
            self.budget.take(decoded, f"{name}'s columns")
            batches = pf.iter_batches(batch_size=self.limits.batch_rows)
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    return
                yield pa.Table.from_batches([batch])
        except (OSError, pa.ArrowException) as exc:
            raise ValueError(f"{name} in the export ZIP is not a readable Parquet file: "
                             f"{exc}") from exc


def load_json(raw: bytes, name: str) -> Any:
    """Parse a JSON member; too deep a nesting is a one-line refusal, not a RecursionError."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError(f"{name} in the export ZIP is nested too deeply to be an "
                         "export") from None
    except ValueError as exc:
        raise ValueError(f"{name} in the export ZIP is not valid JSON: {exc}") from exc


def _need(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise ValueError(f"{where}: {what}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_manifest(data: dict[str, Any], max_format: int) -> list[tuple[str, str, int | None]]:
    """Validate ``export.json``; returns its (subject, session, n_rows) entries."""
    where = "export.json"
    version = data.get("export_format")
    _need(_is_int(version) and 1 <= version <= max_format, where,
          f"unsupported export_format {version!r} (this version reads 1..{max_format})")
    schema = data.get("schema_version", SCHEMA_VERSION)
    _need(_is_int(schema) and schema >= 1, where, f"schema_version {schema!r} is not a number")
    _need(schema <= SCHEMA_VERSION, where, f"export has schema version {schema}, newer than "
          f"{SCHEMA_VERSION}; upgrade fer_core to import it")
    sessions = data.get("sessions", [])
    _need(isinstance(sessions, list), where, "sessions must be a list")
    out, seen = [], set()
    for i, entry in enumerate(sessions):
        at = f"{where} sessions[{i}]"
        _need(isinstance(entry, dict), at, "must be an object")
        subject, session = entry.get("subject"), entry.get("session")
        _need(isinstance(subject, str) and isinstance(session, str), at,
              "subject and session must be strings")
        validate_id(subject, "subject")
        validate_id(session, "session")
        _need((subject, session) not in seen, at, f"{subject}/{session} is listed twice")
        seen.add((subject, session))
        n_rows = entry.get("n_rows")
        _need(n_rows is None or (_is_int(n_rows) and n_rows >= 0), at,
              f"n_rows must be a non-negative integer, got {n_rows!r}")
        out.append((subject, session, n_rows))
    return out


_META_STRINGS = ("operator", "label", "notes", "model_name", "model_version", "app_version")


def check_meta(data: dict[str, Any], where: str) -> None:
    """Validate a session's metadata JSON field by field (types, vocabulary)."""
    for key in ("subject", "session", "started_at"):
        _need(isinstance(data.get(key), str), where, f"{key} must be a string")
    _need(data.get("ended_at") is None or isinstance(data["ended_at"], str), where,
          "ended_at must be a string or null")
    for key in _META_STRINGS:
        _need(isinstance(data.get(key, ""), str), where, f"{key} must be a string")
    _need(data.get("source", "webcam") in SOURCES, where,
          f"source {data.get('source')!r} is not one of {sorted(SOURCES)}")
    _need(isinstance(data.get("synthetic", False), bool), where, "synthetic must be true/false")
    _need(isinstance(data.get("baseline", False), bool), where, "baseline must be true/false")
    _need(data.get("consent") is None or isinstance(data["consent"], dict), where,
          "consent must be an object or null")
    _need(isinstance(data.get("extra", {}), dict), where, "extra must be an object")
    # metadata version 1 (older exports): point markers; version 2: segments
    markers = data.get("markers", [])
    _need(isinstance(markers, list), where, "markers must be a list")
    for m in markers:
        _need(isinstance(m, dict) and isinstance(m.get("timestamp"), str)
              and isinstance(m.get("label"), str), where,
              "each marker must be {\"timestamp\": string, \"label\": string}")
    segments = data.get("segments", [])
    _need(isinstance(segments, list), where, "segments must be a list")
    for seg in segments:
        _need(isinstance(seg, dict) and all(isinstance(seg.get(k), str)
                                            for k in ("id", "label", "start"))
              and (seg.get("end") is None or isinstance(seg["end"], str)), where,
              "each segment must be {\"id\": string, \"label\": string, \"start\": string, "
              "\"end\": string or null}")
    _need(_is_int(data.get("format_version", 1)), where, "format_version must be an integer")
    damage = data.get("damage", [])
    _need(isinstance(damage, list) and all(isinstance(d, dict) for d in damage), where,
          "damage must be a list of objects")
