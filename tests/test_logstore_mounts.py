"""The local store refuses to record on NFS, SMB or FUSE mounts (issue 22, item 1).

No test machine can mount NFS, so the mount table is a real ``mountinfo`` text in the kernel's
format, naming the test's own folder as each kind of mount; everything else (the store, the
writer, the import, the CLI) is the real code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fer_core.config import PROJECT_ROOT
from fer_core.logstore import LogStore, UnsafeStoreError, mounts
from tests.store_fixtures import T0

REAL = """22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
"""


def _mountinfo(tmp_path: Path, point: Path, fstype: str) -> Path:
    escaped = str(point).replace(" ", "\\040")
    info = tmp_path / "mountinfo"
    info.write_text(REAL + f"90 27 0:50 / {escaped} rw,relatime shared:1 - {fstype} srv:/x rw\n")
    return info


def test_parse_and_match_the_longest_mount(tmp_path):
    spaced = tmp_path / "with space"
    spaced.mkdir()
    info = _mountinfo(tmp_path, spaced, "nfs4")
    assert ("/", "ext4") in mounts.parse_mountinfo(info.read_text())
    assert mounts.filesystem_type(spaced / "logs" / "deeper", info) == "nfs4"  # not yet made
    assert mounts.filesystem_type(tmp_path, info) == "ext4"
    assert mounts.filesystem_type(tmp_path, tmp_path / "missing") is None
    assert [t for t in ("ext4", "xfs", "tmpfs", "nfs", "cifs", "fuse.s3fs", "fuseblk", "9p")
            if mounts.unsafe(t)] == ["nfs", "cifs", "fuse.s3fs", "fuseblk", "9p"]


@pytest.mark.parametrize("fstype", ["nfs4", "cifs", "fuse.s3fs"])
def test_recording_on_a_network_or_fuse_mount_is_refused(tmp_path, monkeypatch, fstype):
    root = tmp_path / "logs"
    root.mkdir()  # a mount point exists
    monkeypatch.setattr(mounts, "MOUNTINFO", _mountinfo(tmp_path, root, fstype))
    monkeypatch.delenv(mounts.ALLOW_ENV, raising=False)
    store = LogStore(root)
    with pytest.raises(UnsafeStoreError, match=f"on a {fstype} filesystem"):
        store.open_session("P001", "s", started_at=T0)
    assert not any(root.iterdir())  # refused before anything was written
    with pytest.raises(UnsafeStoreError):
        store.import_zip(b"not even read")


def test_the_override_records_with_a_warning(tmp_path, monkeypatch, caplog):
    root = tmp_path / "logs"
    root.mkdir()
    monkeypatch.setattr(mounts, "MOUNTINFO", _mountinfo(tmp_path, root, "nfs"))
    monkeypatch.setenv(mounts.ALLOW_ENV, "1")
    with LogStore(root).open_session("P001", "s", started_at=T0) as w:
        w.append({"timestamp": T0, "frame_index": 0, "face_index": -1, "face_detected": False})
    assert "on a nfs filesystem" in caplog.text
    assert LogStore(root).read().shape[0] == 1


def test_a_local_disk_is_unchanged(tmp_path, monkeypatch):
    monkeypatch.delenv(mounts.ALLOW_ENV, raising=False)
    assert not mounts.unsafe(mounts.filesystem_type(tmp_path))  # the real mount table
    with LogStore(tmp_path / "logs").open_session("P001", "s", started_at=T0):
        pass


@pytest.mark.subprocess
def test_the_cli_says_why_in_one_line(tmp_path):
    root = tmp_path / "logs"
    root.mkdir()
    info = _mountinfo(tmp_path, root, "fuse.s3fs")
    code = ("import sys; from pathlib import Path; from fer_core.logstore import mounts; "
            f"mounts.MOUNTINFO = Path({str(info)!r}); from fer_core.cli import main; "
            f"sys.exit(main(['logs', '--root', {str(root)!r}, 'import', {str(info)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "fuse.s3fs filesystem" in done.stderr and "Traceback" not in done.stderr
