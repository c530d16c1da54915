"""Damaged and foreign files, schema versions, deletion and the state token."""

from __future__ import annotations

import json
import warnings
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fer_core.logstore import (
    SCHEMA_VERSION,
    CorruptFileWarning,
    LogStore,
    SessionNotFoundError,
)
from fer_core.logstore.synthetic import synthetic_rows
from tests.store_fixtures import T0, as_version_1, uncompacted_session


def _parts_session(store: LogStore, subject: str, session: str, n_parts: int, per: int = 50):
    """The part files of a session left uncompacted (as after a crash)."""
    return sorted(uncompacted_session(store, subject, session, n_parts, per).glob("part-w*"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_part_skipped_with_warning(tmp_path, damage: str) -> None:
    store = LogStore(tmp_path)
    parts = _parts_session(store, "P001", "s1", 3)
    with store.open_session("P001", "ok", started_at=T0) as w:
        w.append_many(synthetic_rows(40, T0))
    bad = parts[1]
    data = bad.read_bytes()
    if damage == "truncate":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        bad.write_bytes(b"PAR1" + b"\x00garbage" * 50 + b"PAR1")
    else:
        bad.write_bytes(b"")
    with pytest.warns(CorruptFileWarning, match=bad.name):
        df = store.read("P001")
    assert len(df) == 100 + 40
    assert sorted(set(df[df["session"] == "s1"]["frame_index"] // 50)) == [0, 2]
    sessions = store.list_sessions().set_index("session")
    assert sessions.loc["s1", "n_bad_files"] == 1 and sessions.loc["s1", "n_rows"] == 100
    assert sessions.loc["ok", "n_bad_files"] == 0
    # compaction keeps the damaged file (evidence) but merges the good ones
    from fer_core.logstore.compaction import compact_session

    compact_session(bad.parent)
    assert sorted(p.name for p in bad.parent.glob("*.parquet")) == [
        "part-c000001.parquet", bad.name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        assert len(store.read("P001", "s1")) == 100
    assert bad.exists()


def test_corrupt_data_page_skipped(tmp_path) -> None:
    """Damaged data pages (valid footer): the scan fails, the per-file retry skips the file."""
    store = LogStore(tmp_path)
    parts = _parts_session(store, "P001", "s1", 3, per=2000)
    bad = parts[2]
    data = bytearray(bad.read_bytes())
    for i in range(200, min(len(data) - 2000, 4000)):
        data[i] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.warns(CorruptFileWarning):
        df = store.read("P001")
    assert len(df) == 4000
    assert df["frame_index"].max() == 3999


def test_newer_schema_version_skipped(tmp_path) -> None:
    store = LogStore(tmp_path)
    parts = _parts_session(store, "P001", "s1", 2)
    table = pq.read_table(parts[0])
    newer = str(SCHEMA_VERSION + 1)
    table = table.replace_schema_metadata({b"fer.schema_version": newer.encode()})
    pq.write_table(table, parts[0])
    with pytest.warns(CorruptFileWarning, match=f"schema version {newer}"):
        assert len(store.read()) == 50


def test_foreign_file_and_entries_ignored_or_reported(tmp_path) -> None:
    store = LogStore(tmp_path)
    parts = _parts_session(store, "P001", "s1", 1)
    pq.write_table(pa.table({"x": [1, 2]}), parts[0].with_name("part-wabc-000009.parquet"))
    (tmp_path / "notes.txt").write_text("not a subject")
    (tmp_path / "subject=..").mkdir()
    (tmp_path / "subject=P001" / "random").mkdir()
    with pytest.warns(CorruptFileWarning, match="missing column"):
        assert len(store.read()) == 50
    assert store.list_subjects()["subject"].tolist() == ["P001"]


def test_older_file_missing_nullable_column_reads(tmp_path) -> None:
    """A file without a nullable column (older writer, other tool) reads with nulls."""
    store = LogStore(tmp_path)
    parts = _parts_session(store, "P001", "s1", 1)
    table = pq.read_table(parts[0]).drop_columns(["confidence"])
    pq.write_table(table, parts[0])
    df = store.read()
    assert len(df) == 50 and df["confidence"].isna().all()


def test_delete_session_and_subject(tmp_path) -> None:
    store = LogStore(tmp_path)
    for subj, sess in [("P001", "a"), ("P001", "b"), ("P002", "a")]:
        with store.open_session(subj, sess, started_at=T0) as w:
            w.append_many(synthetic_rows(10, T0))
    store.delete_session("P001", "a")
    assert sorted(store.list_sessions()["session"] + "@" + store.list_sessions()["subject"]) == [
        "a@P002", "b@P001"]
    with pytest.raises(SessionNotFoundError):
        store.delete_session("P001", "a")
    store.delete_subject("P001")
    assert store.list_subjects()["subject"].tolist() == ["P002"]
    assert not (tmp_path / "subject=P001").exists()
    with pytest.raises(SessionNotFoundError):
        store.delete_subject("P001")
    assert len(store.read()) == 10
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".deleting")]


def test_state_token_tracks_changes(tmp_path) -> None:
    store = LogStore(tmp_path)
    empty = store.state_token()
    assert store.state_token() == empty
    with store.open_session("P001", "a", started_at=T0) as w:
        w.append_many(synthetic_rows(10, T0))
    t1 = store.state_token()
    assert t1 != empty and store.state_token() == t1
    store.read()
    store.list_sessions()
    assert store.state_token() == t1  # reading changes nothing
    store.update_notes("P001", "a", "x")
    t2 = store.state_token()
    assert t2 != t1
    store.add_marker("P001", "a", "m", T0 + timedelta(seconds=1))
    t3 = store.state_token()
    assert t3 != t2
    store.delete_session("P001", "a")
    assert store.state_token() not in (t1, t2, t3)


def test_writer_misuse(tmp_path) -> None:
    store = LogStore(tmp_path)
    with pytest.raises(ValueError, match="flush_interval"):
        store.open_session("P001", "a", flush_interval=0)
    with pytest.raises(ValueError, match="source"):
        store.open_session("P001", "a", source="tv")
    with pytest.raises(ValueError, match="naive"):
        store.open_session("P001", "a", started_at=datetime(2026, 1, 1))
    w = store.open_session("P001", "a", started_at=T0)
    w.append_many(synthetic_rows(3, T0))
    w.close()
    w.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        w.append(next(synthetic_rows(1, T0)))
    assert len(store.read()) == 3
    meta = json.loads((tmp_path / "subject=P001" / "session=a" / "_session.json").read_text())
    assert meta["format_version"] == 2 and meta["ended_at"].endswith("Z")


def test_write_failure_keeps_rows_and_reports(tmp_path, monkeypatch) -> None:
    """A part file that cannot be written (disk full) is retried; nothing is lost or doubled."""
    from fer_core.logstore import writer as writer_mod

    real = writer_mod.write_parquet
    failing = {"on": True}

    def flaky(table, final, *, fsync=True):
        if failing["on"]:
            raise OSError(28, "No space left on device")
        return real(table, final, fsync=fsync)

    monkeypatch.setattr(writer_mod, "write_parquet", flaky)
    store = LogStore(tmp_path)
    w = store.open_session("P001", "a", started_at=T0, flush_interval=0.05)
    w.append_many(synthetic_rows(5, T0))
    with pytest.raises(OSError, match="No space"):
        w.flush()
    w.append_many(synthetic_rows(3, T0, first_frame=5))
    failing["on"] = False
    w.flush()  # the same rows are written once the disk accepts them, in order
    w.close()
    assert store.read()["frame_index"].tolist() == list(range(8))

    failing["on"] = True
    w = store.open_session("P001", "b", started_at=T0, flush_interval=60)
    w.append_many(synthetic_rows(4, T0))
    with pytest.raises(OSError, match="4 row"):
        w.close()


def test_appends_racing_close_are_all_stored_or_rejected(tmp_path) -> None:
    """Every append that returned normally is on disk, even when close() runs concurrently."""
    import threading

    store = LogStore(tmp_path)
    w = store.open_session("P001", "race", started_at=T0, flush_interval=0.01)
    rows = list(synthetic_rows(50_000, T0))
    accepted = []

    def producer() -> None:
        for row in rows:
            try:
                w.append(row)
            except RuntimeError:
                return
            accepted.append(row["frame_index"])

    t = threading.Thread(target=producer)
    t.start()
    while len(accepted) < 2000:
        threading.Event().wait(0.001)
    w.close()
    t.join()
    assert 2000 <= len(accepted) < 50_000
    assert store.read()["frame_index"].tolist() == accepted
    assert w.rows_appended == len(accepted)


def test_marker_after_close_and_bad_end_time(tmp_path) -> None:
    store = LogStore(tmp_path)
    w = store.open_session("P001", "m", started_at=T0)
    w.append_many(synthetic_rows(5, T0))
    with pytest.raises(ValueError, match="naive"):
        w.close(ended_at=datetime(2026, 3, 1, 10, 0))
    w.close(ended_at=T0 + timedelta(minutes=5))  # the failed call changed nothing
    w.add_marker("after the end", T0 + timedelta(minutes=6))
    meta = store.session_meta("P001", "m")
    assert [m.label for m in meta.markers] == ["after the end"]
    assert meta.ended_at == T0 + timedelta(minutes=5)
    assert len(store.read()) == 5


@pytest.mark.subprocess
def test_repair_and_durations_ignore_local_timezone(tmp_path) -> None:
    """Interrupted-session end times come from Parquet statistics: exact, and never local time."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    store = LogStore(tmp_path)
    start = T0 + timedelta(milliseconds=7)
    with store.open_session("P001", "tz", started_at=start) as w:
        w.append_many(synthetic_rows(100, start))  # last row: start + 3.3 s
    meta_path = tmp_path / "subject=P001" / "session=tz" / "_session.json"
    meta = json.loads(meta_path.read_text())
    meta["ended_at"] = None  # as after a crash
    meta_path.write_text(json.dumps(meta))
    code = ("import sys; from fer_core.logstore import LogStore; s = LogStore(sys.argv[1]); "
            "print(s.list_sessions().loc[0, 'duration_s']); print(s.repair()); "
            "print(s.session_meta('P001', 'tz').ended_at.isoformat())")
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "TZ": "Pacific/Auckland", "PYTHONPATH": str(repo)}
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    duration, repaired, ended = res.stdout.split("\n")[:3]
    assert float(duration) == pytest.approx(3.3)
    assert repaired == "[('P001', 'tz')]"
    last = start + timedelta(milliseconds=int(1000 * 99 / 30))
    assert datetime.fromisoformat(ended) == last


def test_version_1_files_read_with_the_new_columns_null(tmp_path) -> None:
    """A session written before schema version 2 reads beside a version-2 session: the
    columns version 2 added are null in its rows, and every other value is as written."""
    store = LogStore(tmp_path)
    rows = synthetic_rows(20, T0)
    with store.open_session("P001", "old", started_at=T0) as w:
        w.append_many(rows)
    new_rows = [dict(r, face_brightness=100.0, face_contrast=40.0) if r["face_detected"]
                else r for r in synthetic_rows(10, T0 + timedelta(hours=1))]
    with store.open_session("P001", "new", started_at=T0 + timedelta(hours=1)) as w:
        w.append_many(new_rows)
    as_version_1(tmp_path / "subject=P001" / "session=old")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptFileWarning)
        df = store.read("P001")
    old, new = df[df["session"] == "old"], df[df["session"] == "new"]
    assert len(old) == 20 and len(new) == 10
    assert old["face_brightness"].isna().all() and old["face_contrast"].isna().all()
    assert (old["schema_version"] == 1).all() and (new["schema_version"] == SCHEMA_VERSION).all()
    faces = new[new["face_detected"]]
    assert (faces["face_brightness"] == 100.0).all() and (faces["face_contrast"] == 40.0).all()
    assert old["prob_happy"].notna().sum() == old["face_detected"].sum() == 18
    listing = store.list_sessions().set_index("session")
    assert listing.loc["old", "status"] == "closed" and listing.loc["old", "n_rows"] == 20


def test_version_1_parts_compact_into_a_version_2_file(tmp_path) -> None:
    """``logs repair`` compacting a session left uncompacted by version 1: the new file has
    every version-2 column, the new ones null."""
    from fer_core.logstore.compaction import compact_session
    from fer_core.logstore.schema import ROW_SCHEMA

    store = LogStore(tmp_path)
    directory = uncompacted_session(store, "P001", "old", n_parts=2, per=10)
    as_version_1(directory)
    compact_session(directory)
    (compacted,) = directory.glob("part-c*.parquet")
    assert pq.read_schema(compacted).names == ROW_SCHEMA.names
    rows = store.read("P001")
    assert len(rows) == 20 and rows["face_brightness"].isna().all()
