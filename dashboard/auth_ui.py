"""Login, first-run admin creation, logout and the server-side permission checks of the app.

Every page calls :func:`require` before it renders anything, the data loaders check the subject
again (:mod:`dashboard.loaders`), and every download is built by :func:`download_button`, which
registers the file's data function only after a permission check and writes an audit entry
when the file is actually produced (on click, on the server). Hiding a button is never the
check. All decisions are made by :class:`fer_core.auth.Auth`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import streamlit as st

from fer_core.auth import Auth, Perm, Principal, auth_dir

log = logging.getLogger(__name__)

TOKEN_KEY = "auth.token"
LAST_VIEW_KEY = "auth.last_view"
NOTICE_KEY = "auth.notice"

_instances: dict[str, Auth] = {}
_instances_lock = threading.Lock()


def get_auth() -> Auth:
    """The process-wide :class:`Auth` of the configured folder (login sessions live in it)."""
    directory = str(auth_dir())
    with _instances_lock:
        if directory not in _instances:
            _instances[directory] = Auth(directory)
        return _instances[directory]


def current() -> Principal | None:
    """Who is logged in in this browser session (None when logged out or expired)."""
    return get_auth().principal(st.session_state.get(TOKEN_KEY))


def may(perm: Perm, subject: str | None = None) -> bool:
    return get_auth().can(current(), perm, subject)


def allowed_subjects() -> set[str] | None:
    """Subjects the user may see (None: all)."""
    who = current()
    if who is None:
        return set()
    return get_auth().allowed_subjects(who)


def audit(action: str, target: str = "", **details: Any) -> None:
    who = current()
    get_auth().audit.write(who.username if who else "", action, target, **details)


def require(perm: Perm, subject: str | None = None) -> Principal:
    """Stop the page unless the logged-in user may ``perm`` (on ``subject``)."""
    who = current()
    if who is None:
        st.warning("Your login has expired. Please log in again.")
        st.stop()
    if not may(perm, subject):
        target = f"subject={subject}" if subject else ""
        get_auth().audit.write(who.username, "denied", target, permission=perm.value)
        what = f" for subject {subject}" if subject else ""
        st.error(f"Your account ({who.role}) is not allowed to {perm.value}{what}.",
                 icon=":material/block:")
        st.stop()
    return who


def log_view(page: str, subject: str | None = None, session: str | None = None) -> None:
    """Audit what is on screen, once per change of page/subject/session (not per widget rerun)."""
    target = " ".join(x for x in (f"subject={subject}" if subject else "",
                                  f"session={session}" if session else "") if x) or page
    if st.session_state.get(LAST_VIEW_KEY) != (page, target):
        st.session_state[LAST_VIEW_KEY] = (page, target)
        audit("view", target, page=page)


def download_button(container, label: str, data: Callable[[], Any], *, file_name: str,
                    mime: str, key: str, subjects: Iterable[str | None] = (),
                    whole_store: bool = False, action: str = "download",
                    icon: str | None = None) -> bool:
    """A download whose data function exists only if permitted; audited when produced.

    ``subjects``: every subject whose data is in the file. ``whole_store``: the file holds
    every subject (only users who see all subjects may have it). Returns whether it is shown.
    """
    who = current()
    subjects = [s for s in subjects if s]
    if who is None or not may(Perm.DOWNLOAD) or (whole_store and not who.sees_all_subjects):
        return False
    if not all(may(Perm.DOWNLOAD, s) for s in subjects):
        return False
    auth, user = get_auth(), who.username
    target = " ".join(f"subject={s}" for s in subjects) or ("all subjects" if whole_store
                                                            else "")

    def produce():
        payload = data()  # runs on the server when the button is clicked
        auth.audit.write(user, action, target, file=file_name)
        return payload

    container.download_button(label, data=produce, file_name=file_name, mime=mime, key=key,
                              on_click="ignore", icon=icon)
    return True


# ---------------------------------------------------------------------- login / logout
def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml: OIDC is simply not configured
        return False


def _finish_login(token: str) -> None:
    st.session_state.clear()  # nothing from before the login (or a previous user) survives
    st.session_state[TOKEN_KEY] = token
    st.rerun()


def _setup_form(auth: Auth) -> None:
    st.title("Create the administrator account")
    st.info("First start: no account exists yet. The account created here can manage accounts, "
            "read the audit log and erase data. There is no default password.",
            icon=":material/shield_person:")
    with st.form("auth.setup"):
        username = st.text_input("Admin username", key="auth.setup_user")
        password = st.text_input("Password", type="password", key="auth.setup_pw",
                                 help="At least 10 characters.")
        repeat = st.text_input("Repeat password", type="password", key="auth.setup_pw2")
        submitted = st.form_submit_button("Create admin account")
    if submitted:
        if password != repeat:
            st.error("The passwords differ.")
            return
        try:
            token = auth.setup_admin(username, password)
        except ValueError as exc:
            st.error(str(exc))
            return
        _finish_login(token)


def _login_form(auth: Auth) -> None:
    st.title("Log in")
    if st.session_state.get(NOTICE_KEY):
        st.info(st.session_state[NOTICE_KEY])
    with st.form("auth.login"):
        username = st.text_input("Username", key="auth.user")
        password = st.text_input("Password", type="password", key="auth.password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        result = auth.login(username, password)
        if result.token:
            _finish_login(result.token)
        st.error(result.error)
    if _oidc_configured():
        user = getattr(st, "user", None)
        if user is not None and user.get("is_logged_in"):
            result = auth.login_external(str(user.get("email") or "").lower(), "oidc")
            if result.token:
                _finish_login(result.token)
            st.error(result.error)
            st.button("Log out of single sign-on", on_click=st.logout)
        else:
            st.button("Log in with single sign-on", on_click=st.login, key="auth.oidc")


def gate() -> Principal:
    """The logged-in user; otherwise show the login (or first-run) form and stop the script."""
    who = current()
    if who is not None:
        return who
    if st.session_state.get(TOKEN_KEY):  # had a login that is no longer valid
        st.session_state.clear()
        st.session_state[NOTICE_KEY] = "Your session expired; please log in again."
        purge_downloads()
    # A navigation with only the login page: whatever URL was asked for, nothing else runs
    # (without it Streamlit would fall back to the pages/ folder beside app.py).
    st.navigation([st.Page(_login_page, title="Log in", url_path="login", default=True)],
                  position="hidden").run()
    st.stop()
    raise AssertionError("unreachable")  # st.stop raises


def _login_page() -> None:
    auth = get_auth()
    if auth.needs_setup():
        _setup_form(auth)
    else:
        _login_form(auth)


def _logout() -> None:
    get_auth().logout(st.session_state.get(TOKEN_KEY))
    st.session_state.clear()
    st.session_state[NOTICE_KEY] = "You are logged out."
    purge_downloads()


def purge_downloads() -> None:
    """Drop generated download files now, so their ``/media/...`` URLs stop working.

    Why: Streamlit keeps a file made by a download button in memory, served without any login
    to whoever has its URL, until two later script runs (of any session) have passed -- on a
    quiet server that is indefinitely, so a CSV stayed downloadable after logout. These files
    are referenced by no session by design (a repeated click makes a new one), so two
    orphan collections remove exactly them and what Streamlit itself would remove next; files
    still shown by an open session (images, charts) stay. Another user whose file was produced
    in the same millisecond and not yet fetched would have to click again.
    """
    from streamlit import runtime

    if runtime.exists():
        manager = runtime.get_instance().media_file_mgr
        manager.remove_orphaned_files()  # marks unreferenced downloads for deletion
        manager.remove_orphaned_files()  # deletes them


def account_box() -> None:
    who = current()
    if who is None:
        return
    st.sidebar.caption(f"Logged in as **{who.username}** ({who.role})")
    st.sidebar.button("Log out", key="auth.logout", on_click=_logout,
                      icon=":material/logout:")


# ---------------------------------------------------------------------- recording
def claim_subject(subject: str, store_root: str | Path) -> str | None:
    """May the user record ``subject``? A new subject is assigned to them. Returns why not."""
    who = current()
    if who is None:
        return "Not logged in."
    exists = (Path(store_root) / f"subject={subject}").is_dir()
    return get_auth().claim_subject(who, subject, exists)


def consent_by() -> dict[str, str]:
    """The fields the consent record gets from the login: who obtained it."""
    who = current()
    return {"obtained_by": who.username if who else ""}
