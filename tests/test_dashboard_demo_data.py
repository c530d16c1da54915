"""`python -m fer_core demo-data`: realistic synthetic sessions, marked synthetic everywhere."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fer_core import analytics as an
from fer_core.config import PROJECT_ROOT
from fer_core.logstore import LogStore


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fer_core", "demo-data", *args],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )


@pytest.mark.subprocess
def test_demo_data_command_writes_marked_synthetic_sessions(tmp_path):
    result = _run("--root", str(tmp_path), "--sessions", "3", "--minutes", "1", "--fps", "5")
    assert result.returncode == 0, result.stderr
    store = LogStore(tmp_path)
    subjects = store.list_subjects()
    assert set(subjects["subject"]) == {"demo-ayu", "demo-bima", "demo-citra"}
    assert subjects["synthetic"].all()
    sessions = store.list_sessions()
    assert len(sessions) == 9 and sessions["synthetic"].all()
    rows = store.read(subject="demo-citra")
    assert (rows["source"] == "synthetic").all()
    meta = store.session_meta("demo-citra", sessions.loc[
        sessions["subject"] == "demo-citra", "session"].iloc[0])
    assert meta.synthetic and meta.source == "synthetic" and "SYNTHETIC" in meta.notes
    assert [(s.label, s.is_point) for s in meta.sorted_segments()] == [
        ("baseline interview", False), ("stimulus A", False), ("short break", True)]
    # realistic dynamics: several expressions, persistent states, look-away gaps
    summary = an.session_summary(rows)
    assert 0.7 < summary["face_in_view"] < 1.0
    assert (an.class_shares(rows) > 0).sum() >= 4
    segments = an.ethogram_segments(rows)
    assert segments.loc[segments["label"] != an.NO_FACE, "duration_s"].median() >= 0.4
    # sessions lie on different days
    assert sessions.loc[sessions["subject"] == "demo-ayu", "started_at"].dt.date.nunique() == 3


@pytest.mark.subprocess
def test_demo_data_refuses_to_overwrite_then_replaces(tmp_path):
    assert _run("--root", str(tmp_path), "--sessions", "1", "--minutes", "0.2").returncode == 0
    before = LogStore(tmp_path).list_sessions()
    again = _run("--root", str(tmp_path), "--sessions", "1", "--minutes", "0.2")
    assert again.returncode == 1
    assert "already in the store" in again.stderr and "--replace" in again.stderr
    assert LogStore(tmp_path).list_sessions()["session"].tolist() == before["session"].tolist()
    replaced = _run("--root", str(tmp_path), "--sessions", "2", "--minutes", "0.2", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert len(LogStore(tmp_path).list_sessions()) == 6


@pytest.mark.subprocess
def test_demo_data_rejects_bad_arguments(tmp_path):
    result = _run("--root", str(tmp_path), "--sessions", "0")
    assert result.returncode == 2 and "--sessions must be" in result.stderr
    assert not any(tmp_path.iterdir())
