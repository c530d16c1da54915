"""Validation of one appended row and the in-memory column buffer.

Why here and not at flush time: a bad value must fail in the caller's ``append`` with a message
naming the column, not later on the writer thread where the whole batch would be at stake. The
checks are plain ``type``/``isinstance`` tests so an append stays in the microseconds.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from fer_core.labels import FER2013_CLASSES
from fer_core.logstore.schema import (
    META_N_FACE_ROWS,
    META_N_FRAMES,
    META_SCHEMA_VERSION,
    REQUIRED_COLUMNS,
    ROW_COLUMNS,
    ROW_SCHEMA,
    SCHEMA_VERSION,
    SOURCES,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_LABELS = frozenset(FER2013_CLASSES)

class RowError(ValueError):
    """An appended row that does not fit the schema (nothing of it was stored)."""

def timestamp_ms(value: Any) -> int:
    """Epoch milliseconds (UTC) from a tz-aware datetime/pd.Timestamp or an epoch-ms int."""
    if type(value) is int:
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise RowError(
                f"timestamp {value!r} is naive; pass a timezone-aware (UTC) datetime or epoch ms"
            )
        return (value - _EPOCH) // _MS
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise RowError(
        f"timestamp must be a tz-aware datetime, pd.Timestamp or epoch-milliseconds int, "
        f"got {type(value).__name__}"
    )

def _int_checker(bits: int) -> Callable[[str, Any], Any]:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(name: str, value: Any) -> Any:
        if type(value) is not int:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise RowError(f"{name} must be an integer, got {type(value).__name__}")
            value = int(value)
        if not lo <= value <= hi:
            raise RowError(f"{name}={value} is outside the int{bits} range")
        return value

    return check

def _float(name: str, value: Any) -> Any:
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RowError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)

def _bool(name: str, value: Any) -> Any:
    if type(value) is bool:
        return value
    if type(value).__name__ == "bool_":  # numpy.bool_
        return bool(value)
    raise RowError(f"{name} must be a bool, got {type(value).__name__}")

def _str(name: str, value: Any) -> Any:
    if type(value) is not str:
        raise RowError(f"{name} must be a string, got {type(value).__name__}")
    return value

def _label(name: str, value: Any) -> Any:
    if value not in _LABELS:
        raise RowError(f"label {value!r} is not a FER2013 class ({', '.join(FER2013_CLASSES)})")
    return value

def _source(name: str, value: Any) -> Any:
    if value not in SOURCES:
        raise RowError(f"source {value!r} is not one of {sorted(SOURCES)}")
    return value

def _checker(field: pa.Field) -> Callable[[str, Any], Any]:
    if field.name == "label":
        return _label
    if field.name == "source":
        return _source
    t = field.type
    if pa.types.is_integer(t):
        return _int_checker(t.bit_width)
    if pa.types.is_floating(t):
        return _float
    if pa.types.is_boolean(t):
        return _bool
    return _str

_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    f.name: _checker(f) for f in ROW_SCHEMA if f.name not in ("timestamp", "schema_version")
}
_NOT_NULL = frozenset(f.name for f in ROW_SCHEMA if not f.nullable)
_KNOWN = frozenset(ROW_COLUMNS)
# Columns the caller provides (schema_version is the writer's business).
_CALLER_COLUMNS = tuple(c for c in ROW_COLUMNS if c != "schema_version")

def validate_row(row: Mapping[str, Any], defaults: Mapping[str, str]) -> tuple[Any, ...]:
    """Check one row; return its values in :data:`_CALLER_COLUMNS` order (timestamp as ms)."""
    if not isinstance(row, Mapping):
        raise RowError(f"a row must be a mapping of column -> value, got {type(row).__name__}")
    keys = row.keys()
    unknown = keys - _KNOWN
    if unknown:
        raise RowError(f"unknown column(s) {sorted(unknown)}; known: {list(_CALLER_COLUMNS)}")
    missing = REQUIRED_COLUMNS - keys
    if missing:
        raise RowError(f"row is missing required column(s) {sorted(missing)}")
    out = []
    for name in _CALLER_COLUMNS:
        value = row.get(name)
        if name == "timestamp":
            value = timestamp_ms(value)
        elif value is None:
            if name in defaults:
                value = defaults[name]
            elif name in _NOT_NULL:
                raise RowError(f"{name} must not be None")
        else:
            value = _CHECKS[name](name, value)
        out.append(value)
    return tuple(out)

class ColumnBuffer:
    """Rows held as Python lists, one per column; turned into Arrow only at flush time."""

    def __init__(self) -> None:
        self.columns: list[list[Any]] = [[] for _ in _CALLER_COLUMNS]
        self.n = 0

    def add(self, values: tuple[Any, ...]) -> None:
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)
        self.n += 1

    def to_table(self) -> pa.Table:
        """Build the Arrow table (with schema version and summary counts in the metadata)."""
        arrays = [pa.array([SCHEMA_VERSION] * self.n, pa.int16())]
        for field, column in zip(list(ROW_SCHEMA)[1:], self.columns, strict=True):
            arrays.append(pa.array(column, type=field.type))
        table = pa.Table.from_arrays(arrays, schema=ROW_SCHEMA)
        return with_summary(table)

def with_summary(table: pa.Table) -> pa.Table:
    """Attach schema version and frame/face counts to the table's metadata (read from footers).

    ``n_frames`` counts rows with ``face_index <= 0``: every frame has exactly one such row (its
    first face, or its no-face row), so the count is additive across files even when a frame's
    faces were split between two flushes.
    """
    import pyarrow.compute as pc

    n_frames = pc.sum(pc.less_equal(table.column("face_index"), 0).cast(pa.int64())).as_py() or 0
    n_face = pc.sum(table.column("face_detected").cast(pa.int64())).as_py() or 0
    meta = dict(table.schema.metadata or {})
    meta.update({
        META_SCHEMA_VERSION: str(SCHEMA_VERSION).encode(),
        META_N_FRAMES: str(n_frames).encode(),
        META_N_FACE_ROWS: str(n_face).encode(),
    })
    return table.replace_schema_metadata(meta)
