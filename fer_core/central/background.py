"""Publishing a session right after it is finished (the app's STOP, ``analyze``), and the
per-session publish status the app shows.

The app publishes in a daemon thread so that STOP never waits on the network. If the process
ends mid-publish the publish is simply killed midway, which is safe by design
(:mod:`fer_core.central.publish`: nothing a reader counts) and completed by the next
``python -m fer_core logs publish --all``. Without a configured central store (or site) these
functions do nothing, so an install without one behaves exactly as before.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from fer_core.central.location import CentralError, CentralStore, resolve_central

log = logging.getLogger(__name__)


def configured() -> CentralStore | None:
    """The central store if one is configured with a site; None otherwise (or misconfigured,
    which is logged: recording never fails because of the central store)."""
    try:
        central = resolve_central()
    except CentralError as exc:
        log.warning("central store not usable, sessions are not published: %s", exc)
        return None
    if central is None:
        return None
    if not central.site:
        log.warning("a central store is configured but no site name ($FER_SITE or [central] "
                    "site): sessions are not published")
        return None
    return central


def publish_now(root: Path, subject: str, session: str) -> str:
    """Publish one session if a central store is configured; its status text ('' if none)."""
    from fer_core.central.publish import publish_session
    from fer_core.logstore import LogStore

    central = configured()
    if central is None:
        return ""
    try:
        result = publish_session(LogStore(root), central, subject, session)
    except Exception as exc:  # the local session is safe; `logs publish` retries later
        log.warning("publishing %s/%s failed: %s", subject, session, central.redact(exc))
        return f"failed: {central.redact(exc)}"
    log.info("%s", result.summary())
    return status_text(Path(root), subject, session)


def publish_later(root: Path, subject: str, session: str) -> threading.Thread | None:
    """Start publishing one session in a daemon thread (None when no central store)."""
    if configured() is None:
        return None
    thread = threading.Thread(target=publish_now, args=(Path(root), subject, session),
                              name=f"publish-{subject}-{session}", daemon=True)
    thread.start()
    return thread


def status_text(root: Path, subject: str, session: str) -> str:
    """``published``, ``waiting`` or ``failed: reason`` for the app ('' without central)."""
    from fer_core.central.publish import publish_state

    state = publish_state(Path(root), subject, session)
    if state is None or state.get("state") == "waiting":
        return "waiting"
    if state.get("state") == "failed":
        return f"failed: {state.get('reason', '')}"
    return "published"
