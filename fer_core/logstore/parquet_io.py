"""Publishing a Parquet file of the store: the one set of write options, one atomic write.

Why its own module: the writer (part files), the compaction (compacted files), the ZIP import
(restored sessions) and the export (one Parquet download) all write Parquet with the same
options, so that every file is read the same way by pyarrow, DuckDB, Polars and Spark. When
this helper lived in ``writer.py``, the compaction imported the writer and the writer imported
the compaction, an import cycle. This module depends on no other part of the log store except
:func:`fer_core.logstore.fsutil.publish`, a filesystem primitive that itself imports nothing of
the project (``tests/test_import_graph.py`` checks both), so any module may import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fer_core.logstore.fsutil import publish

#: Parquet options shared by part files, compacted files and exports (zstd: read by all four
#: engines).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "row_group_size": 65536}


def write_parquet(table: pa.Table, final: Path, *, fsync: bool = True) -> None:
    """Publish ``table`` at ``final`` atomically (hidden temporary file, then a rename)."""
    publish(lambda tmp: pq.write_table(table, tmp, **PARQUET_OPTIONS), final, fsync=fsync)
