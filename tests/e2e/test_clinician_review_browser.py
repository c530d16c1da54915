"""Issue 19's whole flow in a real browser: record with the fake webcam, two task segments stamped
while recording, one added afterwards, one edited and one deleted on Session summary; then the
segment table with its per-segment shares, the recording-quality verdict, and both printable
reports (PDF text read back with pypdf: label, operator, model, one time zone, the segments).

A real `streamlit run` server and Debian chromium; the display zone is fixed to Europe/Berlin
(``FER_TIMEZONE``) so a report that slipped back to UTC would show it.
"""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import sync_playwright

from fer_core.logstore import LogStore
from tests.e2e.conftest import (
    ARTIFACTS,
    CHROMIUM,
    fake_camera_args,
    full_screenshot,
    wait_for_streamlit,
    wait_until,
)
from tests.e2e.test_record_browser import (  # noqa: F401 (fake_camera: a fixture)
    IFRAME,
    OPERATOR,
    SUBJECT,
    _auth,
    _fill,
    _open_record_page,
    fake_camera,
)
from tests.e2e.test_segments_browser import _click, _number, recorded_segments

pytestmark = pytest.mark.e2e

ZONE = "Europe/Berlin"
LABEL = "week 3 follow-up"


def _pick(page, prefix: str) -> None:
    page.get_by_label("Segment", exact=True).click()  # the edit form's picker
    page.get_by_role("option", name=re.compile("^" + re.escape(prefix))).click()
    wait_for_streamlit(page)


def _download(page, name: str) -> bytes:
    button = page.get_by_role("button", name=name)
    with page.expect_download(timeout=120_000) as info:
        button.click()
    return open(info.value.path(), "rb").read()


def test_record_segment_review_and_report(start_app, tmp_path, fake_camera):  # noqa: F811
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt install chromium)")
    log_root = tmp_path / "logs"
    app = start_app(log_root, auth_dir=_auth(tmp_path), FER_TIMEZONE=ZONE)
    store = LogStore(log_root)

    def segments() -> dict[str, bool]:
        return recorded_segments(store, SUBJECT)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=fake_camera_args(fake_camera))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300},
                                    accept_downloads=True)
            tick = lambda s: page.wait_for_timeout(1000 * s)  # noqa: E731
            _open_record_page(page, app.url)
            _fill(page, "New subject id", SUBJECT)
            _fill(page, "Session label", LABEL)
            page.get_by_text("Consent.").click()
            page.frame_locator(IFRAME).get_by_role("button", name="Start").click(timeout=60_000)
            page.get_by_text("Frames processed").wait_for(timeout=60_000)
            # two segments while recording: "task 1", then "task 2" (which ends "task 1")
            label = page.get_by_label("Segment label")
            for name, expected in (("task 1", {"task 1": False}),
                                   ("task 2", {"task 1": True, "task 2": False})):
                label.fill(name)
                label.press("Enter")
                page.wait_for_function(
                    "v => document.querySelector('input[aria-label=\"Segment label\"]').value"
                    " === v", arg=name, timeout=30_000)
                tick(3)  # each segment holds a few seconds of frames
                page.get_by_role("button", name="Start segment").click()
                assert wait_until(lambda e=expected: segments() == e, 30, tick=tick), segments()
            tick(3)
            page.get_by_role("button", name="End segment").click()
            assert wait_until(lambda: segments() == {"task 1": True, "task 2": True}, 30,
                              tick=tick), segments()
            full_screenshot(page, ARTIFACTS / "review_record_page.png")
            page.frame_locator(IFRAME).get_by_role("button", name="Stop").click()
            page.get_by_text("saved:").wait_for(timeout=60_000)
            page.get_by_role("button", name="Open the session summary").click()
            page.get_by_role("heading", name="Task segments").wait_for(timeout=60_000)
            wait_for_streamlit(page)

            # afterwards: one added by time, "task 1" edited, "task 2" deleted
            _number(page, "Start (s from start)", "1")
            _number(page, "End (s from start)", "3")
            _fill(page, "Segment label", "after the fact")
            _click(page, "Add segment")
            assert wait_until(lambda: "after the fact" in segments(), 30, tick=tick)
            _pick(page, "task 1")
            _fill(page, "New label", "task 1 (edited)")
            _click(page, "Save segment")
            _pick(page, "task 2")
            _click(page, "Delete segment")
            assert wait_until(lambda: segments() == {"task 1 (edited)": True,
                                                     "after the fact": True}, 30, tick=tick)
            page.reload()
            page.get_by_role("heading", name="Task segments").wait_for(timeout=60_000)
            wait_for_streamlit(page)

            # the segment table (a canvas grid: read its accessible cells) with its shares
            grid = page.get_by_role("heading", name="Task segments").locator(
                "xpath=following::*[@data-testid='stDataFrame'][1]")
            grid.scroll_into_view_if_needed()

            def read_cells() -> list[str]:
                return grid.locator('td[role="gridcell"]').evaluate_all(
                    "els => els.map(e => e.textContent)")

            wait_until(lambda: "after the fact" in read_cells(), 30, tick=tick)
            cells = read_cells()
            assert "task 1 (edited)" in cells and "after the fact" in cells, cells
            assert "task 2" not in cells
            for name in ("task 1 (edited)", "after the fact"):  # label, start, end, s from
                i = cells.index(name)  # start, duration, face in view, 7 shares, valence, conf.
                face, shares = float(cells[i + 5]), [float(c) for c in cells[i + 6:i + 13]]
                assert 0 < face <= 100, cells[i:i + 15]
                assert sum(shares) == pytest.approx(100, abs=0.5), cells[i:i + 15]
            verdict = page.get_by_text(re.compile(r"^Verdict: ")).first
            verdict.scroll_into_view_if_needed()
            verdict_text = verdict.inner_text()
            assert re.search(r"reliable|use with care", verdict_text), verdict_text
            full_screenshot(page, ARTIFACTS / "review_session_summary.png")

            pdf = _download(page, "Printable session report (PDF)")
            html = _download(page, "Printable session report (HTML)").decode()
        finally:
            browser.close()

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(p.extract_text() for p in reader.pages)
    [session] = store.list_sessions(SUBJECT)["session"]
    meta = store.session_meta(SUBJECT, session)
    for fact in (LABEL, OPERATOR, meta.model_name, meta.model_version, ZONE,
                 "task 1 (edited)", "after the fact", "Figures per segment"):
        assert fact in text, fact
        assert fact in html, fact
    assert "task 2" not in text
    assert re.search(r"reliable|use with care", text)
    assert "UTC" not in text and "GMT" not in text  # one zone throughout, named
    assert f"page 1 of {len(reader.pages)}" in text
