"""What the psychologist reads is true: record a known fake-camera schedule, read the dashboard.

Chromium's fake webcam loops a Y4M file whose schedule is known exactly: a happy face for 3 s
(left of the frame), an empty frame for 1 s, a surprised face for 3 s (right), empty for 1 s.
So a face is on screen 75% of the time, and of that time half is happy and half surprise. The
live recorder processes frames with a face several times slower than empty ones, so counting
rows says far less than 75% (the bug this test guards: 44% for a 75% face). The Session summary
page must show the truth, read from the page itself (the metric and the chart's own data).

Tolerances: the recording is cut at an arbitrary phase of the 8-s loop (at most 3 s of one
expression too many in about 40 s of recording), each change of the picture is seen one
processed frame late, and the VP8 stream may blur a face past the detector; together a few
points, bounded here by 10 (face in view) and 15 (shares).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import cv2
import pytest
from playwright.sync_api import sync_playwright

from fer_core import analytics as an
from fer_core.logstore import LogStore
from fer_core.models.file_format import load_model
from fer_core.models.shipped import resolve_model_path
from fer_core.pipeline import FramePipeline
from fer_core.video_fixture import blank_frame, compose_face_frame, pick_faces, write_y4m
from tests.e2e.conftest import (
    ARTIFACTS,
    CHROMIUM,
    E2E_PASSWORD,
    fake_camera_args,
    full_screenshot,
    login,
    make_auth_dir,
    wait_for_streamlit,
)
from tests.e2e.test_record_browser import LEFT, MIN_CONFIDENCE, RIGHT, _candidates, _fill

pytestmark = pytest.mark.e2e

FPS = 15
FACE_S, GAP_S = 3, 1  # per expression; the loop is happy, gap, surprise, gap = 8 s
TRUTH_FACE = 2 * FACE_S / (2 * FACE_S + 2 * GAP_S)  # 0.75
RECORD_S = 40.0  # five loops
SUBJECT, OPERATOR = "truth-subject", "psy"
IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'


@pytest.fixture(scope="module")
def schedule_camera(tmp_path_factory) -> Path:
    # the shipped default is committed: a missing file fails here, never skips
    pipeline = FramePipeline(load_model(resolve_model_path(None)))
    happy = pick_faces(pipeline, _candidates("happy", "happy"), "happy", center=LEFT,
                       min_confidence=MIN_CONFIDENCE)[:1]
    surprise = pick_faces(pipeline, _candidates("surprise", "surprise"), "surprise",
                          center=RIGHT, min_confidence=MIN_CONFIDENCE)[:1]
    assert happy and surprise, "no committed face is labelled confidently by the shipped model"

    def frames():
        for (path, _), center in ((happy[0], LEFT), (surprise[0], RIGHT)):
            face = compose_face_frame(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), center=center)
            yield from [face] * (FACE_S * FPS)
            yield from [blank_frame()] * (GAP_S * FPS)

    return write_y4m(tmp_path_factory.mktemp("camera") / "schedule.y4m", frames(), fps=FPS)


def _plot_data(page, title_start: str) -> dict[str, float]:
    """x -> y of the plotly bar chart whose title starts with ``title_start`` (its own data)."""
    return page.evaluate(
        """(title) => {
            for (const el of document.querySelectorAll('.js-plotly-plot')) {
                const t = (el.layout && el.layout.title && el.layout.title.text) || '';
                const tr0 = (el.data || [])[0];
                // the shares chart: by its title, or as the one 7-class single-trace bar chart
                const shares = el.data && el.data.length === 1 && tr0.type === 'bar'
                    && (tr0.x || []).length === 7 && tr0.x.includes('happy');
                if (t.startsWith(title) || shares) {
                    const tr = el.data[0]; const out = {};
                    tr.x.forEach((x, i) => { out[x] = tr.y[i]; }); return out;
                }
            }
            return null; }""", title_start)


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_dashboard_figures_match_the_camera_schedule(start_app, tmp_path, schedule_camera):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt install chromium)")
    log_root = tmp_path / "logs"
    app = start_app(log_root, FER_MEDIA_DIR=str(tmp_path / "media"),
                    auth_dir=make_auth_dir(tmp_path / "auth", **{OPERATOR: "psychologist"}))
    ARTIFACTS.mkdir(exist_ok=True)
    args = fake_camera_args(schedule_camera)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            page.goto(app.url)
            login(page, OPERATOR, E2E_PASSWORD)
            page.get_by_role("link", name="Record").click()
            wait_for_streamlit(page)
            _fill(page, "New subject id", SUBJECT)
            page.get_by_text("Consent.").click()
            iframe = page.frame_locator(IFRAME)
            iframe.get_by_role("button", name="Start").click(timeout=60_000)
            page.get_by_text("Frames processed").wait_for(timeout=60_000)
            t0 = time.monotonic()
            while time.monotonic() - t0 < RECORD_S:
                page.wait_for_timeout(1000)
            iframe.get_by_role("button", name="Stop").click()
            page.get_by_text("saved:").wait_for(timeout=60_000)
            page.get_by_role("button", name="Open the session summary").click()
            page.get_by_role("heading", name=f"Session — {SUBJECT}").wait_for(timeout=60_000)
            wait_for_streamlit(page)
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)
            face_text = _metric(page, "Face in view")
            full_screenshot(page, ARTIFACTS / "truth_session_summary.png")
            # Streamlit draws charts below the fold only once they are in view: the full-page
            # screenshot grows the viewport over the whole page, then the chart is read
            page.wait_for_function(
                """() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(el =>
                    el.data && el.data.length === 1 && el.data[0].type === 'bar'
                    && (el.data[0].x || []).includes('happy'))""",
                timeout=60_000)
            shares = _plot_data(page, "Share of time per expression")
        finally:
            browser.close()

    rows = LogStore(log_root).read(subject=SUBJECT)
    frames = an.frame_rows(rows)
    by_rows = float(frames["face_detected"].mean())  # what counting rows would have said
    face = int(re.fullmatch(r"(\d+)%", face_text).group(1)) / 100
    report = (f"dashboard face in view {face:.0%}, truth {TRUTH_FACE:.0%}, counting rows "
              f"{by_rows:.0%}; shares {shares}; {len(frames)} frames in "
              f"{an.session_summary(rows)['duration_s']:.1f} s")
    print(report)
    assert abs(face - TRUTH_FACE) <= 0.10, report
    assert shares is not None, "no 'Share of time per expression' chart on the page"
    assert abs(shares["happy"] - 50) <= 15 and abs(shares["surprise"] - 50) <= 15, report
    assert shares["happy"] + shares["surprise"] >= 85, report  # the rest is misclassification
