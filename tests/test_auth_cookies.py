"""The login cookie: signed, expiring, backed by the server-side session table, refusals audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fer_core.auth import Auth
from fer_core.auth import cookies as ck

KEY = b"k" * 32


def test_sign_and_verify_round_trip():
    value = ck.sign("abc_DEF-123", 1000, KEY)
    assert value.startswith("abc_DEF-123.1000.")
    assert ck.verify(value, KEY, now=999) == ("abc_DEF-123", "")


@pytest.mark.parametrize("value, reason", [
    (None, ck.MALFORMED), ("", ck.MALFORMED), ("a.b", ck.MALFORMED), ("a..c", ck.MALFORMED),
])
def test_malformed(value, reason):
    assert ck.verify(value, KEY, now=0) == (None, reason)


def test_forged_altered_and_expired():
    value = ck.sign("tok", 1000, KEY)
    _, expires, mac = value.split(".")
    assert ck.verify(value, b"x" * 32, now=0) == (None, ck.FORGED)  # another key
    assert ck.verify(f"tok.99999.{mac}", KEY, now=0) == (None, ck.FORGED)  # stretched expiry
    assert ck.verify(f"other.{expires}.{mac}", KEY, now=0) == (None, ck.FORGED)
    assert ck.verify(value, KEY, now=1000) == (None, ck.EXPIRED)
    with pytest.raises(ValueError):
        ck.sign("a.b", 1, KEY)


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def auth(tmp_path):
    clock = Clock()
    auth = Auth(tmp_path / "auth", clock=clock, idle_timeout_s=600, max_age_s=3600)
    auth.setup_admin("admin", "admin password 1")
    auth.clock = clock
    return auth


def _rejections(auth: Auth) -> list[str]:
    return [e["details"]["reason"] for e in auth.audit.entries()
            if e["action"] == "session_rejected"]


def test_resume_a_live_login(auth):
    token = auth.login("admin", "admin password 1").token
    cookie = auth.session_cookie(token)
    assert auth.resume(cookie) == token
    assert _rejections(auth) == []
    # the key survives a restart of the app (a new Auth on the same folder) ...
    again = Auth(auth.dir, clock=auth.clock)
    # ... but login sessions do not: the cookie is then refused as expired, not as forged
    assert again.resume(cookie) is None
    assert _rejections(again) == ["expired"]


def test_logout_idle_and_max_age_revoke_the_cookie(auth):
    token = auth.login("admin", "admin password 1").token
    cookie = auth.session_cookie(token)
    auth.logout(token)
    assert auth.resume(cookie) is None
    token = auth.login("admin", "admin password 1").token
    cookie = auth.session_cookie(token)
    auth.clock.t += timedelta(seconds=601)  # idle longer than the idle timeout
    assert auth.resume(cookie) is None
    assert _rejections(auth) == ["expired", "expired"]


def test_cookie_expires_with_the_login_max_age(auth):
    token = auth.login("admin", "admin password 1").token
    cookie = auth.session_cookie(token)
    expires = int(cookie.split(".")[1])
    assert expires == int(auth.clock.t.timestamp()) + 3600


def test_forged_cookie_is_refused_and_audited(auth):
    token = auth.login("admin", "admin password 1").token
    value = auth.session_cookie(token)
    t, e, mac = value.split(".")
    assert auth.resume(f"{t}.{int(e) + 86400}.{mac}") is None
    assert auth.resume(ck.sign(token, int(e), b"guessed key" * 4)) is None
    assert _rejections(auth) == ["forged", "forged"]
    assert auth.audit.verify() == []
