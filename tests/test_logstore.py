"""Log store basics: schema, ids, write -> read, listings, metadata, row validation."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from fer_core.logstore import (
    PROB_COLUMNS,
    ROW_SCHEMA,
    SCHEMA_VERSION,
    InvalidIdError,
    LogStore,
    RowError,
    SessionExistsError,
    SessionNotFoundError,
    validate_id,
)
from fer_core.logstore.synthetic import synthetic_rows

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def write_session(store: LogStore, subject: str, n: int, session: str | None = None,
                  start: datetime = T0, **kw) -> str:
    with store.open_session(subject, session, started_at=start, model_name="fast",
                            model_version="1.0", flush_interval=0.05, **kw) as w:
        w.append_many(synthetic_rows(n, start, model_name="fast", model_version="1.0"))
    return w.session


def test_schema_constants() -> None:
    assert SCHEMA_VERSION == 2
    assert PROB_COLUMNS == ("prob_angry", "prob_disgust", "prob_fear", "prob_happy",
                            "prob_sad", "prob_surprise", "prob_neutral")
    assert ROW_SCHEMA.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert ROW_SCHEMA.names[0] == "schema_version"


@pytest.mark.parametrize("good", ["P001", "a", "subj_1-x.y", "001", "x" * 64])
def test_valid_ids(good: str) -> None:
    assert validate_id(good) == good


@pytest.mark.parametrize(
    "bad",
    ["", "..", "../etc", "a/b", "a\\b", "/abs", ".hidden", "_meta", "a..b", "x" * 65,
     "sp ace", "a=b", "50%", "nul", "CON.txt", "trail.", "tab\t", "é", "a\x00b", "-lead"],
)
def test_invalid_ids_rejected(bad: str, tmp_path) -> None:
    with pytest.raises(InvalidIdError):
        validate_id(bad, "subject")
    store = LogStore(tmp_path / "store")
    with pytest.raises(InvalidIdError):
        store.open_session(bad)
    with pytest.raises(InvalidIdError):
        store.open_session("ok", bad)
    with pytest.raises(InvalidIdError):
        store.read(subject=bad)
    # nothing was created anywhere (inside or outside the root)
    assert list(tmp_path.rglob("*")) == []


def test_non_string_id_rejected() -> None:
    with pytest.raises(InvalidIdError, match="string"):
        validate_id(12)  # type: ignore[arg-type]


def test_write_read_roundtrip(tmp_path) -> None:
    store = LogStore(tmp_path)
    sid = write_session(store, "P001", 95)
    df = store.read("P001")
    assert len(df) == 95
    assert list(df.columns[:2]) == ["subject", "session"]
    assert list(df.columns[2:]) == ROW_SCHEMA.names
    assert (df["session"] == sid).all() and (df["subject"] == "P001").all()
    assert str(df["timestamp"].dtype) == "datetime64[ms, UTC]"
    assert df["frame_index"].tolist() == list(range(95))
    assert df["timestamp"].is_monotonic_increasing
    no_face = df[~df["face_detected"]]
    assert (no_face["face_index"] == -1).all() and no_face["box_x"].isna().all()
    assert no_face["label"].isna().all() and len(no_face) == 9
    face = df[df["face_detected"]]
    assert face[list(PROB_COLUMNS)].sum(axis=1).between(0.999, 1.001).all()
    assert (df["schema_version"] == SCHEMA_VERSION).all()
    assert set(df["model_name"]) == {"fast"}


def test_read_filters_and_columns(tmp_path) -> None:
    store = LogStore(tmp_path)
    s1 = write_session(store, "P001", 300, start=T0)
    s2 = write_session(store, "P001", 60, start=T0 + timedelta(hours=1))
    write_session(store, "P002", 30, start=T0)
    assert len(store.read()) == 390
    assert len(store.read("P001")) == 360
    assert len(store.read("P001", s1)) == 300
    assert len(store.read(session=s2)) == 60
    window = store.read("P001", start=T0 + timedelta(seconds=2), end=T0 + timedelta(seconds=4))
    assert len(window) == 60  # frames 60..119 at 30 fps, end exclusive
    assert window["timestamp"].min() == T0 + timedelta(seconds=2)
    cols = store.read("P001", columns=["timestamp", "label"])
    assert list(cols.columns) == ["subject", "session", "timestamp", "label"]
    with pytest.raises(ValueError, match="unknown column"):
        store.read(columns=["nope"])
    assert store.read("P999").empty
    assert list(store.read("P999").columns[2:]) == ROW_SCHEMA.names


def test_naive_time_filter_rejected(tmp_path) -> None:
    store = LogStore(tmp_path)
    with pytest.raises(ValueError, match="naive"):
        store.read(start=datetime(2026, 1, 1))


def test_listings(tmp_path) -> None:
    store = LogStore(tmp_path)
    assert store.list_sessions().empty and store.list_subjects().empty
    s1 = write_session(store, "P001", 100, operator="dr-x", label="baseline")
    write_session(store, "P001", 50, start=T0 + timedelta(days=1))
    write_session(store, "P002", 20, synthetic=True, source="synthetic")
    sessions = store.list_sessions()
    assert len(sessions) == 3
    row = sessions.set_index("session").loc[s1]
    assert row["n_rows"] == 100 and row["n_frames"] == 100 and row["n_face_rows"] == 90
    assert row["operator"] == "dr-x" and row["label"] == "baseline"
    assert row["status"] == "closed"
    assert row["duration_s"] == pytest.approx(99 / 30, abs=0.01)
    subjects = store.list_subjects().set_index("subject")
    assert subjects.loc["P001", "n_sessions"] == 2 and subjects.loc["P001", "n_rows"] == 150
    assert not subjects.loc["P001", "synthetic"] and subjects.loc["P002", "synthetic"]
    assert len(store.list_sessions("P002")) == 1


def test_metadata_markers_notes(tmp_path) -> None:
    store = LogStore(tmp_path)
    with store.open_session("P001", "s1", operator="op", started_at=T0,
                            flush_interval=0.05) as w:
        w.append_many(synthetic_rows(10, T0))
        w.add_marker("stimulus", T0 + timedelta(seconds=1))
        store.add_marker("P001", "s1", "from dashboard", T0 + timedelta(seconds=2))
    store.update_notes("P001", "s1", "calm session")
    meta = store.session_meta("P001", "s1")
    assert meta.notes == "calm session" and meta.operator == "op"
    assert sorted(m.label for m in meta.markers) == ["from dashboard", "stimulus"]
    assert meta.ended_at is not None and meta.started_at == T0
    with pytest.raises(SessionNotFoundError):
        store.session_meta("P001", "nope")
    with pytest.raises(SessionNotFoundError):
        store.update_notes("P001", "nope", "x")


def test_session_id_generated_and_reuse_rejected(tmp_path) -> None:
    store = LogStore(tmp_path)
    sid = write_session(store, "P001", 5)
    assert sid.startswith("20260301T090000Z-")
    with pytest.raises(SessionExistsError):
        store.open_session("P001", sid)
    assert len(store.read("P001")) == 5  # nothing lost


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ({"frame_index": 0, "face_index": 0, "face_detected": True}, "missing"),
        ({"timestamp": T0, "frame_index": 0, "face_index": 0, "face_detected": True,
          "bogus": 1}, "unknown"),
        ({"timestamp": datetime(2026, 1, 1), "frame_index": 0, "face_index": 0,
          "face_detected": True}, "naive"),
        ({"timestamp": 1.5, "frame_index": 0, "face_index": 0, "face_detected": True},
         "timestamp"),
        ({"timestamp": T0, "frame_index": "3", "face_index": 0, "face_detected": True},
         "frame_index"),
        ({"timestamp": T0, "frame_index": 0, "face_index": 40000, "face_detected": True},
         "int16"),
        ({"timestamp": T0, "frame_index": 0, "face_index": 0, "face_detected": 1},
         "face_detected"),
        ({"timestamp": T0, "frame_index": 0, "face_index": 0, "face_detected": True,
          "label": "joy"}, "FER2013"),
        ({"timestamp": T0, "frame_index": 0, "face_index": 0, "face_detected": True,
          "prob_happy": "0.5"}, "prob_happy"),
        ({"timestamp": T0, "frame_index": 0, "face_index": 0, "face_detected": True,
          "source": "tv"}, "source"),
    ],
)
def test_bad_rows_rejected_and_nothing_lost(tmp_path, row, match) -> None:
    store = LogStore(tmp_path)
    with store.open_session("P001", "s1", started_at=T0) as w:
        w.append_many(synthetic_rows(3, T0))
        with pytest.raises(RowError, match=match):
            w.append(row)
        with pytest.raises(RowError):
            w.append_many([*synthetic_rows(2, T0, first_frame=3), row])
        w.append_many(synthetic_rows(2, T0, first_frame=3))
    assert store.read("P001")["frame_index"].tolist() == [0, 1, 2, 3, 4]


def test_epoch_ms_and_pandas_timestamps(tmp_path) -> None:
    import pandas as pd

    store = LogStore(tmp_path)
    ms = int(T0.timestamp() * 1000)
    with store.open_session("P001", "s1", started_at=T0) as w:
        w.append({"timestamp": ms, "frame_index": 0, "face_index": -1, "face_detected": False})
        w.append({"timestamp": pd.Timestamp(T0) + pd.Timedelta(milliseconds=1, microseconds=999),
                  "frame_index": 1, "face_index": -1, "face_detected": False})
    ts = store.read()["timestamp"].tolist()
    assert ts == [pd.Timestamp(T0), pd.Timestamp(T0) + pd.Timedelta(milliseconds=1)]


def test_external_engines_see_one_dataset(tmp_path) -> None:
    import duckdb

    store = LogStore(tmp_path)
    write_session(store, "001", 40)
    write_session(store, "P002", 30)
    table = ds.dataset(tmp_path, format="parquet",
                       partitioning=ds.partitioning(
                           pa.schema([("subject", pa.string()), ("session", pa.string())]),
                           flavor="hive")).to_table()
    assert table.num_rows == 70 and set(table["subject"].to_pylist()) == {"001", "P002"}
    n = duckdb.sql(
        f"select count(*) from read_parquet('{tmp_path}/subject=*/session=*/*.parquet', "
        "hive_partitioning=true, "
        "hive_types={'subject': VARCHAR, 'session': VARCHAR}) where subject = '001'"
    ).fetchall()[0][0]
    assert n == 40
    for f in tmp_path.rglob("*.parquet"):
        assert pq.read_schema(f).metadata[b"fer.schema_version"] == b"2"


def test_root_from_env_and_config(tmp_path, monkeypatch) -> None:
    from fer_core.logstore.root import resolve_root

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FER_LOG_ROOT", raising=False)
    monkeypatch.delenv("FER_CONFIG", raising=False)
    assert resolve_root() == tmp_path.joinpath("logs").relative_to(tmp_path)
    (tmp_path / "fer.toml").write_text('[logstore]\nroot = "data/store"\n')
    assert resolve_root() == tmp_path / "data" / "store"
    monkeypatch.setenv("FER_LOG_ROOT", str(tmp_path / "env"))
    assert LogStore().root == tmp_path / "env"
    assert LogStore(tmp_path / "arg").root == tmp_path / "arg"
    monkeypatch.delenv("FER_LOG_ROOT")
    monkeypatch.setenv("FER_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="does not exist"):
        resolve_root()


@pytest.mark.subprocess
def test_no_torch_or_cv2_import() -> None:
    code = ("import sys, fer_core.logstore, fer_core.logstore.export, "
            "fer_core.logstore.compaction, fer_core.logstore.synthetic; "
            "bad = [m for m in ('torch', 'cv2', 'streamlit', 'av') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_overlapping_sessions_are_merged_in_time_order(tmp_path) -> None:
    store = LogStore(tmp_path)
    write_session(store, "P001", 90, session="late", start=T0 + timedelta(seconds=1))
    write_session(store, "P001", 90, session="early", start=T0)
    df = store.read("P001")
    assert len(df) == 180
    keys = list(zip(df["timestamp"], df["frame_index"], df["face_index"], strict=True))
    assert keys == sorted(keys)
    assert df["session"].iloc[0] == "early" and df["session"].iloc[-1] == "late"


def test_is_sorted_checks_all_three_keys() -> None:
    from fer_core.logstore.reader import is_sorted

    def table(ts, frame, face):
        return pa.table({"timestamp": pa.array(ts, pa.timestamp("ms", tz="UTC")),
                         "frame_index": pa.array(frame, pa.int64()),
                         "face_index": pa.array(face, pa.int16())})

    assert is_sorted(table([1, 2, 2, 3], [0, 1, 1, 2], [0, 0, 1, 0]))
    assert not is_sorted(table([1, 2, 2, 3], [0, 1, 1, 2], [0, 1, 0, 0]))
    assert not is_sorted(table([1, 2, 2, 3], [0, 2, 1, 2], [0, 0, 1, 0]))
    assert not is_sorted(table([2, 1], [0, 0], [0, 0]))
