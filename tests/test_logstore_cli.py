"""``python -m fer_core logs`` in a real subprocess: list, export, import, repair, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fer_core.logstore import LogStore
from fer_core.logstore.synthetic import synthetic_rows

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "fer_core", "logs", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120)


@pytest.mark.subprocess
def test_cli_roundtrip(tmp_path) -> None:
    store = LogStore(tmp_path / "a")
    with store.open_session("P001", "s1", started_at=T0) as w:
        w.append_many(synthetic_rows(25, T0))
    res = cli("--root", str(tmp_path / "a"), "list")
    assert res.returncode == 0 and "P001" in res.stdout, res.stderr
    res = cli("--root", str(tmp_path / "a"), "list", "--subject", "P001")
    assert res.returncode == 0 and "s1" in res.stdout and "closed" in res.stdout, res.stderr
    out = tmp_path / "x.zip"
    res = cli("--root", str(tmp_path / "a"), "export", "-o", str(out))
    assert res.returncode == 0, res.stderr
    res = cli("--root", str(tmp_path / "b"), "import", str(out))
    assert res.returncode == 0, res.stderr
    assert LogStore(tmp_path / "b").read_table().equals(store.read_table())
    again = cli("--root", str(tmp_path / "b"), "import", str(out))
    assert again.returncode == 2 and "already in the store" in again.stderr, again.stderr
    assert "Traceback" not in again.stderr
    res = cli("--root", str(tmp_path / "b"), "import", str(out), "--skip-existing")
    assert res.returncode == 0, res.stderr
    bad = cli("--root", str(tmp_path / "a"), "export", "--subject", "../x", "-o",
              str(tmp_path / "y.csv"))
    assert bad.returncode == 2 and "not allowed" in bad.stderr, bad.stderr
    assert not (tmp_path / "y.csv").exists()
    res = cli("--root", str(tmp_path / "a"), "repair")
    assert res.returncode == 0 and "repaired 0 session" in res.stdout, res.stderr
