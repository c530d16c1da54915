"""Right to erasure: remove a session or a subject completely, then prove nothing is left.

Deletes through the log store (which refuses sessions being recorded), removes opted-in camera
videos, and then walks the store and the media folder for any remaining path naming the
subject or session (including half-deleted ``.deleting-*`` folders). The audit log keeps the
*fact* of the erasure (who, when, which id) by design: accountability needs it, and subject ids
are pseudonyms.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from fer_core.logstore import LogStore, SessionNotFoundError

log = logging.getLogger(__name__)

#: where opted-in camera videos go (fer_core.live.media_dir records them there; erasure finds them)
MEDIA_DIR_ENV = "FER_MEDIA_DIR"


class ErasureError(RuntimeError):
    """Something of the erased data is still on disk."""


def media_dir(log_root: Path) -> Path:
    default = Path(log_root).resolve().parent / "recordings"
    return Path(os.environ.get(MEDIA_DIR_ENV, default)).expanduser()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _names(name: str, key: str, value: str) -> bool:
    """``name`` is the folder of that id, or its half-deleted ``.deleting-`` rename."""
    return name == f"{key}={value}" or name.startswith(f".deleting-{key}={value}-")


def leftovers(root: Path, subject: str, session: str | None = None,
              media: Path | None = None) -> list[Path]:
    """Paths in the store (and the media folder) still holding the subject's or session's data."""
    root = Path(root)
    found: list[Path] = []
    if session is None:
        if root.is_dir():
            found += [p for p in root.iterdir() if _names(p.name, "subject", subject)]
        if media is not None and (media / subject).exists():
            found.append(media / subject)
        return found
    subject_folder = root / f"subject={subject}"
    if subject_folder.is_dir():
        found += [p for p in subject_folder.iterdir() if _names(p.name, "session", session)]
    if media is not None and (media / subject).is_dir():
        found += list((media / subject).glob(f"{session}.*"))
    return found


def erase_session(store: LogStore, subject: str, session: str,
                  media: Path | None = None) -> list[str]:
    """Delete one session (rows, metadata, markers, notes, consent, video). Returns what went."""
    media = media or media_dir(store.root)
    meta = store.session_meta(subject, session)  # SessionNotFoundError if absent
    video = (meta.extra or {}).get("video_file")
    store.delete_session(subject, session)
    removed = [f"log store session {subject}/{session}"]
    from fer_core.central.location import central_session_id, resolve_central

    central = resolve_central()
    # the session's central id: its own id in a review cache (fer_core.central.cache), else
    # this site's prefix + the local id (a session published from here)
    cached = "central_local_session" in (meta.extra or {})
    central_id = (session if cached else
                  central_session_id(central.site, session) if central and central.site else None)
    if central is not None and central_id is not None:
        from fer_core.central.maintenance import erase_session as erase_central
        from fer_core.central.publish import STATE_DIR

        result = erase_central(central, subject, central_id)
        removed.append(result.summary().replace("subject ", "session ", 1))
        for suffix in (".json", ".lock"):
            (store.root / STATE_DIR / f"subject={subject}" / f"{session}{suffix}").unlink(
                missing_ok=True)
    candidates = [Path(video)] if video else []
    candidates += list((media / subject).glob(f"{session}.*")) if (media / subject).is_dir() else []
    for path in candidates:
        if path.exists() and _inside(path, media):
            path.unlink()
            removed.append(f"video {path.name}")
    subject_media = media / subject
    if subject_media.is_dir() and not any(subject_media.iterdir()):
        subject_media.rmdir()
    left = leftovers(store.root, subject, session, media)
    if left:
        raise ErasureError(f"erasing {subject}/{session} left {[str(p) for p in left]}")
    log.info("erased session %s/%s", subject, session)
    return removed


def erase_subject(store: LogStore, subject: str, media: Path | None = None) -> list[str]:
    """Delete a subject with every session and video, and from the central store if one is
    configured (rows of both Delta tables, then a vacuum: see fer_core.central.maintenance)."""
    from fer_core.central.location import resolve_central

    media = media or media_dir(store.root)
    central = resolve_central()
    n = len(store.list_sessions(subject))
    removed = []
    try:
        store.delete_subject(subject)
        removed.append(f"log store subject {subject} ({n} sessions)")
    except SessionNotFoundError:
        if not (media / subject).exists() and central is None:
            raise
    if central is not None:
        from fer_core.central.maintenance import erase_subject as erase_central
        from fer_core.central.publish import STATE_DIR

        removed.append(erase_central(central, subject).summary())
        shutil.rmtree(store.root / STATE_DIR / f"subject={subject}", ignore_errors=True)
    if (media / subject).is_dir() and _inside(media / subject, media):
        shutil.rmtree(media / subject)
        removed.append(f"videos of {subject}")
    left = leftovers(store.root, subject, None, media)
    if left:
        raise ErasureError(f"erasing {subject} left {[str(p) for p in left]}")
    log.info("erased subject %s", subject)
    return removed
