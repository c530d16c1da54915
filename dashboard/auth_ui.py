"""Login, first-run admin creation, logout and the server-side permission checks of the app.

Every page calls :func:`require` before it renders anything, the data loaders check the subject
again (:mod:`dashboard.loaders`), and every download is built by :func:`download_button`, which
registers the file's data function only after a permission check and writes an audit entry
when the file is actually produced (on click, on the server). Hiding a button is never the
check. All decisions are made by :class:`fer_core.auth.Auth`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.plaintext import plain, say
from fer_core.auth import Auth, Perm, Principal, auth_dir
from fer_core.auth.cookies import COOKIE_NAME

log = logging.getLogger(__name__)

TOKEN_KEY = "auth.token"
LAST_VIEW_KEY = "auth.last_view"
NOTICE_KEY = "auth.notice"
#: the login cookie value this browser session already tried (tried once, audited once)
COOKIE_SEEN_KEY = "auth.cookie_seen"
#: a cookie to write (value) or delete ("") with the next page run
COOKIE_WRITE_KEY = "auth.cookie_write"

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


def denial_reason(who: Principal, perm: Perm, subject: str | None = None) -> str:
    """Why ``who`` may not ``perm`` (on ``subject``): the role, or the subject assignment."""
    if not get_auth().can(who, perm):
        return f"role {who.role} lacks {perm.value}"
    return f"subject {subject} not assigned to {who.username}"


def deny(who: Principal, target: str, reason: str, message: str, *,
         permission: str = "") -> None:
    """Audit a refused access (user, target, reason) and tell the user why, as plain text."""
    get_auth().audit.write(who.username, "denied", target, reason=reason,
                           **({"permission": permission} if permission else {}))
    st.error(message, icon=":material/block:")


def require(perm: Perm, subject: str | None = None) -> Principal:
    """Stop the page unless the logged-in user may ``perm`` (on ``subject``)."""
    who = current()
    if who is None:
        st.warning("Your login has expired. Please log in again.")
        st.stop()
    if not may(perm, subject):
        reason = denial_reason(who, perm, subject)
        if subject and reason.startswith("subject"):
            why = (f"subject {plain(subject)} is not assigned to you. Ask an admin to assign "
                   "it to your account.")
        else:
            why = f"this needs the {perm.value} permission, which your role does not have."
        deny(who, f"subject={subject}" if subject else f"permission={perm.value}", reason,
             f"Your account ({who.role}) is not allowed to {perm.value}"
             + (f" for subject {plain(subject)}" if subject else "") + f": {why}",
             permission=perm.value)
        st.stop()
    return who


def page_refused(title: str, perm: Perm) -> Callable[[], None]:
    """A stand-in for a page the account may not open, registered under that page's URL.

    Opening ``/admin`` as a viewer then says why and is audited, instead of Streamlit's
    "Page not found" (and the page's own script never runs).
    """
    def page() -> None:
        who = current()
        if who is None:  # the login expired between the gate and here
            st.warning("Your login has expired. Please log in again.")
            st.stop()
        deny(who, f"page={title}", denial_reason(who, perm),
             f"The {title} page is not open to your account ({who.role}): it needs the "
             f"{perm.value} permission, which your role does not have. Ask an admin if you "
             "need it.", permission=perm.value)

    page.__name__ = page.__qualname__ = "refused_" + "".join(c if c.isalnum() else "_"
                                                             for c in title.lower())
    return page


def refuse_subject(who: Principal, subject: str, session: str | None = None) -> None:
    """A subject (and session) asked for by URL that this account may not see: audit, tell."""
    target = f"subject={subject}" + (f" session={session}" if session else "")
    deny(who, target, f"subject {subject} not assigned to {who.username}",
         f"Subject {plain(subject)} is not open to your account ({who.role}): it is not "
         "assigned to you, or it does not exist. Ask an admin to assign it to you. Showing "
         "your own subjects instead.", permission=Perm.VIEW.value)


def log_view(page: str, subject: str | None = None, session: str | None = None) -> None:
    """Audit what is on screen, once per change of page/subject/session (not per widget rerun)."""
    target = " ".join(x for x in (f"subject={subject}" if subject else "",
                                  f"session={session}" if session else "") if x) or page
    if st.session_state.get(LAST_VIEW_KEY) != (page, target):
        st.session_state[LAST_VIEW_KEY] = (page, target)
        audit("view", target, page=page)


def may_download() -> bool:
    """Whether this account may take any file out at all (viewers may not)."""
    return may(Perm.DOWNLOAD)


def download_button(container, label: str, data: Callable[[], Any], *, file_name: str,
                    mime: str, key: str, subjects: Iterable[str | None] = (),
                    session: str | None = None, whole_store: bool = False,
                    action: str = "download", icon: str | None = None) -> bool:
    """A download whose data function exists only if permitted; audited when produced.

    ``subjects``: every subject whose data is in the file (at least one unless
    ``whole_store``: a file must say whose data it holds, so its audit entry names them).
    ``session``: the one session it holds, if so. ``whole_store``: the file holds every subject
    (only users who see all subjects may have it). Returns whether it is shown.
    """
    who = current()
    subjects = list(dict.fromkeys(s for s in subjects if s))
    if not subjects and not whole_store:
        raise ValueError(f"download {file_name!r} names no subject: its audit entry would be "
                         "empty")
    if who is None or not may(Perm.DOWNLOAD) or (whole_store and not who.sees_all_subjects):
        return False
    if not all(may(Perm.DOWNLOAD, s) for s in subjects):
        return False
    auth, user = get_auth(), who.username
    target = " ".join(f"subject={s}" for s in subjects) or "all subjects"
    if session:
        target += f" session={session}"

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
    st.session_state[COOKIE_SEEN_KEY] = _initial_cookie()  # replaced below, never retried
    st.session_state[TOKEN_KEY] = token
    st.session_state[COOKIE_WRITE_KEY] = get_auth().session_cookie(token)
    st.rerun()


# ---------------------------------------------------------------------- the login cookie
def _cookie_script(value: str, max_age_s: int) -> str:
    """JavaScript that writes (or, with an empty value, deletes) the login cookie.

    Streamlit 1.67 can read cookies (``st.context.cookies``) but a script cannot set one on the
    HTTP response, so the browser sets it: not HttpOnly (see docs/security.md for the
    trade-off), but SameSite=Strict, Secure on https, path /, and expiring.
    """
    age = max_age_s if value else 0
    return ("<script>(function(){var c=" + json.dumps(f"{COOKIE_NAME}={value}")
            + f"+'; Path=/; Max-Age={age}; SameSite=Strict'"
            + "+(location.protocol==='https:'?'; Secure':'');document.cookie=c;})();</script>")


def _write_cookie() -> None:
    """Apply a pending cookie write/delete (one hidden element, its script runs once)."""
    value = st.session_state.pop(COOKIE_WRITE_KEY, None)
    if value is not None:
        st.html(_cookie_script(value, int(get_auth().sessions.max_age_s)),
                unsafe_allow_javascript=True)


def _initial_cookie() -> str | None:
    """The login cookie the browser sent when this Streamlit session opened (fixed after)."""
    try:
        return st.context.cookies.get(COOKIE_NAME)
    except Exception:  # no browser context (bare script run, AppTest)
        return None


def _resume_from_cookie() -> str | None:
    """A login this browser already had (after a reload or in a new tab), or None.

    Each cookie value is tried once per browser session, so a refused one is audited once
    and a logged-out one is not tried again.
    """
    value = _initial_cookie()
    if not value or st.session_state.get(COOKIE_SEEN_KEY) == value:
        return None
    st.session_state[COOKIE_SEEN_KEY] = value
    token = get_auth().resume(value)
    if token is None:
        st.session_state[NOTICE_KEY] = "Your session expired; please log in again."
        st.session_state[COOKIE_WRITE_KEY] = ""  # delete the useless cookie
    return token


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
            say(st, "error", exc)
            return
        except OSError as exc:
            _storage_error(exc)
            return
        _finish_login(token)


def _storage_error(exc: OSError) -> None:
    """A login that cannot be recorded (full disk, read-only folder): refused, said plainly.

    Nobody is logged in without the throttle and the audit log being written.
    """
    log.error("login could not be recorded: %s", exc)
    st.error("Logging in is not possible right now: the server could not record the login "
             f"({plain(exc.strerror or type(exc).__name__)}). The disk may be full or the "
             "account folder read-only; ask the person who runs this computer to free space. "
             "Nothing was changed.", icon=":material/storage:")


def _login_form(auth: Auth) -> None:
    st.title("Log in")
    if st.session_state.get(NOTICE_KEY):
        say(st, "info", st.session_state[NOTICE_KEY])
    with st.form("auth.login"):
        username = st.text_input("Username", key="auth.user")
        password = st.text_input("Password", type="password", key="auth.password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        try:
            result = auth.login(username, password)
        except OSError as exc:  # e.g. a full disk: the throttle and audit files cannot grow
            _storage_error(exc)
            return
        if result.token:
            _finish_login(result.token)
        say(st, "error", result.error)
    if _oidc_configured():
        user = getattr(st, "user", None)
        if user is not None and user.get("is_logged_in"):
            try:
                result = auth.login_external(str(user.get("email") or "").lower(), "oidc")
            except OSError as exc:
                _storage_error(exc)
                return
            if result.token:
                _finish_login(result.token)
            say(st, "error", result.error)
            st.button("Log out of single sign-on", on_click=st.logout)
        else:
            st.button("Log in with single sign-on", on_click=st.login, key="auth.oidc")


def gate(url_paths: Iterable[str] = ()) -> Principal:
    """The logged-in user; otherwise show the login (or first-run) form and stop the script.

    A reload keeps the login: the browser's signed login cookie is exchanged for the
    server-side session it names (:meth:`fer_core.auth.Auth.resume`). ``url_paths``: the app's
    page paths; logged out, each of them shows the login form, so a reload or a bookmark of
    ``/session`` logs in *there* instead of "Page not found".
    """
    who = current()
    if who is not None:
        _write_cookie()
        return who
    if st.session_state.get(TOKEN_KEY):  # had a login that is no longer valid
        st.session_state.clear()
        st.session_state[COOKIE_SEEN_KEY] = _initial_cookie()
        st.session_state[COOKIE_WRITE_KEY] = ""
        st.session_state[NOTICE_KEY] = "Your session expired; please log in again."
        purge_downloads()
    token = _resume_from_cookie()
    if token is not None:
        st.session_state[TOKEN_KEY] = token
        who = current()
        if who is not None:
            return who
    # Only the login form runs, whatever URL was asked for (without this navigation Streamlit
    # would fall back to the pages/ folder beside app.py).
    pages = [st.Page(_login_page, title="Log in", url_path="login", default=True)]
    pages += [st.Page(_login_page_for(path), title="Log in", url_path=path)
              for path in dict.fromkeys(url_paths) if path and path != "login"]
    st.navigation(pages, position="hidden").run()
    st.stop()
    raise AssertionError("unreachable")  # st.stop raises


def _login_page_for(path: str) -> Callable[[], None]:
    """The login form under another page's URL (each st.Page needs its own function)."""
    def page() -> None:
        _login_page()

    page.__name__ = page.__qualname__ = f"login_{path}"
    return page


def _login_page() -> None:
    _write_cookie()  # e.g. delete the cookie after a logout
    auth = get_auth()
    if auth.needs_setup():
        _setup_form(auth)
    else:
        _login_form(auth)


def _logout() -> None:
    get_auth().logout(st.session_state.get(TOKEN_KEY))  # revoked on the server first
    st.session_state.clear()
    st.session_state[COOKIE_SEEN_KEY] = _initial_cookie()  # this session's cookie is dead
    st.session_state[COOKIE_WRITE_KEY] = ""  # and the browser forgets it
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
