"""Issue 19 in a real browser: F5 keeps page settings (they live in the URL), a sessions-table
row opens its session, and a viewer sent to a closed page or subject before logging in is told
why after the login.

A real ``streamlit run`` server on real Parquet sessions, Debian chromium, a psychologist
(assigned p01) and a viewer (assigned p01 only) made through fer_core.auth.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from fer_core.auth import Auth, Principal, Role
from tests.dashboard_fixtures import T0, session_a_rows, session_b_rows, write_session
from tests.e2e.conftest import (
    ARTIFACTS,
    E2E_ADMIN,
    E2E_PASSWORD,
    login,
    make_auth_dir,
    rerun_after,
    url_when,
    wait_for_streamlit,
)

pytestmark = pytest.mark.e2e

NAV = '[data-testid="stSidebarNavLink"]'


@pytest.fixture(scope="module")
def app(start_app, tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    write_session(root, "p01", "s-a", session_a_rows(), source="video", label="intake",
                  operator="anna", notes="calm\nsecond line")
    write_session(root, "p01", "s-b", session_b_rows(), source="video", label="week 2")
    write_session(root, "p02", "s-c", session_a_rows(T0 + timedelta(days=3)), source="video")
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


def _main(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _reload(page) -> None:
    page.reload()
    wait_for_streamlit(page)


def test_f5_keeps_smoothing_per_day_and_compare_picks(app, page):
    page.goto(app.url)
    login(page, "psy", E2E_PASSWORD)

    _open(page, "Session summary")
    slider = page.locator('[data-testid="stSlider"] input[type="range"]')
    assert slider.input_value() == "2"
    slider.focus()
    rerun_after(page, lambda: slider.press("ArrowRight"))
    url = url_when(page, lambda u: "smooth=2.5" in u)
    assert "smooth=2.5" in url, url
    _reload(page)
    page.get_by_text("smoothed over 2.5 s").first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stSlider"] input[type="range"]').input_value() == "2.5"

    _open(page, "Subject history")
    rerun_after(page, lambda: page.get_by_text("day", exact=True).click())
    url = url_when(page, lambda u: "per=day" in u)
    assert "per=day" in url, url
    _reload(page)
    assert page.get_by_role("radio", name="day").is_checked()
    page.get_by_text("Expression shares per day").first.wait_for(timeout=60_000)

    _open(page, "Compare")
    rerun_after(page, lambda: page.get_by_text("Two periods of one subject").click())
    a_period = r"a_period=2026-11-02\.\.2026-11-02"
    b_period = r"b_period=2026-11-03\.\.2026-11-03"  # disjoint from A
    url = url_when(page, lambda u: re.search(a_period, u) and re.search(b_period, u))
    assert "mode=Two+periods" in url or "mode=Two%20periods" in url, url
    assert re.search(a_period, url), url
    assert re.search(b_period, url), url
    _reload(page)
    assert page.get_by_role("radio", name="Two periods of one subject").is_checked()
    rerun_after(page, lambda: page.get_by_text("Two sessions", exact=True).click())
    url = url_when(page, lambda u: "mode=Two+sessions" in u or "mode=Two%20sessions" in u)
    assert "a_session=s-a" in url and "b_session=s-b" in url, url
    _reload(page)
    main = _main(page)
    assert "A = p01 · intake · 2026-11-02 09:00" in main, main
    assert "B = p01 · week 2 · 2026-11-03 23:50" in main, main


def test_a_sessions_table_row_opens_its_session(app, page):
    page.goto(app.url)
    login(page, "psy", E2E_PASSWORD)
    _open(page, "Subject history")
    grid = page.locator('[data-testid="stDataFrame"]').last
    grid.scroll_into_view_if_needed()
    grid.hover()
    box = grid.bounding_box()
    # the row-selection checkbox of the second row (newest first: s-a, "intake")
    rerun_after(page, lambda: page.mouse.click(box["x"] + 18, box["y"] + 35 + 35 + 17))
    page.get_by_role("heading", name="Session — p01").wait_for(timeout=60_000)
    wait_for_streamlit(page)
    url = url_when(page, lambda u: "session=s-a" in u)
    assert "session=s-a" in url and "/session" in url, url
    assert "intake" in _main(page)
    page.screenshot(path=str(ARTIFACTS / "history_row_opens_session.png"), full_page=True)


@pytest.mark.parametrize(("path", "told"), [
    ("record", "The Record page is not open to your account (viewer)"),
    ("admin", "The Admin page is not open to your account (viewer)"),
    ("history?subject=p02", "Subject p02 is not open to your account (viewer)"),
])
def test_viewer_sent_before_logging_in_is_told_why_after_it(app, page, path, told):
    page.goto(f"{app.url}/{path}")
    login(page, "view", E2E_PASSWORD)
    page.get_by_text(told).wait_for(timeout=60_000)
    assert "Page not found" not in page.content()
