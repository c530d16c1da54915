"""The reading recipes of docs/log-format.md, run as written against a real store.

Every recipe (pyarrow, pandas, DuckDB, Polars, Spark, and DuckDB over ``LogStore.data_files``)
runs on a store built by the real writer holding what a used store holds (issue 23, item 4):
a session whose writer was SIGKILLed, staging folders left by a killed import and a killed
delete, a session damaged then repaired (its set-aside file stays in the folder), a subject
``007``, and the default store's readme copied in exactly as it ships in ``logs/`` (pyarrow
once failed with "Could not read schema from 'logs/README.md'"). Each recipe must count the
rows ``fer_core`` counts and keep its types: subject ``007`` a string, ``box_x`` an integer.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from fer_core import analytics as an
from fer_core.config import PROJECT_ROOT
from fer_core.logstore import CorruptFileWarning, LogStore
from fer_core.logstore.compaction import compact_session
from fer_core.logstore.synthetic import synthetic_rows
from tests.dashboard_fixtures import (
    read_session,
    session_a_rows,
    session_b_rows,
    write_session,
)
from tests.store_fixtures import T0, as_version_1, uncompacted_session

DOC = PROJECT_ROOT / "docs" / "log-format.md"
#: brightness and contrast of the "lit" session's faces (version-2 columns)
LIT = (120.0, 35.0)
DEFAULT_STORE = PROJECT_ROOT / "logs"

KILLED_WRITER = r"""
import sys
from fer_core.logstore import LogStore
from fer_core.logstore.synthetic import synthetic_rows
from tests.store_fixtures import T0
w = LogStore(sys.argv[1]).open_session("P001", "killed", started_at=T0, source="synthetic",
                                       synthetic=True, flush_interval=60)
w.append_many(synthetic_rows(30, T0))
w.flush()
print("flushed", flush=True)
sys.stdin.readline()
"""


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def _recipe(word: str) -> str:
    (code,) = [b for b in _blocks("python") if word in b]
    return code


class _Killed(BaseException):
    """Stands for SIGKILL inside a store operation: nothing after it runs."""


def _kill(*_args, **_kwargs):
    raise _Killed


def _killed_session(root: Path) -> None:
    """P001/killed: 30 rows flushed, then the writer process SIGKILLed (never closed)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(root)], env=env,
                            cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "flushed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def _staging_leftovers(store: LogStore, tmp: Path) -> None:
    """A hidden ``.import-*`` folder (import killed before its rename) and a ``.deleting-*``
    folder (delete killed during its removal), as a SIGKILL leaves them."""
    other = LogStore(tmp / "elsewhere")
    with other.open_session("P001", "imported", started_at=T0) as w:
        w.append_many(synthetic_rows(25, T0))
    zipped = other.export("zip")
    with pytest.MonkeyPatch.context() as m:  # killed once the data is staged
        m.setattr("fer_core.logstore.export.write_meta", _kill)
        m.setattr(shutil, "rmtree", lambda *a, **k: None)
        with pytest.raises(_Killed):
            store.import_zip(zipped)
    write_session(store.root, "P001", "gone", session_a_rows())
    with pytest.MonkeyPatch.context() as m:
        m.setattr(shutil, "rmtree", _kill)
        with pytest.raises(_Killed):
            store.delete_session("P001", "gone")
    hidden = {p.name.split("-")[0] for p in (store.root / "subject=P001").iterdir()
              if p.name.startswith(".")}
    assert hidden == {".import", ".deleting"}  # the staging folders are really there


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("store")
    root = tmp / "logs"
    write_session(root, "P001", "s-a", session_a_rows())
    write_session(root, "P001", "s-b", session_b_rows())
    write_session(root, "007", "0001", session_b_rows())
    # schema versions side by side: a session written by version 1 (no brightness/contrast
    # columns in its file; subject "000" so that it is the first file an engine finds and
    # infers its schema from) and a version-2 session whose face rows carry them
    write_session(root, "000", "v1", session_b_rows())
    as_version_1(root / "subject=000" / "session=v1")
    write_session(root, "P001", "lit", [
        dict(r, face_brightness=LIT[0], face_contrast=LIT[1]) if r["face_detected"] else r
        for r in session_b_rows()])
    store = LogStore(root)
    # damaged then repaired: a truncated part (set aside), a lost manifest (rebuilt)
    cut = uncompacted_session(store, "P001", "cut", n_parts=3, per=10)
    part = sorted(cut.glob("part-w*.parquet"))[1]
    part.write_bytes(part.read_bytes()[:120])
    lost = uncompacted_session(store, "007", "lost", n_parts=2, per=10)
    parts = {p.name: p.read_bytes() for p in lost.glob("part-w*.parquet")}
    compact_session(lost)
    for name, data in parts.items():  # a crash before the clean-up, then the manifest lost
        (lost / name).write_bytes(data)
    (lost / "_compaction-000001.json").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        assert {r.session for r in store.repair_report()} == {"cut", "lost"}
    assert (cut / f"_damaged-{part.name}.quarantined").exists()
    _killed_session(root)
    _staging_leftovers(store, tmp)
    for shipped in DEFAULT_STORE.iterdir():  # whatever the default store ships with
        if shipped.is_file():
            shutil.copy(shipped, root / shipped.name)
    return root


@pytest.fixture(scope="module")
def truth(store) -> pd.DataFrame:
    """What fer_core reads: the rows every recipe must count."""
    frame = LogStore(store).read()
    # s-a, s-b, 007/0001, v1, lit, cut, lost, killed
    assert len(frame) == 11 + 4 + 4 + 4 + 4 + 20 + 20 + 30
    assert frame.loc[frame["session"] == "v1", "face_brightness"].isna().all()
    assert frame.loc[frame["session"] == "lit", "face_brightness"].notna().sum() == 3
    assert LogStore(store).list_sessions().set_index("session").loc["killed", "status"] == (
        "interrupted")
    return frame


def test_default_store_ships_only_names_readers_skip():
    shipped = [p.name for p in DEFAULT_STORE.iterdir() if not p.name.startswith("subject=")]
    assert shipped, "logs/ should hold its readme"
    assert all(name.startswith(("_", ".")) for name in shipped), shipped


def test_no_parquet_glob_reaches_bookkeeping_staging_or_set_aside_files(store, truth):
    """``**/*.parquet`` (DuckDB's ``**`` enters hidden folders) finds only live data files."""
    import duckdb

    found = sorted(p.relative_to(store) for p in store.rglob("*.parquet"))
    assert found == sorted(p.relative_to(store) for p in LogStore(store).data_files())
    with duckdb.connect() as con:
        n = con.execute(f"select count(*) from read_parquet('{store}/**/*.parquet')").fetchone()
    assert n == (len(truth),)


def _brightness_by_session(frame: pd.DataFrame) -> dict[str, int]:
    """Non-null ``face_brightness`` values per session of a recipe's rows: the "lit"
    session's three faces, none elsewhere (a version-1 file gives nulls, not an error)."""
    assert set(frame.loc[frame["face_brightness"].notna(), "face_brightness"]) <= {LIT[0]}
    counts = frame.groupby(frame["session"].astype(str))["face_brightness"].count()
    return {k: int(v) for k, v in counts.items() if v}


def test_pyarrow_recipe(store, truth, monkeypatch):
    monkeypatch.chdir(store.parent)  # the recipe reads "logs"
    scope: dict = {}
    exec(_recipe("table = ds.dataset("), scope)
    table = scope["table"].to_pandas()
    assert len(table) == (truth["subject"] == "P001").sum()
    assert set(table["subject"]) == {"P001"}
    assert _brightness_by_session(table) == {"lit": 3}


def test_pandas_recipe_keeps_fer_cores_types(store, truth, monkeypatch):
    monkeypatch.chdir(store.parent)
    scope: dict = {}
    exec(_recipe("pd.read_parquet"), scope)
    frame = scope["frame"]
    expected = truth.loc[truth["subject"] == "P001"]
    assert len(frame) == len(expected)
    for column in ("box_x", "box_h", "frame_index", "face_index", "prob_sad", "timestamp"):
        assert frame[column].dtype == expected[column].dtype, column  # box_x: Int32, not float
    assert frame["box_x"].isna().sum() == expected["box_x"].isna().sum()
    assert _brightness_by_session(frame) == {"lit": 3}


def test_numeric_looking_ids_stay_strings(store, monkeypatch):
    monkeypatch.chdir(store.parent)
    scope: dict = {}
    exec(_recipe("table = ds.dataset(").replace('"P001"', '"007"'), scope)
    table = scope["table"].to_pandas()
    assert len(table) == 4 + 20 and set(table["subject"].astype(str)) == {"007"}
    assert "0001" in set(table["session"].astype(str))  # not the integer 1


def test_duckdb_recipes(store, truth, monkeypatch):
    import duckdb

    blocks = _blocks("sql")
    assert len(blocks) == 2
    monkeypatch.chdir(store.parent)
    with duckdb.connect() as con:
        counts = con.execute(blocks[0]).df()
        shares = con.execute(blocks[1]).df()
    got = {(r.session, r.label): r[3] for r in counts.itertuples()}
    lit = counts.loc[counts["brightness"].notna()]  # version-1 files read, their column null
    assert set(lit["session"]) == {"lit"} and set(lit["brightness"]) == {LIT[0]}
    faces = truth.loc[(truth["subject"] == "P001") & truth["face_detected"]]
    assert got == faces.groupby(["session", "label"]).size().to_dict()
    assert got[("s-a", "angry")] == 2  # the query counts face rows: the secondary face too
    # the time-weighted recipe gives the dashboard's own shares
    for session in ("s-a", "s-b"):
        expected = an.class_shares(read_session(store, "P001", session))
        part = shares.loc[shares["session"] == session].set_index("label")["share"]
        assert part.to_dict() == pytest.approx(expected[expected > 0].to_dict())


def test_polars_recipe(store, truth, monkeypatch):
    import polars as pl  # a test dependency (the app does not need it): the recipe must run

    monkeypatch.chdir(store.parent)
    scope: dict = {}
    exec(_recipe("pl.scan_parquet("), scope)
    frame = scope["frame"].collect()
    assert frame.height == len(truth)
    assert frame.schema["subject"] == pl.String and frame.schema["box_x"] == pl.Int32
    assert frame.filter(pl.col("subject") == "007").height == 4 + 20
    assert _brightness_by_session(frame.to_pandas()) == {"lit": 3}


def test_data_files_recipe(store, truth, monkeypatch):
    monkeypatch.chdir(store.parent)
    scope: dict = {}
    exec(_recipe("data_files()"), scope)
    counts = dict(scope["counts"].fetchall())
    assert counts == truth.groupby("subject").size().to_dict()
    assert "007" in counts


def test_data_files_recipe_is_exact_where_globs_are_not(tmp_path, monkeypatch):
    """Mid-compaction leftovers and a lost manifest (before repair): the glob counts rows
    twice, as the docs warn; the data_files recipe counts what fer_core counts."""
    import duckdb

    store = LogStore(tmp_path / "logs")
    for session in ("crashed", "lost"):
        d = uncompacted_session(store, "P001", session, n_parts=2, per=10)
        parts = {p.name: p.read_bytes() for p in d.glob("part-w*.parquet")}
        compact_session(d)
        for name, data in parts.items():
            (d / name).write_bytes(data)
    (tmp_path / "logs/subject=P001/session=lost/_compaction-000001.json").unlink()
    monkeypatch.chdir(tmp_path)
    glob = "logs/subject=*/session=*/*.parquet"
    assert duckdb.sql(f"select count(*) from '{glob}'").fetchall() == [(80,)]
    scope: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        exec(_recipe("data_files()"), scope)
        assert dict(scope["counts"].fetchall()) == {"P001": 20} == {"P001": len(store.read())}
        store.repair()
    assert duckdb.sql(f"select count(*) from '{glob}'").fetchall() == [(40,)]  # after repair


@pytest.mark.subprocess
def test_spark_recipe(store, truth, monkeypatch):
    """Spark reads the folder (it skips ``_`` and ``.`` names itself); subject 007 stays a
    string with the documented setting. Starts a local JVM (seconds)."""
    monkeypatch.chdir(store.parent)
    scope: dict = {}
    exec(_recipe('.parquet("logs")'), scope)
    spark, frame = scope["spark"], scope["frame"]
    try:
        types = dict(frame.dtypes)
        assert types["subject"] == "string" and types["session"] == "string"
        assert types["box_x"] == "int"
        assert frame.count() == len(truth)
        by_subject = {r["subject"]: r["count"] for r in frame.groupBy("subject").count().collect()}
        assert by_subject == truth.groupby("subject").size().to_dict()  # "007", not 7
        lit = frame.where("face_brightness is not null").groupBy("session").count().collect()
        assert {r["session"]: r["count"] for r in lit} == {"lit": 3}  # v1 files: nulls
    finally:
        spark.stop()
