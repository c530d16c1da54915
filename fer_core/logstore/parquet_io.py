"""Publishing and opening a Parquet file of the store: one set of write and read options.

Why its own module: the writer (part files), the compaction (compacted files), the ZIP import
(restored sessions) and the export (one Parquet download) all write Parquet with the same
options, so that every file is read the same way by pyarrow, DuckDB, Polars and Spark. When
this helper lived in ``writer.py``, the compaction imported the writer and the writer imported
the compaction, an import cycle. This module depends on no other part of the log store except
:func:`fer_core.logstore.fsutil.publish`, a filesystem primitive that itself imports nothing of
the project (``tests/test_import_graph.py`` checks both), so any module may import it.

Page checksums: every page is written with its CRC-32 (``write_page_checksum``) and every
read of the store verifies it (``page_checksum_verification``). Why: a flipped byte inside a
page of uncompressible floats decodes without any error -- a probability of -4.9e36 with no
warning. With the checksum the read fails instead, and the file is treated as damaged like a
truncated one (skipped with a warning, listed as ``damaged``, set aside by ``logs repair``).
Files written before checksums were added carry none; for them verification is a no-op.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from fer_core.logstore.fsutil import publish

#: Parquet options shared by part files, compacted files and exports (zstd: read by all four
#: engines; page CRCs: a corrupted page fails the read instead of yielding numbers).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "row_group_size": 65536,
                                   "write_page_checksum": True}

#: Options of every read of a store file: pages are verified against their checksums.
READ_OPTIONS: dict[str, Any] = {"page_checksum_verification": True}


def write_parquet(table: pa.Table, final: Path, *, fsync: bool = True) -> None:
    """Publish ``table`` at ``final`` atomically (hidden temporary file, then a rename)."""
    publish(lambda tmp: pq.write_table(table, tmp, **PARQUET_OPTIONS), final, fsync=fsync)


def open_parquet(path: Path) -> pq.ParquetFile:
    """``path`` opened for reading with page checksum verification."""
    return pq.ParquetFile(path, **READ_OPTIONS)


def read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    """The whole file (or ``columns``), every page verified against its checksum."""
    return pq.read_table(path, columns=columns, **READ_OPTIONS)


def verify_pages(pf: pq.ParquetFile) -> None:
    """Decode every page of ``pf`` one row group at a time (bounded memory), verifying each
    page's checksum; raises ``OSError``/``ArrowException`` on the first damaged page."""
    for index in range(pf.num_row_groups):
        pf.read_row_group(index)


def scan_format() -> ds.ParquetFileFormat:
    """The dataset format of store scans: the same page checksum verification."""
    return ds.ParquetFileFormat(
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(**READ_OPTIONS))
