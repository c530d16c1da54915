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
import pyarrow.compute as pc

from fer_core.labels import FER2013_CLASSES
from fer_core.logstore.errors import RowError
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
_CHECKS["timestamp"] = lambda name, value: timestamp_ms(value)
# Columns the caller provides (schema_version is the writer's business), in buffer order.
_CALLER_COLUMNS = tuple(c for c in ROW_COLUMNS if c != "schema_version")
_INDEX = {name: i for i, name in enumerate(_CALLER_COLUMNS)}
_REQUIRED_IDX = tuple(_INDEX[c] for c in sorted(REQUIRED_COLUMNS))
_SLOW = tuple(_CHECKS[c] for c in _CALLER_COLUMNS)


def _fast_type(field: pa.Field) -> type | None:
    t = field.type
    if pa.types.is_integer(t) or pa.types.is_timestamp(t):
        return int
    if pa.types.is_floating(t):
        return float
    if pa.types.is_boolean(t):
        return bool
    return None  # strings: label/source need their vocabulary check


# The common case (plain int/float/bool values) is checked inline with one ``type(v) is T``;
# anything else (numpy scalars, datetimes, strings, bad values) goes through ``_SLOW``.
_FAST = tuple(_fast_type(ROW_SCHEMA.field(c)) for c in _CALLER_COLUMNS)
_RANGE = tuple(
    (-(2 ** (ROW_SCHEMA.field(c).type.bit_width - 1)),
     2 ** (ROW_SCHEMA.field(c).type.bit_width - 1) - 1)
    if pa.types.is_integer(ROW_SCHEMA.field(c).type) else None
    for c in _CALLER_COLUMNS
)


def row_template(defaults: Mapping[str, str]) -> tuple[Any, ...]:
    """Per-column starting values of a row: session defaults, else None."""
    return tuple(defaults.get(c) for c in _CALLER_COLUMNS)


def validate_row(row: Mapping[str, Any], template: tuple[Any, ...]) -> list[Any]:
    """Check one row; return its values in :data:`_CALLER_COLUMNS` order (timestamp as ms).

    ``template`` comes from :func:`row_template`. Written for speed: this runs in the per-frame
    caller, so it touches each given key once and calls a function only for unusual types.
    """
    try:
        items = row.items()
    except AttributeError:
        raise RowError(
            f"a row must be a mapping of column -> value, got {type(row).__name__}"
        ) from None
    out = list(template)
    for key, value in items:
        i = _INDEX.get(key)
        if i is None:
            if key == "schema_version":
                continue
            raise RowError(f"unknown column {key!r}; known: {list(_CALLER_COLUMNS)}")
        if value is None:
            continue  # stays the template's default (None, or the session's model/source)
        if type(value) is _FAST[i]:
            bounds = _RANGE[i]
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                raise RowError(f"{key}={value} is outside the int{_bits(i)} range")
        else:
            value = _SLOW[i](key, value)
        out[i] = value
    for i in _REQUIRED_IDX:
        if out[i] is None:
            missing = [c for c in sorted(REQUIRED_COLUMNS) if out[_INDEX[c]] is None]
            raise RowError(f"row is missing required column(s) {missing} (or they are None)")
    return out


def _bits(i: int) -> int:
    return ROW_SCHEMA.field(_CALLER_COLUMNS[i]).type.bit_width


class RowBuffer:
    """Validated rows held as Python lists; turned into Arrow columns only at flush time.

    Why rows and not column lists: appending one list per row is a single operation for the
    per-frame caller, while the transpose into columns (``zip(*rows)``) runs on the writer
    thread, which is where all Arrow work belongs.
    """

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []

    @property
    def n(self) -> int:
        return len(self.rows)

    def add(self, values: list[Any]) -> None:
        self.rows.append(values)

    def timestamps(self) -> list[int]:
        return [row[0] for row in self.rows]

    def to_table(self) -> pa.Table:
        """Build the Arrow table (with schema version and summary counts in the metadata)."""
        n = len(self.rows)
        columns = list(zip(*self.rows, strict=True)) if n else [() for _ in _CALLER_COLUMNS]
        arrays = [pa.array([SCHEMA_VERSION] * n, pa.int16())]
        for field, column in zip(list(ROW_SCHEMA)[1:], columns, strict=True):
            arrays.append(pa.array(column, type=field.type))
        table = pa.Table.from_arrays(arrays, schema=ROW_SCHEMA)
        return with_summary(table)


def validate_table(table: pa.Table) -> None:
    """The writer's rules, checked on a whole conformed table (an import): raises RowError.

    Why: an imported file must not carry what :meth:`SessionWriter.append` would refuse (a label
    outside FER2013, an unknown source, nulls in required columns); the types are already those
    of ``ROW_SCHEMA`` (``conform`` cast them or failed).
    """
    for field in ROW_SCHEMA:
        nulls = table.column(field.name).null_count
        if not field.nullable and nulls:
            raise RowError(f"column {field.name} has {nulls} null value(s); it may not be null")
    for name, allowed in (("label", _LABELS), ("source", SOURCES)):
        column = table.column(name)
        outside = pc.invert(pc.is_in(column, value_set=pa.array(sorted(allowed))))
        bad = pc.filter(column, pc.and_(pc.is_valid(column), outside))  # null: no face
        if len(bad):
            raise RowError(f"{len(bad)} row(s) have {name} {bad[0].as_py()!r}, not one of "
                           f"{sorted(allowed)}")


def with_summary(table: pa.Table) -> pa.Table:
    """Attach schema version and frame/face counts to the table's metadata (read from footers).

    ``n_frames`` counts rows with ``face_index <= 0``: every frame has exactly one such row (its
    first face, or its no-face row), so the count is additive across files even when a frame's
    faces were split between two flushes.
    """
    n_frames = pc.sum(pc.less_equal(table.column("face_index"), 0).cast(pa.int64())).as_py() or 0
    n_face = pc.sum(table.column("face_detected").cast(pa.int64())).as_py() or 0
    meta = dict(table.schema.metadata or {})
    meta.update({
        META_SCHEMA_VERSION: str(SCHEMA_VERSION).encode(),
        META_N_FRAMES: str(n_frames).encode(),
        META_N_FACE_ROWS: str(n_face).encode(),
    })
    return table.replace_schema_metadata(meta)
