"""Page checksums: a corrupted page makes its session damaged instead of yielding numbers.

Issue 23, item 8: 64 random bytes in one data page of a Parquet file made the session read as
"closed" with ``prob_sad`` values of -4.9e36 and no warning -- the values of uncompressible
floats sit in a zstd raw block, so the flipped bytes decode without any error. Files are now
written with page CRCs and every read verifies them. Real files, the real writer.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fer_core.logstore import PROB_COLUMNS, CorruptFileWarning, LogStore
from fer_core.logstore.synthetic import synthetic_rows
from tests.store_fixtures import T0


def _values_page(path: Path, column: str) -> tuple[int, int]:
    """Byte range (start, end) of the first page of ``column``: the page holding its values
    (the dictionary page when dictionary-encoded, else the first data page)."""
    md = pq.ParquetFile(path).metadata
    chunk = md.row_group(0).column(md.schema.to_arrow_schema().get_field_index(column))
    if chunk.has_dictionary_page:
        return chunk.dictionary_page_offset, chunk.data_page_offset
    return chunk.data_page_offset, chunk.data_page_offset + chunk.total_compressed_size


def flip_page_bytes(path: Path, column: str = "prob_sad") -> None:
    """Flip 64 random bytes in the body of one page of ``column`` so that, read *without*
    checksum verification, the file still decodes -- into wrong numbers, as in the probe.

    Seeds are tried in order (some flips hit the compression framing and fail loudly anyway;
    those are not the silent case this test is about)."""
    original = path.read_bytes()
    start, end = _values_page(path, column)
    for seed in range(50):
        rng = random.Random(seed)
        data = bytearray(original)
        for i in rng.sample(range(start + 64, end), 64):  # past the page and zstd headers
            data[i] ^= rng.randrange(1, 256)
        path.write_bytes(bytes(data))
        try:
            values = pq.read_table(path, columns=[column])[column]  # no verification
        except OSError:
            continue
        bounds = pc.min_max(values).as_py()
        if bounds["min"] < 0 or bounds["max"] > 1:  # silently wrong numbers
            return
    raise AssertionError("no seed gave a silently decodable corruption")


def _store(tmp_path: Path) -> tuple[LogStore, Path]:
    store = LogStore(tmp_path / "logs")
    for sess in ("good", "hit"):
        with store.open_session("P001", sess, started_at=T0, source="video") as w:
            w.append_many(synthetic_rows(2000, T0, source="video"))
    return store, store.root / "subject=P001" / "session=hit" / "part-c000001.parquet"


def test_files_are_written_with_page_checksums(tmp_path):
    _, path = _store(tmp_path)
    flip_page_bytes(path)
    with pytest.raises(OSError, match=r"CRC|checksum"):
        pq.read_table(path, page_checksum_verification=True)


def test_a_flipped_data_page_makes_the_session_damaged_not_wrong_numbers(tmp_path):
    store, path = _store(tmp_path)
    flip_page_bytes(path)
    with pytest.warns(CorruptFileWarning, match="part-c000001"):
        frame = store.read()
    probs = frame[list(PROB_COLUMNS)]
    assert ((probs.isna()) | ((probs >= 0) & (probs <= 1))).all().all()  # no -4.9e36
    assert set(frame["session"]) == {"good"} and len(frame) == 2000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        listed = store.list_sessions().set_index("session")
        files = store.data_files()
    assert listed.loc["hit", "status"] == "damaged"
    assert "part-c000001.parquet" in listed.loc["hit", "damage"]
    assert listed.loc["good", "status"] == "closed" and listed.loc["good", "damage"] == ""
    assert path not in files  # external engines (which may not verify) never get it
    assert len(files) == 1


def test_repair_sets_a_corrupted_file_aside_and_records_the_loss(tmp_path):
    store, path = _store(tmp_path)
    flip_page_bytes(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        (result,) = store.repair_report()
    assert result.session == "hit" and "part-c000001.parquet" in result.unreadable[0]
    assert not path.exists() and not list(path.parent.glob("*.parquet"))
    (record,) = store.session_meta("P001", "hit").damage
    assert record["rows_lost"] == 2000  # the footer was readable: its row count is known
    row = store.list_sessions().set_index("session").loc["hit"]
    assert row["n_rows"] == 0 and row["duration_s"] == 0 and row["status"] == "damaged"
    assert "2000 row(s) and 66.666 s lost" in row["damage"]  # 2000 frames at 30 fps
