"""The raw-data expression log: every prediction, stored as hive-partitioned Parquet.

Layout, schema and guarantees are documented in docs/log-format.md (its "Modules" section says
which module does what). This package never imports torch or cv2 (review pages must load fast),
and its modules import each other without cycles (tests/test_import_graph.py).
"""

from fer_core.logstore.errors import (
    CorruptFileWarning,
    InvalidIdError,
    RowError,
    SessionBusyError,
    SessionExistsError,
    SessionNotFoundError,
    UnsafeStoreError,
)
from fer_core.logstore.ids import new_session_id, validate_id
from fer_core.logstore.meta import Marker, Segment, SegmentError, SessionMeta
from fer_core.logstore.schema import (
    PARTITION_SCHEMA,
    PROB_COLUMNS,
    ROW_COLUMNS,
    ROW_SCHEMA,
    SCHEMA_VERSION,
)
from fer_core.logstore.store import LogStore
from fer_core.logstore.writer import SessionWriter

__all__ = [
    "PARTITION_SCHEMA",
    "PROB_COLUMNS",
    "ROW_COLUMNS",
    "ROW_SCHEMA",
    "SCHEMA_VERSION",
    "CorruptFileWarning",
    "InvalidIdError",
    "LogStore",
    "Marker",
    "RowError",
    "Segment",
    "SegmentError",
    "SessionBusyError",
    "SessionExistsError",
    "SessionMeta",
    "SessionNotFoundError",
    "SessionWriter",
    "UnsafeStoreError",
    "new_session_id",
    "validate_id",
]
