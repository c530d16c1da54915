"""Streamlit entry point: page list, sidebar (log store, subject and session pickers), state.

Run with ``streamlit run dashboard/app.py`` (``make app``). To add a page, add one ``st.Page`` line
to :data:`PAGES` (and its permission to :data:`PAGE_PERMISSION` if it is not ``view``); pages
read the shared picks from ``st.session_state`` (keys in dashboard.ui). Nothing but the login
form runs until someone is logged in (dashboard.auth_ui); each page checks its permission again.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` only puts dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import auth_ui, loaders, ui  # noqa: E402
from dashboard.plaintext import say  # noqa: E402
from fer_core.auth import Perm  # noqa: E402

st.set_page_config(page_title="FER monitor", page_icon=":material/mood:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/groups:", default=True),
    st.Page("pages/history.py", title="Subject history", icon=":material/timeline:"),
    st.Page("pages/session.py", title="Session summary", icon=":material/movie:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/glossary.py", title="Glossary", icon=":material/menu_book:"),
    st.Page("pages/record.py", title="Record", icon=":material/videocam:"),
    st.Page("pages/admin.py", title="Admin", icon=":material/admin_panel_settings:"),
]
#: Permission a page needs to be listed (default: view). Each page also checks it itself.
PAGE_PERMISSION = {"Record": Perm.RECORD, "Admin": Perm.MANAGE_ACCOUNTS}


def _copy(source: str, target: str) -> None:
    st.session_state[target] = st.session_state[source]


#: Pages that review one session and therefore show the session picker.
SESSION_PAGES = {"Session summary"}


def _restore_from_url(options: list[str]) -> None:
    """A fresh browser session (a reload, a bookmark) takes its picks from the URL.

    The picks live in ``st.session_state``, which a reload empties; the sidebar mirrors them
    into the query string (``?subject=...&session=...``), and they are validated like any
    other pick: only subjects this account may see (``options``) are taken. Any other subject
    is refused out loud and audited as ``denied`` (a viewer who opens a link to an unassigned
    subject learns why it is not shown, and the attempt is on record).
    """
    if ui.SUBJECT_KEY in st.session_state:
        return
    subject, session = st.query_params.get("subject"), st.query_params.get("session")
    if subject and subject not in options:
        who = auth_ui.current()
        if who is not None and not who.sees_all_subjects:
            auth_ui.refuse_subject(who, subject, session)
        else:
            say(st, "info", f"There is no subject {subject} in the log store.")
        return
    if subject:
        st.session_state[ui.PENDING_SUBJECT_KEY] = subject
    if session:
        st.session_state[ui.SESSION_KEY] = session


def sidebar(page) -> None:
    """Log store location (not for viewers: a server path is none of their business) and the
    subject/session picks every review page shares."""
    if auth_ui.may(Perm.IMPORT):
        st.sidebar.caption(f"Log store: `{loaders.root()}`")
    subjects = loaders.subjects()
    if subjects.empty:
        st.sidebar.caption("No subjects yet.")
        return
    options = subjects.sort_values("subject")["subject"].tolist()
    _restore_from_url(options)
    pending = st.session_state.pop(ui.PENDING_SUBJECT_KEY, None)
    if pending in options:
        st.session_state[ui.SUBJECT_KEY] = pending
    if st.session_state.get(ui.SUBJECT_KEY) not in options:
        st.session_state[ui.SUBJECT_KEY] = options[0]
    # Widgets get their own keys and copy into the shared keys: Streamlit may drop a widget's
    # state on page switches, plain keys survive.
    st.session_state["sidebar.subject"] = st.session_state[ui.SUBJECT_KEY]
    subject = st.sidebar.selectbox("Subject", options, key="sidebar.subject",
                                   format_func=ui.subject_label(subjects),
                                   on_change=_copy, args=("sidebar.subject", ui.SUBJECT_KEY))
    sessions = loaders.sessions(subject)
    session_ids = sessions["session"].tolist()
    if st.session_state.get(ui.SESSION_KEY) not in session_ids:
        st.session_state[ui.SESSION_KEY] = session_ids[0] if session_ids else None
    if page.title not in SESSION_PAGES:
        st.query_params.update(subject=subject)
        st.query_params.pop("session", None)
        st.sidebar.caption(f"Times shown in {ui.display_tz()}.")
        return
    sessions = loaders.sessions_recorded(subject)  # durations as the session page shows them
    st.session_state["sidebar.session"] = st.session_state[ui.SESSION_KEY]
    session = st.sidebar.selectbox("Session", session_ids, key="sidebar.session",
                                   format_func=ui.session_label(sessions),
                                   on_change=_copy, args=("sidebar.session", ui.SESSION_KEY))
    st.query_params.update(subject=subject, **({"session": session} if session else {}))
    st.sidebar.caption(f"Times shown in {ui.display_tz()}.")


#: every page's URL path; the default page is served at "/", but a bookmark or a typed
#: "/overview" (its file name) must show the login form too, not "Page not found"
URL_PATHS = ["overview", *(p.url_path for p in PAGES)]
auth_ui.gate(URL_PATHS)  # login / first-run form until someone logs in


def _navigation_pages() -> list:
    """The pages this account may open, and for each other page a hidden stand-in at its URL
    that says why it is closed (and audits it) instead of "Page not found"."""
    pages = []
    for p in PAGES:
        perm = PAGE_PERMISSION.get(p.title, Perm.VIEW)
        pages.append(p if auth_ui.may(perm) else st.Page(
            auth_ui.page_refused(p.title, perm), title=p.title, url_path=p.url_path,
            visibility="hidden"))
    return pages


page = st.navigation(_navigation_pages())
auth_ui.account_box()
sidebar(page)
page.run()
