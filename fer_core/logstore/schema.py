"""The one fixed row schema of the log store (version :data:`SCHEMA_VERSION`).

Every part file, compacted file and export uses exactly :data:`ROW_SCHEMA`; the writer, reader,
compactor and exporter all import it from here so the on-disk format cannot drift between them.
Subject and session are *not* columns of the files: they are hive partition keys taken from the
directory names (``subject=<id>/session=<id>``), which is what lets DuckDB, Polars, Spark and
pyarrow read the whole store as one dataset. See docs/log-format.md.
"""

from __future__ import annotations

import pyarrow as pa

from fer_core.labels import FER2013_CLASSES

#: Bumped whenever a column is added, removed or changes meaning. Readers refuse newer versions.
#: 1: the first layout; 2: ``face_brightness`` and ``face_contrast`` added (recording quality).
#: Version-1 files read with those columns null (:func:`conform`, the reader's dataset schema).
SCHEMA_VERSION: int = 2

#: The 7 class-probability columns, in FER2013 order (the model's output order).
PROB_COLUMNS: tuple[str, ...] = tuple(f"prob_{name}" for name in FER2013_CLASSES)

#: Key in the Parquet key-value metadata holding the schema version of the file.
META_SCHEMA_VERSION = b"fer.schema_version"
#: Keys holding per-file summary counts, so listings read footers instead of data.
META_N_FRAMES = b"fer.n_frames"
META_N_FACE_ROWS = b"fer.n_face_rows"

_FIELDS: list[pa.Field] = [
    pa.field("schema_version", pa.int16(), nullable=False),
    pa.field("timestamp", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("frame_index", pa.int64(), nullable=False),
    pa.field("face_index", pa.int16(), nullable=False),
    pa.field("face_detected", pa.bool_(), nullable=False),
    pa.field("box_x", pa.int32()),
    pa.field("box_y", pa.int32()),
    pa.field("box_w", pa.int32()),
    pa.field("box_h", pa.int32()),
    *[pa.field(name, pa.float32()) for name in PROB_COLUMNS],
    pa.field("label", pa.string()),
    pa.field("confidence", pa.float32()),
    pa.field("model_name", pa.string(), nullable=False),
    pa.field("model_version", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    # version 2, last so that every version-1 column keeps its position: the face crop's mean
    # gray level and its standard deviation (0-255), before equalisation; null without a face
    # and in version-1 files
    pa.field("face_brightness", pa.float32()),
    pa.field("face_contrast", pa.float32()),
]

#: Columns of one part file (and of one row passed to ``SessionWriter.append``).
ROW_SCHEMA: pa.Schema = pa.schema(_FIELDS, metadata={META_SCHEMA_VERSION: str(SCHEMA_VERSION)})

#: Columns each schema version added (what a file of an older version lacks, read as nulls).
ADDED_IN: dict[int, tuple[str, ...]] = {2: ("face_brightness", "face_contrast")}

#: Column names in file order.
ROW_COLUMNS: tuple[str, ...] = tuple(ROW_SCHEMA.names)

#: Hive partition keys; always strings (never let a tool infer ``subject=001`` as an integer).
PARTITION_SCHEMA: pa.Schema = pa.schema([("subject", pa.string()), ("session", pa.string())])

#: Keys an appended row must carry.
REQUIRED_COLUMNS: frozenset[str] = frozenset(
    {"timestamp", "frame_index", "face_index", "face_detected"}
)
#: Keys the writer fills from the session when a row omits them.
SESSION_DEFAULT_COLUMNS: tuple[str, ...] = ("model_name", "model_version", "source")

#: Sources a row may name.
SOURCES: frozenset[str] = frozenset({"webcam", "video", "image", "synthetic"})

#: Sort order of every read and of compacted files.
SORT_KEYS: list[tuple[str, str]] = [
    ("timestamp", "ascending"),
    ("frame_index", "ascending"),
    ("face_index", "ascending"),
]


def empty_table() -> pa.Table:
    """A zero-row table with :data:`ROW_SCHEMA`."""
    return ROW_SCHEMA.empty_table()


def file_schema_version(schema: pa.Schema) -> int | None:
    """Schema version recorded in a Parquet file's metadata, or None when absent/unparseable."""
    raw = (schema.metadata or {}).get(META_SCHEMA_VERSION)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def conform(table: pa.Table) -> pa.Table:
    """Return ``table`` with exactly :data:`ROW_SCHEMA`'s columns, in order and types.

    Why: a file written by an older schema version (or an external tool) may lack a nullable
    column or use a wider type; conforming once here lets every caller rely on one layout.
    Raises ValueError if a required column is missing or a value cannot be cast.
    """
    columns = []
    for field in ROW_SCHEMA:
        if field.name in table.column_names:
            col = table.column(field.name)
            if not col.type.equals(field.type):
                col = col.cast(field.type)
        elif field.nullable:
            col = pa.nulls(table.num_rows, field.type)
        elif field.name == "schema_version":
            col = pa.array([SCHEMA_VERSION] * table.num_rows, pa.int16())
        else:
            raise ValueError(f"column {field.name!r} is missing")
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=ROW_SCHEMA)
