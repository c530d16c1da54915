"""Everything the log store creates is private to its owner: files 0600, folders 0700.

Issue 14, item 9: store files were 0644 and folders 0755 while the auth folder is 0700. The
store here goes through every path that creates something: writer parts, compaction, metadata
edits, markers, import, repair, the CLI export -- under a permissive umask (022).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fer_core.logstore import LogStore
from fer_core.logstore.synthetic import synthetic_rows

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root: Path) -> dict[str, int]:
    out = {}
    for path in [root, *root.rglob("*")]:
        out[str(path.relative_to(root.parent))] = stat.S_IMODE(path.lstat().st_mode)
    return out


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_store_files_are_0600_and_folders_0700(tmp_path, umask_022):
    root = tmp_path / "deep" / "logs"
    store = LogStore(root)
    w = store.open_session("P001", "live", started_at=T0)
    w._compact_on_close = False
    w.append_many(synthetic_rows(20, T0))
    w.flush()
    w.add_marker("stimulus", T0)
    w.close()  # parts + metadata, not compacted: repair will compact it
    (root / "subject=P001" / "session=live" / "_session.json").write_bytes(
        (root / "subject=P001" / "session=live" / "_session.json").read_bytes()
        .replace(b'"ended_at": "', b'"ended_at": null, "x": "'))
    with store.open_session("P001", "done", started_at=T0) as w2:
        w2.append_many(synthetic_rows(20, T0))
    store.update_notes("P001", "done", "notes")
    store.add_marker("P001", "done", "later", T0)
    LogStore(tmp_path / "other").import_zip(store.export("zip"))
    store.repair()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = tmp_path / "export.zip"
    res = subprocess.run([sys.executable, "-m", "fer_core", "logs", "--root", str(root),
                          "export", "-o", str(out)], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    found = {**modes(tmp_path / "deep"), **modes(tmp_path / "other")}
    assert any(name.endswith(".parquet") for name in found)
    wrong = {name: oct(mode) for name, mode in found.items()
             if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)}
    assert not wrong, wrong
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
