"""Export (CSV, Parquet, ZIP) and import: write -> read -> export -> import is lossless."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fer_core.logstore import InvalidIdError, LogStore, SessionExistsError, SessionNotFoundError
from fer_core.logstore.export import EXPORT_SCHEMA, read_csv_export
from fer_core.logstore.synthetic import synthetic_rows

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path) -> LogStore:
    store = LogStore(tmp_path / "a")
    for subject, session, n, start in [("P001", "s1", 120, T0), ("P001", "s2", 45, T0 +
                                       timedelta(days=1)), ("P002", "s1", 30, T0)]:
        with store.open_session(subject, session, started_at=start, operator="dr. ü",
                                notes="line1\nline2 ✓", label="baseline", model_name="fast",
                                model_version="1.0", consent={"signed": True},
                                extra={"room": 3}, flush_interval=0.05) as w:
            rows = list(synthetic_rows(n, start, seed=n, model_name="fast"))
            w.append_many(rows[: n // 2])
            w.add_marker("stimulus A", start + timedelta(seconds=1))
            w.flush()
            w.append_many(rows[n // 2:])
    # an empty session (opened and closed without frames) must survive too
    store.open_session("P002", "empty", started_at=T0).close()
    return store


def test_zip_roundtrip_lossless(store: LogStore, tmp_path) -> None:
    before = store.read_table()
    data = store.export("zip")
    target = LogStore(tmp_path / "b")
    imported = target.import_zip(data)
    assert sorted(imported) == [("P001", "s1"), ("P001", "s2"), ("P002", "empty"),
                                ("P002", "s1")]
    after = target.read_table()
    assert after.equals(before)
    assert after.num_rows == 195
    for subject, session in imported:
        assert (target.session_meta(subject, session).to_dict()
                == store.session_meta(subject, session).to_dict())
    meta = target.session_meta("P001", "s1")
    assert meta.notes == "line1\nline2 ✓" and meta.consent == {"signed": True}
    assert [m.label for m in meta.markers] == ["stimulus A"] and meta.extra == {"room": 3}
    # the listing agrees, and a second export is byte-identical in its data
    a, b = store.list_sessions(), target.list_sessions()
    assert a.drop(columns=["status"]).equals(b.drop(columns=["status"]))
    zf_a, zf_b = zipfile.ZipFile(io.BytesIO(data)), zipfile.ZipFile(
        io.BytesIO(target.export("zip")))
    assert zf_a.read("data.csv") == zf_b.read("data.csv")


def test_zip_from_path_and_scopes(store: LogStore, tmp_path) -> None:
    path = tmp_path / "p001.zip"
    path.write_bytes(store.export("zip", subject="P001"))
    target = LogStore(tmp_path / "c")
    assert sorted(target.import_zip(path)) == [("P001", "s1"), ("P001", "s2")]
    assert target.read_table().equals(store.read_table("P001"))
    one = LogStore(tmp_path / "d")
    assert one.import_zip(store.export("zip", "P002", "s1")) == [("P002", "s1")]
    assert len(one.read()) == 30


def test_import_conflict_is_atomic(store: LogStore, tmp_path) -> None:
    target = LogStore(tmp_path / "e")
    target.import_zip(store.export("zip", "P002", "s1"))
    token = target.state_token()
    with pytest.raises(SessionExistsError, match="P002/s1"):
        target.import_zip(store.export("zip"))
    assert target.state_token() == token  # nothing was imported
    added = target.import_zip(store.export("zip"), skip_existing=True)
    assert ("P002", "s1") not in added and len(added) == 3
    assert target.read_table().equals(store.read_table())


def test_csv_export_lossless(store: LogStore) -> None:
    data = store.export("csv", subject="P001")
    text = data.decode("utf-8")
    assert text.splitlines()[0].startswith('"subject","session","schema_version","timestamp"')
    assert "2026-03-01T09:00:00.000Z" in text
    assert read_csv_export(data).equals(store.read_table("P001").cast(EXPORT_SCHEMA))


def test_parquet_export(store: LogStore) -> None:
    table = pq.read_table(pa.BufferReader(store.export("parquet", session="s1")))
    assert table.num_rows == 150
    assert table.drop_columns([]).cast(EXPORT_SCHEMA).equals(
        store.read_table(session="s1").cast(EXPORT_SCHEMA))
    sessions = json.loads(table.schema.metadata[b"fer.sessions"])
    assert {(s["subject"], s["session"]) for s in sessions} == {("P001", "s1"), ("P002", "s1")}


def test_export_errors(store: LogStore) -> None:
    with pytest.raises(ValueError, match="format"):
        store.export("xlsx")
    with pytest.raises(SessionNotFoundError):
        store.export("csv", subject="P404")
    with pytest.raises(InvalidIdError):
        store.export("csv", subject="../P001")


def _zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def test_import_rejects_bad_zips(store: LogStore, tmp_path) -> None:
    target = LogStore(tmp_path / "f")
    with pytest.raises(ValueError, match="ZIP"):
        target.import_zip(b"not a zip")
    with pytest.raises(ValueError, match=r"export\.json"):
        target.import_zip(_zip({"data.parquet": b""}))
    good = zipfile.ZipFile(io.BytesIO(store.export("zip", "P002", "s1")))
    members = {n: good.read(n) for n in good.namelist()}
    manifest = json.loads(members["export.json"])
    # path traversal through the ids inside the ZIP
    evil = dict(manifest, sessions=[{"subject": "../../etc", "session": "s1", "n_rows": 0}])
    with pytest.raises(InvalidIdError):
        target.import_zip(_zip({**members, "export.json": json.dumps(evil)}))
    newer = dict(manifest, schema_version=99)
    with pytest.raises(ValueError, match="newer"):
        target.import_zip(_zip({**members, "export.json": json.dumps(newer)}))
    with pytest.raises(ValueError, match=r"data\.parquet"):
        target.import_zip(_zip({k: v for k, v in members.items() if k != "data.parquet"}))
    assert not (tmp_path / "f").exists() or not any((tmp_path / "f").rglob("*.parquet"))
    assert list(tmp_path.parent.glob("etc")) == []


def test_install_session_copies_a_whole_session_at_once(store: LogStore, tmp_path) -> None:
    """The central cache's copy path: metadata and rows as given, readable like a recording."""
    from fer_core.logstore.export import install_session

    meta = store.session_meta("P001", "s1")
    rows = store.read_table("P001", "s1").drop_columns(["subject", "session"])
    other = LogStore(tmp_path / "copy", fsync=False)
    install_session(other, meta, rows)
    got = other.read_table("P001", "s1").drop_columns(["subject", "session"])
    assert got.equals(rows)
    copied = other.session_meta("P001", "s1")
    assert (copied.notes, copied.operator, copied.consent) == ("line1\nline2 ✓", "dr. ü",
                                                               {"signed": True})
    assert [m.label for m in copied.markers] == ["stimulus A"]
    listed = other.list_sessions().iloc[0]
    assert (listed["n_rows"], listed["status"]) == (120, store.list_sessions().iloc[0]["status"])
    with pytest.raises(SessionExistsError):
        install_session(other, meta, rows)
    meta.session = "s9"
    bad = rows.set_column(rows.column_names.index("label"), "label",
                          pa.array(["grumpy"] * rows.num_rows))
    with pytest.raises(ValueError, match="rows of P001/s9"):
        install_session(other, meta, bad)
    assert list(other.list_sessions()["session"]) == ["s1"]  # the bad one left nothing


def test_a_version_1_export_zip_imports_with_the_new_columns_null(store: LogStore,
                                                                   tmp_path) -> None:
    """An export ZIP made by schema version 1 (manifest version 1, no brightness/contrast
    columns in data.parquet) passes the import checks; its rows read with those columns
    null, and exporting them again gives version-2 files."""
    from fer_core.logstore import SCHEMA_VERSION
    from fer_core.logstore.schema import ADDED_IN

    data = store.export("zip", subject="P002")
    src = zipfile.ZipFile(io.BytesIO(data))
    table = pq.read_table(io.BytesIO(src.read("data.parquet")))
    assert set(ADDED_IN[2]) <= set(table.column_names)
    old = table.drop_columns(list(ADDED_IN[2]))
    old = old.set_column(old.schema.get_field_index("schema_version"), "schema_version",
                         pa.array([1] * old.num_rows, pa.int16()))
    meta = {**(table.schema.metadata or {}), b"fer.schema_version": b"1"}
    buf = io.BytesIO()
    pq.write_table(old.replace_schema_metadata(meta), buf)
    manifest = {**json.loads(src.read("export.json")), "schema_version": 1}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in src.namelist():
            body = {"export.json": json.dumps(manifest).encode(),
                    "data.parquet": buf.getvalue()}.get(name) or src.read(name)
            zf.writestr(name, body)
    target = LogStore(tmp_path / "b")
    assert sorted(target.import_zip(out.getvalue())) == [("P002", "empty"), ("P002", "s1")]
    rows = target.read("P002")
    assert len(rows) == 30 and rows["face_brightness"].isna().all()
    assert rows["face_contrast"].isna().all() and (rows["schema_version"] == 1).all()
    again = zipfile.ZipFile(io.BytesIO(target.export("zip", subject="P002")))
    assert json.loads(again.read("export.json"))["schema_version"] == SCHEMA_VERSION
