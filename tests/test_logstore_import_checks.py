"""ZIP import refuses bad input with one clear error and writes nothing (issue 14, item 5).

The probe imported a label ``<img ...>`` and a source ``evil``, got tracebacks from wrong types
in the manifest or columns, and used 2.2 GB of memory on a 1 MB ZIP holding a 1 GiB member.
Each bad ZIP here is a real export with one member rewritten.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fer_core.logstore import LogStore
from fer_core.logstore.synthetic import synthetic_rows
from fer_core.logstore.zipcheck import MIB, ImportLimits

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def good_zip(tmp_path_factory) -> bytes:
    store = LogStore(tmp_path_factory.mktemp("src"))
    with store.open_session("P001", "s1", started_at=T0, label="intake") as w:
        w.append_many(synthetic_rows(30, T0))
    return store.export("zip")


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def rezip(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


def with_json(good: bytes, name: str, change) -> bytes:
    parts = members(good)
    value = json.loads(parts[name])
    change(value)
    parts[name] = json.dumps(value).encode()
    return rezip(parts)


def with_table(good: bytes, change) -> bytes:
    parts = members(good)
    table = change(pq.read_table(pa.BufferReader(parts["data.parquet"])))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    parts["data.parquet"] = buf.getvalue()
    return rezip(parts)


def set_column(table: pa.Table, name: str, values) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _sessions(v, value):
    v["sessions"] = value


def _entry(v, key, value):
    v["sessions"][0][key] = value


def _meta(v, key, value):
    v[key] = value


META = "sessions/P001/s1.json"
BAD = {
    "export_format as a string": lambda g: with_json(
        g, "export.json", lambda v: _meta(v, "export_format", "1")),
    "sessions not a list": lambda g: with_json(g, "export.json", lambda v: _sessions(v, "abc")),
    "subject a number": lambda g: with_json(g, "export.json", lambda v: _entry(v, "subject", 5)),
    "n_rows a string": lambda g: with_json(g, "export.json", lambda v: _entry(v, "n_rows", "x")),
    "n_rows wrong": lambda g: with_json(g, "export.json", lambda v: _entry(v, "n_rows", 31)),
    "started_at a number": lambda g: with_json(g, META, lambda v: _meta(v, "started_at", 5)),
    "markers a string": lambda g: with_json(g, META, lambda v: _meta(v, "markers", "x")),
    "metadata source evil": lambda g: with_json(g, META, lambda v: _meta(v, "source", "evil")),
    "label not JSON object": lambda g: rezip({**members(g), META: b"[1, 2]"}),
    "frame_index as text": lambda g: with_table(g, lambda t: set_column(
        t, "frame_index", pa.array(["abc"] * t.num_rows))),
    "label <img>": lambda g: with_table(g, lambda t: set_column(
        t, "label", pc.if_else(pc.is_valid(t["label"]), "<img src=x onerror=alert(1)>",
                               t["label"]))),
    "source evil": lambda g: with_table(g, lambda t: set_column(
        t, "source", pa.array(["evil"] * t.num_rows))),
    "face_detected null": lambda g: with_table(g, lambda t: set_column(
        t, "face_detected", pa.nulls(t.num_rows, pa.bool_()))),
    "data.parquet garbage": lambda g: rezip({**members(g), "data.parquet": b"PAR1 nonsense"}),
    "export.json missing": lambda g: rezip({k: v for k, v in members(g).items()
                                            if k != "export.json"}),
}
MESSAGES = {
    "export_format as a string": "unsupported export_format '1'",
    "sessions not a list": "sessions must be a list",
    "subject a number": "subject and session must be strings",
    "n_rows a string": "n_rows must be a non-negative integer",
    "n_rows wrong": "export.json says 31 row(s) for P001/s1, data.parquet holds 30",
    "started_at a number": "started_at must be a string",
    "markers a string": "markers must be a list",
    "metadata source evil": "source 'evil' is not one of",
    "label not JSON object": "is not a JSON object",
    "frame_index as text": "data.parquet rows of P001/s1",
    "label <img>": "have label '<img src=x onerror=alert(1)>', not one of",
    "source evil": "have source 'evil'",
    "face_detected null": "column face_detected has 30 null value(s)",
    "data.parquet garbage": "data.parquet in the export ZIP is not a readable Parquet file",
    "export.json missing": "export ZIP has no export.json",
}


def test_the_unchanged_export_imports(good_zip, tmp_path):
    assert LogStore(tmp_path).import_zip(good_zip) == [("P001", "s1")]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_zip_gives_one_clear_error_and_writes_nothing(good_zip, tmp_path, case):
    data = BAD[case](good_zip)
    with pytest.raises(ValueError) as info:
        LogStore(tmp_path).import_zip(data)
    assert MESSAGES[case] in str(info.value)
    assert not list(tmp_path.iterdir()) or not list(tmp_path.glob("subject=*/session=*"))


def test_a_member_over_the_size_limit_is_refused_while_decompressing(good_zip, tmp_path):
    """A small ZIP with a member of 64 MiB of zeros (the bomb of the probe, scaled down)."""
    bomb = rezip({**members(good_zip), "data.parquet": b"\0" * (64 * MIB)})
    assert len(bomb) < MIB
    limits = ImportLimits(max_member_bytes=8 * MIB)
    with pytest.raises(ValueError, match="over the limit of 8 MiB"):
        LogStore(tmp_path).import_zip(bomb, limits=limits)
    lying = bomb.replace(  # the central directory claims 1 KiB: decompression still stops
        (64 * MIB).to_bytes(4, "little"), (1024).to_bytes(4, "little"))
    with pytest.raises(ValueError, match=r"data\.parquet"):
        LogStore(tmp_path).import_zip(lying, limits=limits)
    assert not list(tmp_path.glob("subject=*"))


def test_total_size_and_member_count_limits(good_zip, tmp_path):
    with pytest.raises(ValueError, match="in total"):
        LogStore(tmp_path).import_zip(good_zip, limits=ImportLimits(max_total_bytes=2000))
    crowded = rezip({**members(good_zip), **{f"junk/{i}": b"" for i in range(50)}})
    with pytest.raises(ValueError, match="more than the limit of 20"):
        LogStore(tmp_path).import_zip(crowded, limits=ImportLimits(max_members=20))


def test_default_limits_are_finite():
    limits = ImportLimits()
    assert limits.max_member_bytes <= 1024 * MIB and limits.max_total_bytes <= 2048 * MIB


def test_cli_import_of_a_bad_zip_is_one_line_exit_2(good_zip, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(BAD["label <img>"](good_zip))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-m", "fer_core", "logs", "--root",
                          str(tmp_path / "logs"), "import", str(bad)], capture_output=True,
                         text=True, env=env, cwd=REPO, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert "<img src=x" in res.stderr and "not one of" in res.stderr


# ---------------------------------------------------------------- bounded memory (issue 23)
def _no_trace_left(root: Path) -> None:
    """Nothing imported and no scratch or staging folder left behind."""
    assert not list(root.glob("subject=*/session=*"))
    assert not [p.name for p in root.rglob(".import-*")]


def test_a_parquet_member_of_zeros_is_refused_at_its_first_bytes(good_zip, tmp_path):
    """The probe's bomb (a 1 MB ZIP whose data.parquet is 1 GiB of zeros), at 256 MiB here:
    refused from its first four bytes, under the default limits, before any copy or decode."""
    zeros = rezip({**members(good_zip), "data.parquet": b"\0" * (256 * MIB)})
    assert len(zeros) < MIB
    LogStore(tmp_path).import_zip(good_zip)  # the store exists: the scratch folder goes there
    with pytest.raises(ValueError, match=r"data\.parquet in the export ZIP is not a readable "
                                         r"Parquet file \(it does not start with b'PAR1'"):
        LogStore(tmp_path).import_zip(zeros, skip_existing=True)
    assert not [p.name for p in tmp_path.rglob(".import-*")]


def test_a_parquet_member_over_its_own_cap_is_refused_while_copying(good_zip, tmp_path):
    padded = rezip({**members(good_zip), "data.parquet": b"PAR1" + b"\0" * (16 * MIB)})
    with pytest.raises(ValueError, match="over the limit of 8 MiB"):
        LogStore(tmp_path).import_zip(padded, limits=ImportLimits(max_parquet_bytes=8 * MIB))
    lying = padded.replace((16 * MIB + 4).to_bytes(4, "little"), (1024).to_bytes(4, "little"))
    with pytest.raises(ValueError, match=r"data\.parquet in the export ZIP"):  # stops early
        LogStore(tmp_path).import_zip(lying, limits=ImportLimits(max_parquet_bytes=8 * MIB))
    _no_trace_left(tmp_path)


def test_a_row_group_too_large_to_decode_is_refused_from_the_footer(good_zip, tmp_path):
    with pytest.raises(ValueError, match="row group of 0 MiB decoded, over the limit of 0 MiB"):
        LogStore(tmp_path).import_zip(good_zip, limits=ImportLimits(max_row_group_bytes=100))
    _no_trace_left(tmp_path)


def _rows(store: LogStore, subject: str, session: str):
    return store.read(subject, session).drop(columns=["subject", "session"], errors="ignore")


def test_rows_streamed_in_small_batches_import_exactly(tmp_path):
    """Batches of 7 rows across two sessions, shuffled: the same rows, sorted, with the same
    summary counts as an import in one piece."""
    src = LogStore(tmp_path / "src")
    for session in ("s1", "s2"):
        with src.open_session("P001", session, started_at=T0) as w:
            w.append_many(synthetic_rows(40, T0))
    good = src.export("zip")
    shuffled = with_table(good, _shuffle)
    one, small = LogStore(tmp_path / "one"), LogStore(tmp_path / "small")
    assert sorted(one.import_zip(good)) == [("P001", "s1"), ("P001", "s2")]
    assert sorted(small.import_zip(shuffled, limits=ImportLimits(batch_rows=7))) == [
        ("P001", "s1"), ("P001", "s2")]
    for session in ("s1", "s2"):
        assert _rows(small, "P001", session).equals(_rows(one, "P001", session))
        files = small.data_files("P001", session)
        assert len(files) == 1
        meta = pq.read_schema(files[0]).metadata
        assert meta == pq.read_schema(one.data_files("P001", session)[0]).metadata
    assert not [p.name for p in (tmp_path / "small").rglob(".import-*")]


def _shuffle(table: pa.Table) -> pa.Table:
    order = list(range(table.num_rows))
    order = order[1::2] + order[0::2]  # every session's rows out of order, across batches
    return table.take(pa.array(order))


def test_a_deeply_nested_export_json_is_one_line(good_zip, tmp_path):
    deep = rezip({**members(good_zip), "export.json": b"[" * 200_000 + b"]" * 200_000})
    with pytest.raises(ValueError, match=r"export\.json in the export ZIP is nested too deeply"):
        LogStore(tmp_path).import_zip(deep)
    nested_meta = rezip({**members(good_zip), META: b'{"extra": ' + b"[" * 200_000
                         + b"]" * 200_000 + b"}"})
    with pytest.raises(ValueError, match=r"s1\.json in the export ZIP is nested too deeply"):
        LogStore(tmp_path).import_zip(nested_meta)
    _no_trace_left(tmp_path)
