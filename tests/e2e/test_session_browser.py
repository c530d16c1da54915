"""A reload keeps the login (and the page, subject and session); viewers get no download control.

A real `streamlit run` server on a small store of real Parquet sessions, Debian chromium, a
psychologist and a viewer account created through fer_core.auth.
"""

from __future__ import annotations

import re

import pytest

from fer_core.auth import Auth, Principal, Role
from fer_core.auth.cookies import COOKIE_NAME
from tests.dashboard_fixtures import session_a_rows, session_b_rows, write_session
from tests.e2e.conftest import (
    ARTIFACTS,
    E2E_ADMIN,
    E2E_PASSWORD,
    login,
    make_auth_dir,
    url_when,
    wait_for_streamlit,
)

pytestmark = pytest.mark.e2e

NAV = '[data-testid="stSidebarNavLink"]'
REVIEW_PAGES = ["Overview", "Subject history", "Session summary", "Compare"]


@pytest.fixture(scope="module")
def app(start_app, tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    write_session(root, "p01", "s-a", session_a_rows(), source="video")
    write_session(root, "p01", "s-b", session_b_rows(), source="video")
    auth_dir = make_auth_dir(tmp_path_factory.mktemp("auth"), psy="psychologist",
                             view="viewer")
    auth = Auth(auth_dir)
    admin = Principal(E2E_ADMIN, Role.ADMIN)
    for user in ("psy", "view"):
        auth.set_assignment(admin, "p01", user, True)
    return start_app(root, auth_dir=auth_dir)


def _open(page, name: str) -> None:
    page.locator(NAV, has_text=name).first.click()
    wait_for_streamlit(page)


def _caption_session(page) -> str:
    """The session id the Session summary shows under its title ("... · session s-b")."""
    text = page.locator('[data-testid="stMain"]').inner_text()
    return re.search(r"· session (\S+)", text).group(1)


def test_reload_keeps_login_page_and_picks(app, page):
    page.goto(app.url)
    login(page, "psy", E2E_PASSWORD)
    _open(page, "Session summary")
    page.get_by_role("heading", name="Session — p01").wait_for(timeout=60_000)
    newest = _caption_session(page)
    url = url_when(page, lambda u: "session=s-b" in u)
    assert newest == "s-b" and "session=s-b" in url and "/session" in url, url
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE_NAME)
    assert cookie["sameSite"] == "Strict" and cookie["expires"] > 0

    page.reload()
    wait_for_streamlit(page)
    page.get_by_role("heading", name="Session — p01").wait_for(timeout=60_000)
    assert page.get_by_text("Logged in as").count() == 1
    assert _caption_session(page) == "s-b"
    # a bookmark / reload of another session comes back to that session
    page.goto(f"{app.url}/session?subject=p01&session=s-a")
    wait_for_streamlit(page)
    page.get_by_role("heading", name="Session — p01").wait_for(timeout=60_000)
    assert _caption_session(page) == "s-a"
    page.screenshot(path=str(ARTIFACTS / "reload_session.png"), full_page=True)

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("heading", name="Log in").wait_for(timeout=30_000)
    page.wait_for_function(f"() => !document.cookie.includes('{COOKIE_NAME}=')",
                           timeout=30_000)  # logout deletes the cookie in the browser too
    page.reload()
    wait_for_streamlit(page)
    assert page.get_by_role("heading", name="Log in").count() == 1
    assert page.get_by_text("Logged in as").count() == 0
    assert page.get_by_text("Page not found").count() == 0
    # the old cookie, replayed by hand, is dead on the server: login page + audit entry
    page.context.add_cookies([{**cookie, "expires": -1}])
    page.reload()
    wait_for_streamlit(page)
    assert page.get_by_role("heading", name="Log in").count() == 1
    # a forged cookie: the same
    token, expires, mac = cookie["value"].split(".")
    forged = {**cookie, "value": f"{token}.{int(expires) + 86400}.{mac}", "expires": -1}
    page.context.add_cookies([forged])
    page.reload()
    wait_for_streamlit(page)
    assert page.get_by_role("heading", name="Log in").count() == 1
    reasons = [e["details"]["reason"] for e in Auth(app.auth_dir).audit.entries()
               if e["action"] == "session_rejected"]
    assert reasons == ["expired", "forged"], reasons
    # logging in from the reloaded /session URL lands on the session page, not Overview
    login(page, "psy", E2E_PASSWORD)
    page.get_by_role("heading", name="Session — p01").wait_for(timeout=60_000)


def _download_controls(page) -> dict[str, int]:
    """Every way the page offers to take data out, after hovering each chart and table."""
    for chart in page.locator(".js-plotly-plot").all():
        chart.hover()
    toolbar_labels: list[str] = []
    for table in page.locator('[data-testid="stDataFrame"]').all():
        table.hover()
        # the toolbar shows on hover: wait for it rather than for a fixed time
        page.locator('[data-testid="stElementToolbarButton"]').first.wait_for(
            state="visible", timeout=10_000)
        toolbar_labels += [b.get_attribute("aria-label") or b.inner_text() for b in
                           page.locator('[data-testid="stElementToolbarButton"] button').all()]
    return {
        "download buttons": page.locator('[data-testid="stDownloadButton"]').count(),
        "plotly png": page.locator('.modebar-btn[data-title*="Download"]').count(),
        "plotly modebar buttons": page.locator(".modebar-btn").count(),
        "table csv": sum("download" in label.lower() for label in toolbar_labels),
        "table toolbar buttons": len(toolbar_labels),
        "downloads heading": page.get_by_role("heading", name="Downloads").count(),
    }


def test_viewer_finds_no_download_control(app, page):
    page.goto(app.url)
    login(page, "view", E2E_PASSWORD)
    seen: dict[str, dict[str, int]] = {}
    for name in REVIEW_PAGES:
        _open(page, name)
        seen[name] = _download_controls(page)
        page.screenshot(path=str(ARTIFACTS / f"viewer_{name.replace(' ', '_')}.png"),
                        full_page=True)
    for name, found in seen.items():
        assert found["download buttons"] == 0, (name, found)
        assert found["plotly png"] == 0, (name, found)
        assert found["table csv"] == 0, (name, found)
        assert found["downloads heading"] == 0, (name, found)
    # the probes do see what is there: charts with a modebar, tables with a toolbar
    assert all(found["plotly modebar buttons"] > 0 for found in seen.values()), seen
    assert seen["Overview"]["table toolbar buttons"] > 0, seen


def test_psychologist_gets_the_audited_downloads_only(app, page):
    page.goto(app.url)
    login(page, "psy", E2E_PASSWORD)
    _open(page, "Session summary")
    found = _download_controls(page)
    assert found["download buttons"] > 0 and found["downloads heading"] == 1, found
    assert found["plotly png"] == 0 and found["table csv"] == 0, found
