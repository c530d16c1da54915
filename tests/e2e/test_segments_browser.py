"""Task segments in a real browser: added after the fact on Session summary, edited, deleted, and
seen in the segment table and on the charts; and two stamped while recording with the fake
webcam (the Record page's "Start segment", "Mark now" and "End segment").

A real `streamlit run` server, Debian chromium, a psychologist account (a role that may
annotate); what the page did is checked on disk (the session's metadata) and in the audit log.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from fer_core.auth import Auth, Principal, Role
from fer_core.logstore import LogStore
from tests.dashboard_fixtures import session_a_rows, write_session
from tests.e2e.conftest import (
    ARTIFACTS,
    CHROMIUM,
    E2E_ADMIN,
    E2E_PASSWORD,
    fake_camera_args,
    full_screenshot,
    login,
    make_auth_dir,
    rerun_after,
    wait_for_streamlit,
    wait_until,
)
from tests.e2e.test_record_browser import (  # noqa: F401 (fake_camera: a fixture)
    IFRAME,
    SUBJECT,
    _auth,
    _fill,
    _open_record_page,
    fake_camera,
)

pytestmark = pytest.mark.e2e

PSY = "psy"


@pytest.fixture(scope="module")
def app(start_app, tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    write_session(root, "p01", "s-a", session_a_rows(), source="video")  # 10 s, 1 frame/s
    auth_dir = make_auth_dir(tmp_path_factory.mktemp("auth"), **{PSY: "psychologist"})
    Auth(auth_dir).set_assignment(Principal(E2E_ADMIN, Role.ADMIN), "p01", PSY, True)
    return start_app(root, auth_dir=auth_dir)


def _number(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    current = box.input_value()
    if value and current and float(current) == float(value):
        return  # already there (a dragged box can fill it): typing it again reruns nothing
    box.fill(value)
    rerun_after(page, lambda: box.press("Enter"))


def _click(page, name: str) -> None:
    button = page.get_by_role("button", name=name, exact=True)
    expect(button).to_be_enabled(timeout=30_000)
    rerun_after(page, button.click)


def _segments(root) -> dict[str, tuple[float, float | None]]:
    """label -> (start, end) in seconds from the session's first frame, as stored."""
    meta = LogStore(root).session_meta("p01", "s-a")
    t0 = meta.started_at
    return {s.label: ((s.start - t0).total_seconds(),
                      None if s.end is None else (s.end - t0).total_seconds())
            for s in meta.segments}


def recorded_segments(store: LogStore, subject: str) -> dict[str, bool]:
    """label -> has an end, of the subject's one session (being recorded or not), on disk."""
    try:
        sessions = store.list_sessions(subject)
    except FileNotFoundError:
        return {}
    if sessions.empty:
        return {}
    meta = store.session_meta(subject, sessions.iloc[0]["session"])
    return {s.label: s.end is not None for s in meta.segments}


def _annotations(page) -> list[str]:
    """The segment labels drawn above the charts (plotly annotations are SVG text)."""
    texts = page.locator(".js-plotly-plot .annotation-text").evaluate_all(
        "els => els.map(e => e.textContent)")  # SVG text has no innerText
    return [t for t in texts if t != "flagged below"]  # the quality charts' threshold notes


def test_two_segments_during_a_recording(start_app, tmp_path, fake_camera):  # noqa: F811
    # first in the module: its own sync_playwright() cannot start once the module's
    # ``browser`` fixture (the next test's) runs Playwright's loop in this thread
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt install chromium)")
    log_root = tmp_path / "logs"
    app = start_app(log_root, auth_dir=_auth(tmp_path))
    store = LogStore(log_root)

    def stored() -> dict[str, bool]:
        return recorded_segments(store, SUBJECT)

    def tick(seconds: float) -> None:
        page.wait_for_timeout(1000 * seconds)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=fake_camera_args(fake_camera))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            _open_record_page(page, app.url)
            _fill(page, "New subject id", SUBJECT)
            page.get_by_text("Consent.").click()
            page.frame_locator(IFRAME).get_by_role("button", name="Start").click(
                timeout=60_000)
            page.get_by_text("Frames processed").wait_for(timeout=60_000)
            # while recording the script never goes idle: type, then wait for the button
            label = page.get_by_label("Segment label")
            label.fill("task 1")
            label.press("Enter")
            expect(page.get_by_role("button", name="Start segment")).to_be_enabled(
                timeout=30_000)
            page.get_by_role("button", name="Start segment").click()
            page.get_by_text("Open segment:").wait_for(timeout=30_000)
            assert wait_until(lambda: stored() == {"task 1": False}, 30, tick=tick), stored()
            label.fill("door knock")
            label.press("Enter")
            page.wait_for_function(  # the rerun that took the new label has run
                "() => document.querySelector('input[aria-label=\"Segment label\"]')"
                ".value === 'door knock'", timeout=30_000)
            page.get_by_role("button", name="Mark now").click()
            tick(1.5)
            page.get_by_role("button", name="End segment").click()
            assert wait_until(lambda: stored() == {"task 1": True, "door knock": False}, 30,
                              tick=tick), stored()
            full_screenshot(page, ARTIFACTS / "segments_record_page.png")
            page.frame_locator(IFRAME).get_by_role("button", name="Stop").click()
            page.get_by_text("saved:").wait_for(timeout=60_000)
            page.get_by_role("button", name="Open the session summary").click()
            page.get_by_role("heading", name="Task segments").wait_for(timeout=60_000)
            wait_for_streamlit(page)
            assert {"task 1", "door knock"} <= set(_annotations(page))
        finally:
            browser.close()

    [session] = store.list_sessions(SUBJECT)["session"]
    meta = store.session_meta(SUBJECT, session)
    by_label = {s.label: s for s in meta.segments}
    task, knock = by_label["task 1"], by_label["door knock"]
    assert task.end is not None and task.start <= knock.start <= task.end
    assert meta.started_at <= task.start and task.end <= meta.ended_at
    ops = [e["details"]["op"] for e in Auth(app.auth_dir).audit.read(action="annotate")
           if e.get("details", {}).get("field") == "segment"]
    assert ops == ["start", "mark", "end"], ops


def test_add_edit_delete_a_segment_after_the_fact(app, page):
    page.goto(app.url)
    login(page, PSY, E2E_PASSWORD)
    page.goto(f"{app.url}/session?subject=p01&session=s-a")  # the login cookie carries over
    wait_for_streamlit(page)
    page.get_by_role("heading", name="Task segments").wait_for(timeout=60_000)

    # a box dragged over the main timeline (expressions over time) fills start and end
    plot = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first
    box = plot.bounding_box()
    y = box["y"] + box["height"] / 2

    def drag() -> None:
        page.mouse.move(box["x"] + 0.3 * box["width"], y)
        page.mouse.down()
        page.mouse.move(box["x"] + 0.6 * box["width"], y, steps=8)
        page.mouse.up()

    rerun_after(page, drag)
    start = float(page.get_by_label("Start (s from start)", exact=True).input_value())
    end = float(page.get_by_label("End (s from start)", exact=True).input_value())
    assert 0 < start < end < 10 and end - start > 1, (start, end)

    _number(page, "Start (s from start)", "2")
    _number(page, "End (s from start)", "6")
    _fill(page, "Segment label", "stimulus A")
    _click(page, "Add segment")
    _click(page, "Add segment")  # the same again: no duplicate
    assert _segments(app.log_root) == {"stimulus A": (2.0, 6.0)}
    # drawn on every time chart: expressions over time, ethogram, valence (raw lines: off)
    assert wait_until(lambda: _annotations(page) == ["stimulus A"] * 3, 30,
                      tick=lambda s: page.wait_for_timeout(1000 * s)), _annotations(page)
    table = page.get_by_role("heading", name="Task segments").locator(
        "xpath=following::*[@data-testid='stDataFrame'][1]")
    table.scroll_into_view_if_needed()
    full_screenshot(page, ARTIFACTS / "segments_session_summary.png")

    # a point marker, then the interval edited (label and end), then the point deleted
    _number(page, "Start (s from start)", "8")
    _number(page, "End (s from start)", "")
    _fill(page, "Segment label", "door knock")
    _click(page, "Add segment")
    assert _segments(app.log_root) == {"stimulus A": (2.0, 6.0), "door knock": (8.0, None)}

    page.get_by_label("Segment", exact=True).click()  # the picker (a select box)
    page.get_by_role("option", name=re.compile(r"^stimulus A")).click()
    wait_for_streamlit(page)
    _fill(page, "New label", "stimulus A1")
    _number(page, "New end (s from start)", "7")
    _click(page, "Save segment")
    assert _segments(app.log_root) == {"stimulus A1": (2.0, 7.0), "door knock": (8.0, None)}

    page.get_by_label("Segment", exact=True).click()
    page.get_by_role("option", name=re.compile(r"^door knock")).click()
    wait_for_streamlit(page)
    _click(page, "Delete segment")
    assert _segments(app.log_root) == {"stimulus A1": (2.0, 7.0)}
    # the change reruns the script twice (the click, then st.rerun): poll the charts
    assert wait_until(lambda: _annotations(page) == ["stimulus A1"] * 3, 30,
                      tick=lambda s: page.wait_for_timeout(1000 * s)), _annotations(page)
    # the segment table's cells are drawn on a canvas: read its (hidden) accessible grid
    grid = page.get_by_role("heading", name="Task segments").locator(
        "xpath=following::*[@data-testid='stDataFrame'][1]")
    cells = grid.locator('td[role="gridcell"]').evaluate_all(
        "els => els.map(e => e.textContent)")
    assert cells[:3] == ["stimulus A1", "09:00:02", "09:00:07"], cells

    ops = [e["details"]["op"] for e in Auth(app.auth_dir).audit.read(
        user=PSY, action="annotate", target_contains="session=s-a")
        if e.get("details", {}).get("field") == "segment"]
    assert ops == ["add", "add", "edit", "delete"], ops  # the duplicate click is not a change
