"""Browser test of the whole protected flow: login -> record -> review -> logout.

A real `streamlit run` server with login required, Debian chromium with a fake webcam playing a
real FER2013 face (Y4M written here), a psychologist account created through fer_core.auth.
Checked afterwards on disk: the session's consent record names who obtained it, the new subject
was assigned to the psychologist, and the audit log holds the login, the views, the download
and the logout, with its hash chain intact.
"""

from __future__ import annotations

import cv2
import pytest
from playwright.sync_api import sync_playwright

from fer_core.auth import Auth
from fer_core.config import PROJECT_ROOT
from fer_core.logstore import LogStore
from fer_core.video_fixture import blank_frame, compose_face_frame, face_paths, write_y4m
from tests.e2e.conftest import (
    ARTIFACTS,
    CHROMIUM,
    E2E_PASSWORD,
    fake_camera_args,
    login,
    make_auth_dir,
    rerun_after,
    wait_for_streamlit,
    wait_until,
)

pytestmark = pytest.mark.e2e

USER = "dr-e2e"
SUBJECT = "e2e-login-subject"
IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'
MIN_ROWS = 20  # logged frames wanted before STOP
MAX_RECORD_S = 60.0


@pytest.fixture(scope="module")
def camera(tmp_path_factory, model_path):
    face = cv2.imread(str(face_paths(PROJECT_ROOT / "tests/fixtures/fer2013/test/happy")[0]),
                      cv2.IMREAD_GRAYSCALE)
    frames = [compose_face_frame(face)] * 30 + [blank_frame()] * 15
    return write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m", frames, fps=15)


def _fill(page, label: str, text: str) -> None:
    box = page.get_by_label(label)
    box.fill(text)
    rerun_after(page, lambda: box.press("Enter"))


def _wait_for_rows(page, log_root) -> None:
    def enough() -> bool:
        try:
            return len(LogStore(log_root).read(subject=SUBJECT)) >= MIN_ROWS
        except FileNotFoundError:  # nothing written yet
            return False

    wait_until(enough, MAX_RECORD_S, interval_s=0.5, tick=lambda s: page.wait_for_timeout(1000 * s))


def test_login_record_review_logout(start_app, tmp_path, camera):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt install chromium)")
    auth_dir = make_auth_dir(tmp_path / "auth", **{USER: "psychologist"})
    log_root = tmp_path / "logs"
    app = start_app(log_root, auth_dir=auth_dir, FER_MEDIA_DIR=str(tmp_path / "media"))
    ARTIFACTS.mkdir(exist_ok=True)
    args = fake_camera_args(camera)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1300},
                                          accept_downloads=True)
            page = context.new_page()
            page.goto(app.url)
            wait_for_streamlit(page)
            # logged out: only the login form, no page links
            assert page.get_by_role("heading", name="Log in").count() == 1
            assert page.get_by_role("link", name="Record").count() == 0
            page.get_by_label("Username").fill(USER)
            page.get_by_label("Password", exact=True).fill("not my password")
            page.get_by_role("button", name="Log in", exact=True).click()
            page.get_by_text("Wrong username or password.").wait_for(timeout=30_000)

            login(page, USER, E2E_PASSWORD)
            assert page.get_by_role("link", name="Admin").count() == 0  # not for this role
            page.screenshot(path=str(ARTIFACTS / "login_overview.png"), full_page=True)

            # record
            page.get_by_role("link", name="Record").click()
            wait_for_streamlit(page)
            assert page.locator(IFRAME).count() == 0  # no consent yet: no camera
            _fill(page, "New subject id", SUBJECT)
            page.get_by_text("Consent.").click()
            iframe = page.frame_locator(IFRAME)
            iframe.get_by_role("button", name="Start").click(timeout=60_000)
            page.get_by_text("REC").first.wait_for(timeout=60_000)
            _wait_for_rows(page, log_root)
            iframe.get_by_role("button", name="Stop").click()
            page.get_by_text("saved:").wait_for(timeout=60_000)

            # review
            page.get_by_role("button", name="Open the session summary").click()
            page.get_by_role("heading", name=f"Session — {SUBJECT}").wait_for(timeout=60_000)
            wait_for_streamlit(page)
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)
            with page.expect_download(timeout=60_000) as info:
                page.get_by_role("button", name="This session's raw logs (CSV)").click()
            csv_text = (info.value.path().read_text())
            assert csv_text.splitlines()[0].startswith("subject,") or "timestamp" in csv_text
            assert SUBJECT in csv_text
            page.screenshot(path=str(ARTIFACTS / "login_review.png"), full_page=True)

            # logout: back to the login form, and a reload does not log in again
            page.get_by_role("button", name="Log out").click()
            page.get_by_role("heading", name="Log in").wait_for(timeout=30_000)
            page.reload()
            wait_for_streamlit(page)
            assert page.get_by_role("heading", name="Log in").count() == 1
            assert page.locator(".js-plotly-plot").count() == 0
            context.close()
        finally:
            browser.close()

    store = LogStore(log_root)
    sessions = store.list_sessions(subject=SUBJECT)
    assert len(sessions) == 1, app.log_text()[-3000:]
    session = sessions.iloc[0]["session"]
    meta = store.session_meta(SUBJECT, session)
    assert meta.operator == USER
    assert meta.consent["given"] is True and meta.consent["obtained_by"] == USER
    assert meta.consent["subject"] == SUBJECT and meta.consent["text"] and meta.consent["at"]
    assert meta.consent["text_version"]

    auth = Auth(auth_dir)
    assert SUBJECT in auth.assignments.subjects_of(USER)
    mine = auth.audit.read(user=USER)
    actions = [e["action"] for e in mine]
    for expected in ["login_failed", "login", "assign", "record_start", "record_stop", "view",
                     "export", "logout"]:
        assert expected in actions, (expected, actions)
    assert actions.index("login_failed") < actions.index("login") < actions.index("logout")
    views = [e["target"] for e in mine if e["action"] == "view"]
    assert f"subject={SUBJECT} session={session}" in views
    export = next(e for e in mine if e["action"] == "export")
    assert export["target"] == f"subject={SUBJECT} session={session}"
    starts = [e["target"] for e in mine if e["action"] in ("record_start", "record_stop")]
    assert starts == [f"subject={SUBJECT} session={session}"] * 2
    assert export["details"]["file"] == f"fer-logs_{SUBJECT}_{session}.csv"
    assert auth.audit.verify() == []
