"""The served app: ``streamlit run dashboard/serve.py`` (``make app``) runs dashboard/app.py
behind one extra rule, :class:`CloseInternalEndpoints`.

Why: Streamlit 1.67 answers ``/_stcore/metrics`` (sessions, cache sizes, per-page counters) to
anyone who can reach the port, without a login, and has no option to switch it off. This file
is detected by ``streamlit run`` as an ASGI app (``st.App``), whose middleware runs before
Streamlit's routes, so the endpoint answers 404 here whoever asks. Running ``app.py`` directly
still works for development but leaves the endpoint open (docs/security.md).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

#: Streamlit endpoints that must not answer (they need no login and have no setting to close)
CLOSED_PATHS = ("/_stcore/metrics",)


class CloseInternalEndpoints:
    """ASGI middleware: 404 for :data:`CLOSED_PATHS` (any method), everything else passes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").rstrip("/").endswith(CLOSED_PATHS):
            await PlainTextResponse("Not found", status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


app = st.App(Path(__file__).with_name("app.py"), middleware=[Middleware(CloseInternalEndpoints)])
