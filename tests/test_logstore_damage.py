"""One damaged session never takes down the store: listed as damaged, skipped by readers with a
warning, shown by ``logs list``, rebuilt by ``logs repair`` with a report of what was lost.

Damage kinds (issue 14, item 2): a closed session's compaction manifest deleted or garbled, the
manifest lost while superseded parts are still there (crash + loss), an unreadable part file,
``_session.json`` deleted or garbled. Real files in tmp_path, the real CLI in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from fer_core.logstore import CorruptFileWarning, LogStore
from fer_core.logstore.synthetic import synthetic_rows
from tests.store_fixtures import T0, uncompacted_session

REPO = Path(__file__).resolve().parent.parent


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "fer_core", "logs", "--root", str(root), *args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


def _store(tmp_path: Path) -> tuple[LogStore, Path]:
    """Two healthy sessions of P001 and P002, plus the victim P001/bad (closed, compacted)."""
    store = LogStore(tmp_path / "logs")
    for subj, sess, n in [("P001", "good", 30), ("P002", "other", 20), ("P001", "bad", 40)]:
        with store.open_session(subj, sess, started_at=T0, label=f"label {sess}") as w:
            w.append_many(synthetic_rows(n, T0))
    return store, store.root / "subject=P001" / "session=bad"


def _with_leftover_parts(store: LogStore) -> Path:
    """P001/bad as after a crash between compaction's commit and its clean-up."""
    from fer_core.logstore.compaction import compact_session

    d = uncompacted_session(store, "P001", "bad")
    parts = {p.name: p.read_bytes() for p in d.glob("part-w*.parquet")}
    compact_session(d)
    for name, data in parts.items():  # the clean-up never ran
        (d / name).write_bytes(data)
    return d


def damage(kind: str, d: Path) -> None:
    if kind == "manifest deleted":
        (d / "_compaction-000001.json").unlink()
    elif kind == "manifest garbled":
        (d / "_compaction-000001.json").write_bytes(b"{\"superseded\": [1, 2")
    elif kind == "part unreadable":
        (d / "part-c000001.parquet").write_bytes(b"PAR1" + b"\x00garbage" * 40 + b"PAR1")
    elif kind == "metadata deleted":
        (d / "_session.json").unlink()
    elif kind == "metadata garbled":
        (d / "_session.json").write_bytes(b"{\"subject\": ")
    else:  # pragma: no cover
        raise AssertionError(kind)


KINDS = ["manifest deleted", "manifest garbled", "part unreadable", "metadata deleted",
         "metadata garbled"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_session_is_listed_skipped_and_the_rest_keeps_working(tmp_path, kind):
    store, d = _store(tmp_path)
    damage(kind, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorruptFileWarning)
        sessions = store.list_sessions().set_index("session")
        subjects = store.list_subjects()
        everything = store.read()
        export = store.export("zip")
        p002 = store.read("P002")
    assert sessions.loc["bad", "status"] == "damaged"
    assert sessions.loc["bad", "damage"]
    assert (sessions.drop(index="bad")["damage"] == "").all()
    assert (sessions.drop(index="bad")["status"] == "closed").all()
    assert sorted(subjects["subject"]) == ["P001", "P002"]
    assert len(p002) == 20 and export
    others = everything.loc[everything["session"] != "bad"]
    assert len(others) == 50
    # a lost manifest beside one compacted file, or lost metadata, loses no rows
    lost_rows = kind == "part unreadable"
    assert (everything["session"] == "bad").sum() == (0 if lost_rows else 40)


def test_a_skipped_session_warns_the_reader(tmp_path):
    store, d = _store(tmp_path)
    damage("part unreadable", d)
    with pytest.warns(CorruptFileWarning, match="part-c000001"):
        store.read()


def test_lost_manifest_with_leftover_parts_is_skipped_then_rebuilt_exactly(tmp_path):
    """Which parts the compacted file holds is unknowable: the session is skipped, not doubled;
    repair merges every readable file and de-duplicates to the original rows."""
    store = LogStore(tmp_path / "logs")
    d = _with_leftover_parts(store)
    expected = store.read_table()
    assert expected.num_rows == 40
    (d / "_compaction-000001.json").unlink()
    with pytest.warns(CorruptFileWarning, match="session skipped until repair"):
        assert store.read_table().num_rows == 0
    assert store.list_sessions().loc[0, "status"] == "damaged"
    results = store.repair_report()
    assert len(results) == 1 and "rebuilt" in results[0].summary()
    assert store.read_table().equals(expected)
    row = store.list_sessions().iloc[0]
    assert row["status"] == "closed" and row["damage"] == "" and row["n_rows"] == 40
    assert sorted(p.name for p in d.glob("*.parquet")) == ["part-c000002.parquet"]


@pytest.mark.parametrize("kind", KINDS)
def test_repair_rebuilds_what_can_be_read_and_reports_the_rest(tmp_path, kind):
    store, d = _store(tmp_path)
    damage(kind, d)
    before = store.read_table(session="good")
    results = store.repair_report()
    assert [(r.subject, r.session) for r in results] == [("P001", "bad")]
    result = results[0]
    sessions = store.list_sessions().set_index("session")
    others = sessions.drop(index="bad")
    assert (others["damage"] == "").all() and (others["status"] == "closed").all()
    assert store.read_table(session="good").equals(before)
    n_bad = len(store.read(session="bad"))
    lossy = kind == "part unreadable" or kind.startswith("metadata")
    # what was lost stays on record: the session does not pass for an intact one (issue 23)
    assert (sessions.loc["bad", "status"] == "damaged") == lossy
    assert bool(sessions.loc["bad", "damage"]) == lossy
    if kind == "part unreadable":
        assert n_bad == 0 and result.unreadable and "part-c000001" in result.unreadable[0]
        assert (d / "_damaged-part-c000001.parquet.quarantined").exists()  # kept aside
        assert "40 row(s) and 1.334 s lost" in sessions.loc["bad", "damage"]
    else:
        assert n_bad == 40
    if kind.startswith("metadata"):
        meta = store.session_meta("P001", "bad")
        assert meta.extra["metadata_rebuilt"] and meta.label == ""
        assert "lost: operator, consent, label, notes, segments" in result.summary()
        assert bool(result.unreadable) == (kind == "metadata garbled")
    assert store.repair_report() == []  # nothing left to do


def test_cli_lists_exports_and_repairs_a_damaged_store_without_traceback(tmp_path):
    store, d = _store(tmp_path)
    damage("manifest deleted", d)
    (store.root / "subject=P002" / "session=other" / "part-c000001.parquet").write_bytes(b"x")
    listed = cli(store.root, "list")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert "2 damaged session(s)" in listed.stdout
    assert "P001/bad: compaction manifest _compaction-000001.json missing" in listed.stdout
    detail = cli(store.root, "list", "--subject", "P001")
    assert detail.returncode == 0 and "damaged" in detail.stdout, detail.stderr
    exported = cli(store.root, "export", "--format", "csv", "-o", str(tmp_path / "all.csv"))
    assert exported.returncode == 0 and "Traceback" not in exported.stderr, exported.stderr
    assert (tmp_path / "all.csv").read_text().count("\n") == 1 + 30 + 40
    repaired = cli(store.root, "repair")
    assert repaired.returncode == 1, repaired.stderr  # P002's data could not be read
    assert "P001/bad: compaction manifest" in repaired.stdout
    assert "P002/other" in repaired.stdout and "could not read: part-c000001" in repaired.stdout
    assert "repaired 2 session(s)" in repaired.stdout
    again = cli(store.root, "list")
    assert again.returncode == 0 and "P001/bad" not in again.stdout  # rebuilt, nothing lost
    assert "1 damaged session(s)" in again.stdout  # P002/other's loss stays on record
    assert "P002/other: repaired" in again.stdout and "20 row(s)" in again.stdout
