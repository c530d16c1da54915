"""Refuse to record into a store on NFS, SMB/CIFS or a FUSE mount (s3fs, goofys, rclone...).

The store's safety rests on ``flock``, exclusive ``mkdir``, ``fsync`` + ``os.replace`` and
directory renames. On a local disk these are atomic and exclusive; on NFS and SMB ``flock`` is
advisory per client (or emulated), and a FUSE mount of a bucket implements renames as copies and
locks per machine. Pointed at one bucket mounted on two machines, two writers opened the same
session, raced their compactions and the store read 1,100 rows of a 700-row session without a
damage flag. So opening a session (and importing) on such a filesystem is refused with
:class:`UnsafeStoreError`, unless ``$FER_ALLOW_NETWORK_STORE=1`` says the operator accepts it
(one machine only), which then logs a warning every time. Sharing between machines is what the
central store is for (docs/log-format.md, *Central store*).

Linux only (``/proc/self/mountinfo``); elsewhere nothing is checked.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fer_core.logstore.errors import UnsafeStoreError

log = logging.getLogger(__name__)

MOUNTINFO = Path("/proc/self/mountinfo")
ALLOW_ENV = "FER_ALLOW_NETWORK_STORE"
#: Filesystem types whose locks and renames the store cannot rely on (plus every ``fuse*``).
NETWORK_TYPES = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs",
                           "lustre", "afs", "ncpfs", "davfs", "gpfs", "beegfs", "virtiofs"})


def _unescape(field: str) -> str:
    """Mount points in mountinfo escape space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def parse_mountinfo(text: str) -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every line of a ``/proc/<pid>/mountinfo``."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields or len(fields) < 5:
            continue
        sep = fields.index("-")
        if sep + 1 < len(fields):
            mounts.append((_unescape(fields[4]), fields[sep + 1]))
    return mounts


def filesystem_type(path: Path, mountinfo: Path | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (or its nearest existing parent), or None
    when it cannot be told (no mountinfo: not Linux)."""
    try:
        text = (mountinfo or MOUNTINFO).read_text()
    except OSError:
        return None
    target = Path(os.path.abspath(path))
    while not target.exists() and target != target.parent:
        target = target.parent
    target = target.resolve()
    best, fstype = -1, None
    for point, kind in parse_mountinfo(text):  # the last, longest mount covering it wins
        p = Path(point)
        if (target == p or p in target.parents) and len(p.parts) >= best:
            best, fstype = len(p.parts), kind
    return fstype


def unsafe(fstype: str | None) -> bool:
    return fstype is not None and (fstype in NETWORK_TYPES or fstype.startswith("fuse"))


def check_local_store(root: Path) -> None:
    """Raise :class:`UnsafeStoreError` if ``root`` is on a network or FUSE filesystem (a
    warning instead when ``$FER_ALLOW_NETWORK_STORE=1``)."""
    fstype = filesystem_type(root)
    if not unsafe(fstype):
        return
    message = (f"the log store {root} is on a {fstype} filesystem, where its locks and atomic "
               "renames do not hold (two machines can open the same session and corrupt it); "
               "record on a local disk and share sessions through the central store "
               "(docs/log-format.md, Central store)")
    if os.environ.get(ALLOW_ENV) == "1":
        log.warning("%s -- continuing because %s=1", message, ALLOW_ENV)
        return
    raise UnsafeStoreError(f"{message}; set {ALLOW_ENV}=1 to accept the risk on one machine")
