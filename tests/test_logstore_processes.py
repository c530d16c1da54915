"""Crash safety and concurrency with real processes: SIGKILL, two writers, concurrent readers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fer_core.logstore import LogStore

REPO = Path(__file__).resolve().parent.parent

# A writer process: appends one row every `pace` seconds stamped with the wall clock, and prints
# "written <n> <last_ts_ms>" whenever the writer thread has published more rows.
WRITER = r"""
import sys, time
from datetime import UTC, datetime
from fer_core.logstore import LogStore
from fer_core.logstore.synthetic import synthetic_rows

root, subject, session, n, pace, flush = sys.argv[1:7]
n, pace, flush = int(n), float(pace), float(flush)
store = LogStore(root)
w = store.open_session(subject, session, flush_interval=flush, model_name="fast")
print("ready", flush=True)
sys.stdin.readline()  # wait for "go", so concurrent writers really overlap
rows = synthetic_rows(n, model_name="fast", source="webcam")
seen = 0
for i, row in enumerate(rows):
    row["timestamp"] = datetime.now(UTC)
    w.append(row)
    if w.rows_written != seen:
        seen = w.rows_written
        print("written", seen, flush=True)
    if pace:
        time.sleep(pace)
w.close()
print("closed", w.rows_written, flush=True)
"""


def _spawn(root: Path, subject: str, session: str, n: int, pace: float,
           flush: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), subject, session, str(n), str(pace),
         str(flush)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


@pytest.mark.subprocess
def test_sigkill_loses_at_most_one_flush_interval(tmp_path) -> None:
    flush = 0.25
    proc = _spawn(tmp_path, "P001", "killed", 100_000, 0.002, flush)
    _go(proc)
    reported = 0
    assert proc.stdout is not None
    while reported < 600:  # let several flushes happen
        line = proc.stdout.readline()
        assert line, "writer process ended early"
        reported = int(line.split()[1])
    proc.send_signal(signal.SIGKILL)
    killed_at = datetime.now(UTC)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # every file left behind is readable (hidden .tmp files are not part of the store)
    files = list(tmp_path.rglob("*.parquet"))
    assert files
    for f in files:
        pq.read_table(f)
    store = LogStore(tmp_path)
    df = store.read("P001", "killed")
    # everything the writer had reported as written is there, as a gap-free prefix
    assert len(df) >= reported
    assert df["frame_index"].tolist() == list(range(len(df)))
    # and what is missing is at most the last flush interval (plus scheduling slack on a busy
    # machine: this bounds the durability window, it does not measure speed)
    last = df["timestamp"].max().to_pydatetime()
    assert (killed_at - last).total_seconds() < flush + 1.5

    sessions = store.list_sessions()
    assert sessions.loc[0, "status"] == "interrupted" and sessions.loc[0, "n_rows"] == len(df)
    assert store.repair() == [("P001", "killed")]
    assert store.read("P001", "killed").equals(df)
    meta = store.session_meta("P001", "killed")
    assert meta.ended_at == last and meta.extra["recovered"] is True
    names = sorted(p.name for p in (tmp_path / "subject=P001" / "session=killed").iterdir())
    assert [n for n in names if n.endswith(".parquet")] == ["part-c000001.parquet"]
    assert not [n for n in names if n.endswith(".tmp")]
    assert store.repair() == []


@pytest.mark.subprocess
def test_two_processes_write_different_sessions(tmp_path) -> None:
    n = 3000
    a = _spawn(tmp_path, "P001", "a", n, 0.0, 0.02)
    b = _spawn(tmp_path, "P001", "b", n, 0.0, 0.02)
    c = _spawn(tmp_path, "P002", "a", n, 0.0, 0.02)
    for p in (a, b, c):
        _go(p)
    for p in (a, b, c):
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        assert out.strip().splitlines()[-1] == f"closed {n}"
    store = LogStore(tmp_path)
    for subject, session in [("P001", "a"), ("P001", "b"), ("P002", "a")]:
        df = store.read(subject, session)
        assert df["frame_index"].tolist() == list(range(n))
    sessions = store.list_sessions()
    assert sessions["n_rows"].tolist() == [n, n, n]
    assert set(sessions["status"]) == {"closed"}


@pytest.mark.subprocess
def test_reader_never_sees_missing_or_doubled_rows_during_writes_and_compaction(
        tmp_path) -> None:
    """A reader polling while another process flushes many parts and compacts them."""
    n = 4000
    store = LogStore(tmp_path)
    proc = _spawn(tmp_path, "P001", "live", n, 0.0002, 0.01)
    _go(proc)
    counts = []
    while proc.poll() is None:
        df = store.read("P001", "live", columns=["frame_index"])
        frames = df["frame_index"].tolist()
        assert frames == list(range(len(frames)))  # no gap, no duplicate
        counts.append(len(frames))
    assert proc.returncode == 0
    assert counts == sorted(counts)  # never went backwards (e.g. across the compaction)
    assert store.read("P001", "live")["frame_index"].tolist() == list(range(n))
    assert len(counts) > 3


@pytest.mark.subprocess
def test_delete_refused_while_another_process_records(tmp_path) -> None:
    from fer_core.logstore import SessionBusyError

    proc = _spawn(tmp_path, "P001", "busy", 10, 0.0, 0.05)
    store = LogStore(tmp_path)
    try:
        assert store.list_sessions().loc[0, "status"] == "recording"
        with pytest.raises(SessionBusyError):
            store.delete_session("P001", "busy")
        with pytest.raises(SessionBusyError):
            store.delete_subject("P001")
        assert store.repair() == []  # a live writer's session is not "repaired"
    finally:
        _go(proc)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    store.delete_session("P001", "busy")
    assert store.list_sessions().empty and not (tmp_path / "subject=P001").exists()


def test_compaction_crash_states_read_exactly_once(tmp_path) -> None:
    """Every intermediate state of the compaction protocol reads the same rows."""
    import shutil

    from fer_core.logstore.compaction import compact_session
    from fer_core.logstore.synthetic import synthetic_rows

    store = LogStore(tmp_path / "s")
    w = store.open_session("P001", "x", started_at=datetime(2026, 1, 1, tzinfo=UTC))
    w._compact_on_close = False
    for k in range(5):
        w.append_many(synthetic_rows(20, first_frame=20 * k))
        w.flush()
    w.close()
    d = tmp_path / "s" / "subject=P001" / "session=x"
    parts = sorted(d.glob("part-w*.parquet"))
    assert len(parts) == 5
    expected = store.read_table()
    # run a full compaction in a copy to obtain the manifest and compacted file
    shutil.copytree(d, tmp_path / "done")
    compact_session(tmp_path / "done")
    manifest = (tmp_path / "done" / "_compaction-000001.json").read_bytes()
    compacted = (tmp_path / "done" / "part-c000001.parquet").read_bytes()

    # state 1: crash after the manifest, before the compacted file was published
    (d / "_compaction-000001.json").write_bytes(manifest)
    (d / ".part-c000001.parquet.1234.tmp").write_bytes(compacted[:100])
    assert store.read_table().equals(expected)
    # state 2: crash after publishing, before the old parts were deleted
    (d / "part-c000001.parquet").write_bytes(compacted)
    assert store.read_table().equals(expected)
    assert store.list_sessions().loc[0, "n_rows"] == 100
    # state 3: half of the old parts deleted
    for p in parts[:2]:
        p.unlink()
    assert store.read_table().equals(expected)
    # repair/compaction again finishes the clean-up and keeps the rows
    compact_session(d)
    assert store.read_table().equals(expected)
    assert sorted(p.name for p in d.glob("*.parquet")) == ["part-c000001.parquet"]
    assert not list(d.glob(".*.tmp"))
