"""Who may open which page and download what: AppTest runs of the real app as each role.

Accounts (real argon2 logins through fer_core.auth): admin; ``psy`` (psychologist, assigned p01);
``view`` (viewer, assigned p01); ``psy2`` (psychologist, assigned only demo-x). The checks are
made on the server: pages are also run on their own (without app.py's navigation), session
state is forged, and disabled buttons are "clicked" the way a tampered client would.
"""

from __future__ import annotations

import re

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from dashboard import auth_ui
from fer_core.auth import Role
from fer_core.logstore import LogStore
from tests.auth_fixtures import PW, add_account, log_in, use_auth_dir
from tests.dashboard_fixtures import T0, session_a_rows, session_b_rows, write_session

APP = "../dashboard/app.py"
PAGE_DIR = "../dashboard/pages"
ALL_PAGES = {"overview", "history", "session", "compare", "glossary", "record", "admin"}
ALLOWED_PAGES = {
    "admin": ALL_PAGES,
    "psy": {"overview", "history", "session", "compare", "glossary", "record"},
    "view": {"overview", "history", "session", "compare", "glossary"},
}


@pytest.fixture
def env(tmp_path, monkeypatch):
    root = tmp_path / "logs"
    write_session(root, "p01", "s-a", session_a_rows(), source="video", notes="orig")
    write_session(root, "p01", "s-b", session_b_rows(), source="video")
    synth = [{**r, "source": "synthetic"} for r in session_b_rows(T0)]
    write_session(root, "demo-x", "syn-1", synth, source="synthetic", synthetic=True)
    monkeypatch.setenv("FER_LOG_ROOT", str(root))
    monkeypatch.setenv("FER_TIMEZONE", "UTC")
    monkeypatch.setenv("FER_MEDIA_DIR", str(tmp_path / "media"))
    auth = use_auth_dir(monkeypatch, tmp_path / "auth")
    add_account(auth, "psy", Role.PSYCHOLOGIST, ("p01",))
    add_account(auth, "view", Role.VIEWER, ("p01",))
    add_account(auth, "psy2", Role.PSYCHOLOGIST, ("demo-x",))
    return auth, root


def run_app(user: str | None, page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if user:
        log_in(at, user)
    for key, value in state.items():
        at.session_state[key.replace("__", ".")] = value
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def run_page(user: str, page: str, **state) -> AppTest:
    """The page script alone, as if navigation had been bypassed."""
    at = log_in(AppTest.from_file(f"{PAGE_DIR}/{page}.py", default_timeout=60), user)
    for key, value in state.items():
        at.session_state[key.replace("__", ".")] = value
    return at.run()


def listed_pages(at: AppTest) -> set[str]:
    """The pages st.navigation registered in the last run (from AppTest's own error)."""
    try:
        at.switch_page("charts.py")  # a file beside app.py that is no page
    except ValueError as exc:
        known = str(exc).split("Known pages:")[1]
        return set(re.findall(r"pages/(\w+)\.py", known))
    raise AssertionError("switch_page to a missing page did not fail")


def assert_logged_out(at: AppTest) -> None:
    """No data on screen: the login form, or (when Streamlit ran a page file directly, see
    docs/security.md) that page's own refusal."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.get("plotly_chart") and not at.dataframe and not downloads(at)
    shown = [t.value for t in at.title] + [w.value for w in at.warning]
    assert "Log in" in shown or any("log in again" in w for w in shown), shown


def downloads(at: AppTest) -> list[str]:
    return [b.label for b in at.get("download_button")]


# ---------------------------------------------------------------- logged out
@pytest.mark.parametrize("page", [None, "history", "session", "admin"])
def test_logged_out_sees_only_the_login_form(env, page):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.title[0].value == "Log in"
    assert not at.get("plotly_chart") and not at.dataframe and not downloads(at)
    if page:  # asking for a page (a URL) still runs only the login form
        with pytest.raises(ValueError):  # not even registered before login
            at.switch_page(f"pages/{page}.py")
        assert not at.get("plotly_chart") and not at.dataframe and not downloads(at)


@pytest.mark.parametrize("page", ["overview", "history", "session", "compare", "admin"])
def test_page_scripts_refuse_without_login(env, page):
    at = AppTest.from_file(f"{PAGE_DIR}/{page}.py", default_timeout=60)
    at.session_state["shared.subject"] = "p01"
    at.session_state["shared.session"] = "s-a"
    at.run()
    assert not at.get("plotly_chart") and not downloads(at)
    assert "expired" in at.warning[0].value


# ---------------------------------------------------------------- pages per role
@pytest.mark.parametrize("user", ["admin", "psy", "view"])
def test_each_role_is_listed_exactly_its_pages(env, user):
    at = run_app(user)
    assert listed_pages(at) == ALLOWED_PAGES[user]
    for page in ALLOWED_PAGES[user] - {"record"}:  # record needs a model: tested elsewhere
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception and not at.error, (user, page, [e.value for e in at.error])


@pytest.mark.parametrize(("user", "page"), [("psy", "admin"), ("view", "admin"),
                                            ("view", "record")])
def test_forbidden_page_scripts_refuse_on_the_server(env, user, page):
    auth, _ = env
    at = run_page(user, page)
    assert "not allowed" in at.error[0].value
    assert not at.tabs and not at.text_input and not at.dataframe
    denied = auth.audit.read(user=user, action="denied")
    assert denied and denied[-1]["details"]["permission"] in {"manage_accounts", "record"}


def test_psychologist_sees_only_assigned_subjects(env):
    at = run_app("psy")
    assert at.dataframe[0].value["subject"].tolist() == ["p01"]
    assert at.sidebar.selectbox[0].options == ["p01"]
    at2 = run_app("psy2")
    assert at2.dataframe[0].value["subject"].tolist() == ["demo-x (synthetic)"]


def test_unassigned_subject_is_refused_even_with_forged_state(env):
    auth, _ = env
    for page in ["history", "session"]:
        at = run_page("psy2", page, shared__subject="p01", shared__session="s-a")
        assert "not allowed to view for subject p01" in at.error[0].value
        assert not at.get("plotly_chart") and not downloads(at)
    assert auth.audit.read(user="psy2", action="denied", target_contains="p01")
    at = run_page("psy2", "compare", shared__subject="p01",
                  compare__mode="Two periods of one subject")
    assert "not allowed to view for subject p01" in at.error[0].value
    assert not at.get("plotly_chart") and not downloads(at)
    # a forged pick in the per-side subject box falls back to an allowed subject
    at = run_page("psy2", "compare", shared__subject="demo-x", compare__A__subject="p01")
    assert at.selectbox(key="compare.A.subject").value == "demo-x"
    assert "p01" not in " ".join(str(m.value) for m in at.markdown)


def test_account_with_no_subject_sees_a_clear_message(env):
    auth, _ = env
    add_account(auth, "newbie", Role.VIEWER)
    at = run_app("newbie")
    assert "No subject is assigned to your account" in at.info[0].value
    assert not at.get("plotly_chart")


# ---------------------------------------------------------------- downloads per role
@pytest.mark.parametrize(("user", "n_png", "report", "exports"), [
    ("admin", 7, True, 3), ("psy", 7, True, 3), ("view", 0, False, 0)])  # 5 + 2 quality
def test_session_page_downloads_per_role(env, user, n_png, report, exports):
    at = run_app(user, "session", shared__subject="p01", shared__session="s-a")
    labels = downloads(at)
    assert sum(label.startswith("PNG:") for label in labels) == n_png
    assert ("Printable session report (HTML)" in labels) is report
    assert sum("This session's raw logs" in label for label in labels) == exports


def test_whole_store_export_only_for_those_who_see_every_subject(env):
    assert sum("All raw logs" in d for d in downloads(run_app("admin"))) == 3
    psy = downloads(run_app("psy"))
    assert not any("All raw logs" in d for d in psy)
    assert any(d.startswith("PNG:") for d in psy)
    assert downloads(run_app("view")) == []


def test_viewer_cannot_annotate(env):
    auth, root = env
    at = run_app("view", "session", shared__subject="p01", shared__session="s-a")
    assert at.text_area(key="session.notes").disabled
    button = at.button(key="session.save_notes")
    assert button.disabled
    assert not [b for b in at.button if b.key in ("session.add_segment",
                                                   "session.delete_segment")]
    assert not auth.audit.read(user="view", action="annotate")
    assert LogStore(root).session_meta("p01", "s-a").notes == "orig"


def test_psychologist_annotation_is_saved_and_audited(env):
    auth, root = env
    at = run_app("psy", "session", shared__subject="p01", shared__session="s-a")
    at.text_area(key="session.notes").input("seen by psy")
    at.button(key="session.save_notes").click()
    at.run()
    assert LogStore(root).session_meta("p01", "s-a").notes == "seen by psy"
    assert auth.audit.read(user="psy", action="annotate", target_contains="session=s-a")
    at.number_input(key="session.segment_start").set_value(1.0)
    at.text_input(key="session.segment_label").input("task").run()
    at.button(key="session.add_segment").click().run()
    [segment] = LogStore(root).session_meta("p01", "s-a").segments
    entries = auth.audit.read(user="psy", action="annotate", target_contains="session=s-a")
    details = entries[-1]["details"]
    assert (details["field"], details["op"], details["segment"]) == (
        "segment", "add", segment.id)


# ---------------------------------------------------------------- audit of views and downloads
@pytest.fixture
def deferred(monkeypatch):
    """The data functions the page registered for its download buttons, by file name."""
    registered: dict[str, object] = {}
    original = MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        registered[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return registered


def test_views_and_downloads_are_audited(env, deferred):
    auth, _ = env
    at = run_app("psy", "session", shared__subject="p01", shared__session="s-a")
    views = auth.audit.read(user="psy", action="view")
    assert views[-1]["target"] == "subject=p01 session=s-a"
    assert views[-1]["details"]["page"] == "Session summary"
    n_views = len(views)
    at.slider(key="session.window_s").set_value(5.0).run()  # a widget rerun is not a new view
    assert len(auth.audit.read(user="psy", action="view")) == n_views
    assert not auth.audit.read(action="export")  # rendering a button downloads nothing

    csv = deferred["fer-logs_p01_s-a.csv"]()  # what the click runs on the server
    assert csv.startswith(b"subject,session,") or b"timestamp" in csv[:500]
    html = deferred["report_p01_s-a.html"]()
    assert "<html" in (html if isinstance(html, str) else html.decode()).lower()
    export = auth.audit.read(user="psy", action="export")
    assert export[-1]["target"] == "subject=p01 session=s-a" and \
        export[-1]["details"]["file"] == "fer-logs_p01_s-a.csv"
    report = auth.audit.read(user="psy", action="download")
    assert report[-1]["details"]["file"] == "report_p01_s-a.html"
    # every other file of the page too (chart PNGs): each audited with whose data it holds
    for name, produce in deferred.items():
        if name not in ("fer-logs_p01_s-a.csv", "report_p01_s-a.html"):
            assert produce()
    entries = (auth.audit.read(user="psy", action="download")
               + auth.audit.read(user="psy", action="export"))
    assert {e["details"]["file"] for e in entries} == set(deferred)
    # (the Overview, opened first, registered its own chart PNG: psy sees only p01 there)
    targets = {e["details"]["file"]: e["target"] for e in entries}
    assert targets.pop("sessions-over-time_p01.png") == "subject=p01"
    assert set(targets.values()) == {"subject=p01 session=s-a"}
    assert auth.audit.verify() == []


def test_no_download_function_is_registered_for_a_viewer(env, deferred):
    run_app("view", "session", shared__subject="p01", shared__session="s-a")
    run_app("view", "history", shared__subject="p01")
    assert deferred == {}


# ---------------------------------------------------------------- login form, expiry, logout
def _submit_login(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="auth.user").input(username)
    at.text_input(key="auth.password").input(password)
    at.button[0].click()
    return at.run()


def test_login_form_rejects_wrong_passwords_then_throttles(env):
    auth, _ = env
    at = AppTest.from_file(APP, default_timeout=60).run()
    for _ in range(5):  # the first 5 wrong passwords are free
        _submit_login(at, "psy", "not the password")
        assert at.error[0].value == "Wrong username or password."
    _submit_login(at, "psy", "not the password")
    assert "locked for 30 s" in at.error[0].value
    _submit_login(at, "psy", PW)
    assert "Too many wrong passwords" in at.error[0].value
    assert at.title[0].value == "Log in"
    assert len(auth.audit.read(user="psy", action="login_failed")) == 6
    assert auth.audit.read(user="psy", action="login_throttled")


def test_login_form_logs_in_and_logout_ends_the_session(env):
    auth, _ = env
    at = _submit_login(AppTest.from_file(APP, default_timeout=60).run(), "psy", PW)
    assert at.title[0].value == "Overview"
    token = at.session_state[auth_ui.TOKEN_KEY]
    assert auth.principal(token).username == "psy"
    at.sidebar.button(key="auth.logout").click()
    at.run()
    assert_logged_out(at)
    assert auth.principal(token) is None
    assert auth.audit.read(user="psy", action="logout")


def test_first_run_creates_the_admin(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_LOG_ROOT", str(tmp_path / "logs"))
    monkeypatch.setenv("FER_AUTH_DIR", str(tmp_path / "auth"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.title[0].value == "Create the administrator account"
    at.text_input(key="auth.setup_user").input("boss")
    at.text_input(key="auth.setup_pw").input("short")
    at.text_input(key="auth.setup_pw2").input("short")
    at.button[0].click()
    at.run()
    assert "at least 10" in at.error[0].value
    assert auth_ui.get_auth().needs_setup()
    at.text_input(key="auth.setup_pw").input("a long admin password")
    at.text_input(key="auth.setup_pw2").input("a long admin password")
    at.button[0].click()
    at.run()
    assert not at.exception
    assert "admin" in listed_pages(at)
    assert auth_ui.get_auth().accounts.get("boss").role is Role.ADMIN


def test_idle_session_expires_with_an_injected_clock(env):
    auth, _ = env
    at = run_app("psy")
    assert at.title[0].value == "Overview"
    start = auth.now()
    try:
        auth.set_clock(lambda: start + __import__("datetime").timedelta(minutes=31))
        at.run()
    finally:
        auth.set_clock(lambda: __import__("datetime").datetime.now(
            __import__("datetime").UTC))
    assert_logged_out(at)
    assert auth.principal(at.session_state[auth_ui.TOKEN_KEY]) is None \
        if auth_ui.TOKEN_KEY in at.session_state else True


# ---------------------------------------------------------------- erasure from the Admin page
def test_admin_erases_a_subject_with_confirmation(env):
    auth, root = env
    at = run_app("admin", "admin")
    at.selectbox(key="admin.erase_subject").select("p01").run()
    assert at.button(key="admin.erase").disabled  # not confirmed yet
    at.text_input(key="admin.erase_confirm").input("p0").run()
    assert at.button(key="admin.erase").disabled
    at.text_input(key="admin.erase_confirm").input("p01").run()
    at.button(key="admin.erase").click().run()
    assert not at.exception
    assert "Erased p01" in at.success[0].value
    store = LogStore(root)
    assert set(store.list_subjects()["subject"]) == {"demo-x"}
    assert store.read(subject="p01").empty
    assert not any("p01" in str(p) for p in root.rglob("*"))
    entry = auth.audit.read(action="delete")[-1]
    assert entry["user"] == "admin" and entry["target"] == "subject=p01"
    assert "p01" not in auth.assignments.subjects_of("psy")


def test_admin_erases_one_session(env):
    auth, root = env
    at = run_app("admin", "admin")
    at.selectbox(key="admin.erase_subject").select("p01").run()
    at.selectbox(key="admin.erase_scope").select("session s-a").run()
    at.text_input(key="admin.erase_confirm").input("s-a").run()
    at.button(key="admin.erase").click().run()
    assert set(LogStore(root).read(subject="p01")["session"]) == {"s-b"}
    assert auth.audit.read(action="delete")[-1]["target"] == "subject=p01 session=s-a"


def test_admin_creates_an_account_and_assigns_a_subject(env):
    auth, _ = env
    at = run_app("admin", "admin")
    at.text_input(key="admin.new_user").input("dr.lee")
    at.text_input(key="admin.new_pw").input("another long pw")
    at.selectbox(key="admin.new_role").select("psychologist")
    at.button[0].click()  # the form's submit button
    at.run()
    assert auth.accounts.get("dr.lee").role is Role.PSYCHOLOGIST
    at.selectbox(key="admin.assign_user").select("dr.lee").run()
    at.multiselect(key="admin.assign.dr.lee").select("p01").run()
    at.button(key="admin.assign_save").click().run()
    assert auth.assignments.subjects_of("dr.lee") == {"p01"}
    assert auth.audit.read(user="admin", action="assign", target_contains="p01")
