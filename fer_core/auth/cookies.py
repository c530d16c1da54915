"""The login cookie: a server-side session token, signed and with its own expiry.

A reload of the page opens a new Streamlit session, which has forgotten everything in
``st.session_state``; the browser keeps the cookie, so the app can resume the login. The cookie
value is ``<token>.<expires unix s>.<HMAC-SHA256 of both>``:

* the **token** is the random secret of a server-side login session
  (:class:`fer_core.auth.sessions.SessionRegistry`): logout, idle timeout, a disabled account or
  a restart of the app revoke it there, whatever the browser still holds;
* the **expiry** bounds the cookie even if the server-side session table were lax;
* the **signature** (key in the auth folder, :func:`fer_core.auth.config.cookie_key`) tells a
  forged or altered cookie from one that merely expired, so each gets its own audit entry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

COOKIE_NAME = "fer_session"

#: Why a cookie was refused (the ``reason`` of the audit entry).
FORGED, EXPIRED, MALFORMED = "forged", "expired", "malformed"


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(token: str, expires: int, key: bytes) -> str:
    """The cookie value for ``token``, valid until the unix time ``expires``."""
    if not token or "." in token:
        raise ValueError("a session token is non-empty url-safe base64 (no dots)")
    payload = f"{token}.{int(expires)}"
    return f"{payload}.{_mac(key, payload)}"


def verify(value: str | None, key: bytes, now: float) -> tuple[str | None, str]:
    """``(token, "")`` for a genuine unexpired cookie, else ``(None, reason)``.

    The signature is checked first (in constant time), so an altered expiry is "forged", not
    "expired".
    """
    parts = (value or "").split(".")
    if len(parts) != 3 or not all(parts):
        return None, MALFORMED
    token, expires, mac = parts
    if not hmac.compare_digest(mac, _mac(key, f"{token}.{expires}")):
        return None, FORGED
    try:
        if int(expires) <= now:
            return None, EXPIRED
    except ValueError:
        return None, MALFORMED
    return token, ""
