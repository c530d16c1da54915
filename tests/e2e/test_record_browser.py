"""Record a session in a real browser: Debian chromium's fake webcam plays real FER2013 faces.

The fake camera is a Y4M file generated here from committed real-face fixtures: happy faces on
the LEFT of the frame, surprised faces on the RIGHT, separated by empty frames. The position of a
logged face box therefore tells which segment it came from, whatever the phase of Chromium's
looping file when START was clicked and whatever resolution WebRTC chose (the test compares the
box centre with the box width, which scales with the frame).

Faces are chosen at run time, not by hand: those the real FaceDetector finds on the composed
frame and that the shipped model, run offline through the same FramePipeline, labels correctly
with some margin (so VP8 compression in the browser does not flip them).
"""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

from fer_core.config import PROJECT_ROOT
from fer_core.logstore import LogStore
from fer_core.models.file_format import load_model
from fer_core.pipeline import FramePipeline
from fer_core.video_fixture import (
    blank_frame,
    compose_face_frame,
    face_paths,
    pick_faces,
    read_y4m,
    write_y4m,
)
from tests.e2e.conftest import (
    ARTIFACTS,
    CHROMIUM,
    E2E_PASSWORD,
    fake_camera_args,
    full_screenshot,
    login,
    make_auth_dir,
    rerun_after,
    wait_for_streamlit,
    wait_until,
)

pytestmark = pytest.mark.e2e

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
FPS = 15
FACE_S = 2.0  # seconds each face is shown
GAP_S = 1.0  # seconds of empty frame after each expression block
LEFT, RIGHT = (110, 240), (530, 240)
#: box centre x / box width: about 0.5-1.1 for LEFT faces, 2.6-5.3 for RIGHT ones
SIDE_THRESHOLD = 1.8
#: offline confidence a face needs to be shown: a margin against VP8 compression artefacts
MIN_CONFIDENCE = 0.4
RECORD_S = 10.0  # record at least this long
MAX_RECORD_S = 75.0
MIN_SEGMENT_ROWS = 4  # face rows wanted from each side before STOP
SUBJECT = "e2e-subject"
OPERATOR = "psy"
IFRAME = 'iframe[title="streamlit_webrtc.component.webrtc_streamer"]'


def _candidates(label: str, ck_label: str) -> list[Path]:
    # PublicTest faces first (the provided training split is blurred, CK+ is a lab domain)
    folders = [FIXTURES / "fer2013_eval" / "test" / label, FIXTURES / "fer2013" / "test" / label,
               FIXTURES / "fer2013" / "train" / label, FIXTURES / "ckplus" / ck_label]
    return [p for folder in folders if folder.is_dir() for p in face_paths(folder)]


@pytest.fixture(scope="module")
def fake_camera(tmp_path_factory, model_path) -> Path:
    """The Y4M fake-webcam file: happy faces left, surprised faces right, empty gaps."""
    pipeline = FramePipeline(load_model(model_path))
    happy = pick_faces(pipeline, _candidates("happy", "happy"), "happy", center=LEFT,
                       min_confidence=MIN_CONFIDENCE)[:2]
    surprise = pick_faces(pipeline, _candidates("surprise", "surprise"), "surprise",
                          center=RIGHT, min_confidence=MIN_CONFIDENCE)[:2]
    if not happy or not surprise:
        pytest.fail(f"the shipped model {model_path} labels no committed fixture face as happy "
                    f"({len(happy)}) or surprise ({len(surprise)}) with confidence >= "
                    f"{MIN_CONFIDENCE}")

    def frames():
        for faces, center in ((happy, LEFT), (surprise, RIGHT)):
            for path, _ in faces:
                frame = compose_face_frame(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE),
                                           center=center)
                yield from [frame] * int(FACE_S * FPS)
            yield from [blank_frame()] * int(GAP_S * FPS)

    return write_y4m(tmp_path_factory.mktemp("camera") / "faces.y4m", frames(), fps=FPS)


def _auth(tmp_path: Path) -> Path:
    """A real auth folder with a psychologist account (a role that may record)."""
    return make_auth_dir(tmp_path / "auth", **{OPERATOR: "psychologist"})


def _open_record_page(page, url: str) -> None:
    """Log in through the real login form, then open Record from the navigation."""
    page.goto(url)
    login(page, OPERATOR, E2E_PASSWORD)
    page.get_by_role("link", name="Record").click()
    wait_for_streamlit(page)


def _fill(page, label: str, text: str) -> None:
    box = page.get_by_label(label)
    box.fill(text)
    key = "Enter" if box.evaluate("e => e.tagName") == "INPUT" else "Tab"
    rerun_after(page, lambda: box.press(key))


def _sides(rows) -> tuple[int, int]:
    faces = rows[rows["face_detected"]]
    side = (faces["box_x"] + faces["box_w"] / 2) / faces["box_w"]
    return int((side < SIDE_THRESHOLD).sum()), int((side >= SIDE_THRESHOLD).sum())


def _record_until_both_segments_seen(page, log_root: Path) -> None:
    """Keep recording until the flushed log holds both segments (at least RECORD_S seconds).

    The processed frame rate depends on the machine, so a fixed duration would either waste
    time or see too few frames; rows are flushed to Parquet every second while recording.
    """
    t0 = time.monotonic()

    def both_seen() -> bool:
        try:
            rows = LogStore(log_root).read(subject=SUBJECT)
        except FileNotFoundError:  # nothing written yet
            return False
        left, right = _sides(rows)
        return (time.monotonic() - t0 >= RECORD_S and left >= MIN_SEGMENT_ROWS
                and right >= MIN_SEGMENT_ROWS)

    # on timeout the assertions after STOP report what is missing
    wait_until(both_seen, MAX_RECORD_S, interval_s=0.5,
               tick=lambda s: page.wait_for_timeout(1000 * s))


def _wait_for_a_face_on_screen(page, timeout_ms: int = 10_000) -> None:
    """For a telling screenshot: wait (briefly) until the live panel shows a labelled face."""
    with contextlib.suppress(PlaywrightTimeout):  # the screenshot is an artifact, not a check
        page.wait_for_function(
            """() => { const t = document.body.innerText;
                       return t.includes('Now: ') && !t.includes('Now: no face'); }""",
            timeout=timeout_ms)


def test_record_a_session_in_the_browser(start_app, tmp_path, fake_camera):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (apt install chromium)")
    log_root = tmp_path / "logs"
    media = tmp_path / "media"
    app = start_app(log_root, FER_MEDIA_DIR=str(media), auth_dir=_auth(tmp_path))
    ARTIFACTS.mkdir(exist_ok=True)
    args = fake_camera_args(fake_camera)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            _open_record_page(page, app.url)
            # no consent yet: no camera component
            assert page.locator(IFRAME).count() == 0
            _fill(page, "New subject id", SUBJECT)
            _fill(page, "Session label", "e2e happy+surprise")
            _fill(page, "Notes", "fake webcam from FER2013 fixtures")
            page.get_by_text("Consent.").click()
            iframe = page.frame_locator(IFRAME)
            iframe.get_by_role("button", name="Start").click(timeout=60_000)
            page.get_by_text("Frames processed").wait_for(timeout=60_000)  # live panel
            _record_until_both_segments_seen(page, log_root)
            _wait_for_a_face_on_screen(page)
            full_screenshot(page, ARTIFACTS / "record_page.png")
            # the live read-out: processed rate and whether a face is found
            live = page.locator('[data-testid="stMetric"]')
            expect(live.filter(has_text="Processed rate")).to_contain_text("fps")
            expect(live.filter(has_text="Face found")).to_contain_text(re.compile("yes|no"))
            # one Stop control: the camera's. Streamlit's toolbar Stop (shown while a script
            # runs: before, the page's refresh loop ran for the whole recording) is hidden
            toolbar_stop = page.locator('[data-testid="stStatusWidget"]').get_by_role(
                "button", name="Stop")
            seen = 0
            for _ in range(10):
                seen += toolbar_stop.count() > 0
                page.wait_for_timeout(200)
            assert seen == 0, f"Streamlit's toolbar Stop shown in {seen} of 10 looks"
            iframe.get_by_role("button", name="Stop").click()
            page.get_by_text("saved:").wait_for(timeout=60_000)
            full_screenshot(page, ARTIFACTS / "record_page_stopped.png")
            page.get_by_role("button", name="Open the session summary").click()
            page.get_by_role("heading", name=f"Session — {SUBJECT}").wait_for(timeout=60_000)
            # the quality survives STOP: verdict and the dropped-frame count on the summary
            page.get_by_text("Verdict:").wait_for(timeout=60_000)
            expect(page.locator('[data-testid="stMetric"]').filter(
                has_text="Frames dropped")).not_to_contain_text("—")
            page.get_by_text("Recording quality").scroll_into_view_if_needed()
            full_screenshot(page, ARTIFACTS / "session_summary_recorded.png")
        finally:
            browser.close()

    store = LogStore(log_root)
    sessions = store.list_sessions(subject=SUBJECT)
    assert len(sessions) == 1, app.log_text()[-3000:]
    info = sessions.iloc[0]
    assert info["status"] == "closed" and info["source"] == "webcam"
    meta = store.session_meta(SUBJECT, info["session"])
    assert meta.label == "e2e happy+surprise" and meta.operator == OPERATOR
    assert meta.consent["given"] is True and "consent" in meta.consent["text"]

    rows = store.read(subject=SUBJECT)
    assert rows["frame_index"].is_monotonic_increasing
    assert rows["timestamp"].is_monotonic_increasing
    assert (~rows["face_detected"]).any(), "the empty segments must be logged as no-face rows"
    assert not media.exists(), "no image or video may be stored without the opt-in"
    faces = rows[rows["face_detected"]]
    assert faces[["box_x", "box_y", "box_w", "box_h", "label", "confidence", "face_brightness",
                  "face_contrast"]].notna().all().all()
    live = meta.extra["live"]  # the camera frames the queue dropped, kept past STOP
    assert live["frames_received"] >= live["frames_dropped"] + rows["frame_index"].nunique()
    side = (faces["box_x"] + faces["box_w"] / 2) / faces["box_w"]
    left, right = faces[side < SIDE_THRESHOLD], faces[side >= SIDE_THRESHOLD]
    for segment, expected in ((left, "happy"), (right, "surprise")):
        assert len(segment) >= MIN_SEGMENT_ROWS, f"too few {expected} rows: {len(segment)}"
        share = float(np.mean(segment["label"] == expected))
        counts = segment["label"].value_counts().to_dict()
        assert share >= 0.6, f"{expected} segment labelled {counts}"


def test_analyse_uploaded_images_on_the_record_page(start_app, tmp_path, page, fake_camera):
    """The Record page's upload runs the same analysis: two images -> one 'image' session."""
    _, frames = read_y4m(fake_camera)
    upload = [tmp_path / "a_face.png", tmp_path / "b_empty.png"]
    cv2.imwrite(str(upload[0]), frames[0])  # the first happy face (detected, chosen above)
    cv2.imwrite(str(upload[1]), blank_frame())
    log_root = tmp_path / "logs"
    app = start_app(log_root, auth_dir=_auth(tmp_path))
    _open_record_page(page, app.url)
    page.get_by_role("tab", name="Analyse a file").click()
    _fill(page, "New subject id", "../evil")
    page.get_by_text("is not allowed").wait_for(timeout=30_000)  # checked before anything
    page.get_by_text("Consent.").click()
    wait_for_streamlit(page)
    assert page.get_by_role("button", name="Analyse", exact=True).is_disabled()
    _fill(page, "New subject id", "upload-subject")
    wait_for_streamlit(page)
    # changing the subject unticked consent (consent is per person and recording): tick again
    assert not page.get_by_role("checkbox", name="Consent.").is_checked()
    page.get_by_text("Consent.").click()
    wait_for_streamlit(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        [str(p) for p in upload])
    page.get_by_text("b_empty.png").wait_for(timeout=30_000)
    # the upload reruns the script: a click while the button is still disabled is lost (seen
    # once in a loaded CI run), so wait for the rerun and the enabled button first
    wait_for_streamlit(page)
    analyse = page.get_by_role("button", name="Analyse", exact=True)
    expect(analyse).to_be_enabled(timeout=30_000)
    analyse.click()
    page.get_by_text("saved:").wait_for(timeout=60_000)

    store = LogStore(log_root)
    sessions = store.list_sessions("upload-subject")
    assert len(sessions) == 1 and sessions.iloc[0]["source"] == "image"
    meta = store.session_meta("upload-subject", sessions.iloc[0]["session"])
    assert meta.consent["given"] is True
    rows = store.read("upload-subject")
    assert rows["face_detected"].tolist() == [True, False]
    assert rows["label"].iloc[0] == "happy"


def test_without_a_model_the_page_says_so(start_app, tmp_path, page):
    app = start_app(tmp_path / "logs", FER_MODEL="no-such-model",
                    FER_MODELS_DIR=str(tmp_path / "no-models"), auth_dir=_auth(tmp_path))
    _open_record_page(page, app.url)
    page.get_by_text("No expression model available").wait_for(timeout=30_000)
    assert page.get_by_text("Consent.").count() == 0
