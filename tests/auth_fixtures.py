"""Log AppTest sessions in as a real account: the same Auth object the app script uses.

``use_auth_dir(monkeypatch, path)`` points the app at an auth folder (creating the admin on
first use); ``log_in(at, username)`` performs a real password login through fer_core.auth and
puts the resulting server-side token where the login form would (``st.session_state``).
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard import auth_ui
from fer_core.auth import Auth, Principal, Role

PW = "test password 123"
ADMIN = Principal("admin", Role.ADMIN)


def use_auth_dir(monkeypatch, directory: Path) -> Auth:
    monkeypatch.setenv("FER_AUTH_DIR", str(directory))
    auth = auth_ui.get_auth()
    if auth.needs_setup():
        auth.setup_admin("admin", PW)
    return auth


def add_account(auth: Auth, username: str, role: Role, subjects: tuple[str, ...] = ()) -> None:
    if auth.accounts.get(username) is None:
        auth.create_account(ADMIN, username, PW, role)
    for subject in subjects:
        auth.set_assignment(ADMIN, subject, username, True)


def log_in(at: AppTest, username: str = "admin", password: str = PW) -> AppTest:
    result = auth_ui.get_auth().login(username, password)
    assert result.token, result.error
    at.session_state[auth_ui.TOKEN_KEY] = result.token
    return at


def page_opener(monkeypatch, store_root: Path, auth_dir: Path, subject: str = "p01"):
    """``open(page, session=None) -> AppTest``: the app on ``store_root``, logged in as admin,
    ``subject`` (and ``session``) picked, switched to ``page``; fails on any exception."""
    monkeypatch.setenv("FER_LOG_ROOT", str(store_root))
    monkeypatch.setenv("FER_TIMEZONE", "UTC")
    use_auth_dir(monkeypatch, auth_dir)

    def make(page: str, session: str | None = None) -> AppTest:
        at = log_in(AppTest.from_file("../dashboard/app.py", default_timeout=60))
        at.session_state["shared.subject"] = subject
        if session:
            at.session_state["shared.session"] = session
        at.run()
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return make
