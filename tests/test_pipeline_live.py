"""The live recorder behind the Record page, without a browser: real av frames, real log store.

streamlit-webrtc calls ``LiveRecorder.on_frame`` from its processing thread; here a thread does
the same with ``av.VideoFrame`` objects built from real faces, so the session life cycle
(consent gate, open on first frame, close on STOP or on_video_ended), the hand-over queue and the
timestamps are tested quickly. The browser path itself is tests/e2e/test_record_browser.py.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from dashboard.webrtc_glue import (
    MEDIA_CONSTRAINTS,
    RTC_CONFIGURATION,
)
from dashboard.webrtc_glue import WebRtcRecorder as LiveRecorder
from fer_core.clock import FrameClock
from fer_core.logstore import LogStore
from fer_core.session_info import SessionInfo
from fer_core.video_fixture import blank_frame, compose_face_frame, face_paths

FACES = Path(__file__).parent / "fixtures" / "fer2013" / "test" / "happy"
CONSENT = {"given": True, "text": "consent text shown", "at": "2026-11-27T10:00:00+00:00"}
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def face_image() -> np.ndarray:
    from fer_core.detection import FaceDetector

    detector = FaceDetector()
    for path in face_paths(FACES):
        frame = compose_face_frame(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
        if detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)):
            return frame
    pytest.fail("Haar finds no committed happy face")


def _frame(image: np.ndarray, index: int, fps: int = 15) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    frame.pts = 123_456 + index * 90_000 // fps  # an RTP-like 90 kHz clock with an odd origin
    frame.time_base = Fraction(1, 90_000)
    return frame


def _feed(recorder: LiveRecorder, images: list[np.ndarray]) -> list[av.VideoFrame]:
    """Call on_frame from another thread, as streamlit-webrtc does."""
    out: list[av.VideoFrame] = []
    worker = threading.Thread(target=lambda: out.extend(
        recorder.on_frame(_frame(img, i)) for i, img in enumerate(images)))
    worker.start()
    worker.join()
    return out


def test_offline_webrtc_settings():
    assert RTC_CONFIGURATION == {"iceServers": []}  # no STUN/TURN: nothing leaves the machine
    assert MEDIA_CONSTRAINTS == {"video": True, "audio": False}


def test_no_consent_no_session(model, tmp_path, face_image):
    recorder = LiveRecorder(model, LogStore(tmp_path))
    recorder.arm(None)
    out = _feed(recorder, [face_image])
    assert np.array_equal(out[0].to_ndarray(format="bgr24"), face_image)  # passed through
    assert not recorder.recording and recorder.finish() is None
    assert not tmp_path.joinpath("subject=P1").exists()


def test_a_recording_is_one_session_with_consent_and_every_frame(model, tmp_path, face_image,
                                                                   monkeypatch):
    monkeypatch.setenv("FER_MEDIA_DIR", str(tmp_path / "media"))
    store = LogStore(tmp_path / "logs")
    recorder = LiveRecorder(model, store)
    recorder.arm(SessionInfo("P1", label="baseline", notes="n", consent=CONSENT))
    images = [blank_frame(), face_image, face_image, blank_frame()]
    out = _feed(recorder, images)
    assert recorder.recording
    drawn = out[1].to_ndarray(format="bgr24")
    assert not np.array_equal(drawn, face_image)  # box and label drawn on the returned frame
    updates = recorder.drain()
    assert [u.frame_index for u in updates] == [0, 1, 2, 3]
    assert [u.n_faces for u in updates] == [0, 1, 1, 0]
    assert updates[1].probs.shape == (7,) and updates[1].label

    finished = recorder.finish()
    assert recorder.finish() is None  # idempotent: on_video_ended after STOP changes nothing
    recorder.on_ended()
    assert finished.subject == "P1" and finished.frames == 4 and finished.video_path is None
    sessions = store.list_sessions("P1")
    assert len(sessions) == 1 and sessions.iloc[0]["status"] == "closed"
    meta = store.session_meta("P1", finished.session)
    assert meta.consent == CONSENT and meta.label == "baseline" and meta.source == "webcam"
    assert meta.model_name == model.name
    rows = store.read("P1", finished.session)
    assert rows["frame_index"].tolist() == [0, 1, 2, 3]
    assert rows["face_detected"].tolist() == [False, True, True, False]
    # frames keep their own (media-clock) spacing, never out of order
    assert rows["timestamp"].is_monotonic_increasing
    assert not (tmp_path / "media").exists()  # no opt-in, no images anywhere


def test_stop_then_start_opens_a_new_session(model, tmp_path, face_image):
    store = LogStore(tmp_path)
    recorder = LiveRecorder(model, store)
    recorder.arm(SessionInfo("P2", consent=CONSENT))
    _feed(recorder, [face_image])
    first = recorder.finish()
    _feed(recorder, [blank_frame(), blank_frame()])
    recorder.on_ended()  # the browser stopped: closes the second session
    assert not recorder.recording
    sessions = store.list_sessions("P2").set_index("session")
    assert sorted(sessions["n_frames"]) == [1, 2] and first.session in sessions.index
    assert (sessions["status"] == "closed").all()


def test_video_only_with_the_opt_in(model, tmp_path, face_image, monkeypatch):
    monkeypatch.setenv("FER_MEDIA_DIR", str(tmp_path / "media"))
    store = LogStore(tmp_path / "logs")
    recorder = LiveRecorder(model, store)
    recorder.arm(SessionInfo("P3", consent=CONSENT), save_video=True)
    _feed(recorder, [face_image, blank_frame(), face_image])
    finished = recorder.finish()
    assert finished.video_path == tmp_path / "media" / "P3" / f"{finished.session}.avi"
    cap = cv2.VideoCapture(str(finished.video_path))
    ok, first = cap.read()
    cap.release()
    assert ok and np.abs(first.astype(int) - face_image.astype(int)).mean() < 5  # raw, undrawn
    meta = store.session_meta("P3", finished.session)
    assert meta.extra["video_file"] == str(finished.video_path)
    assert not any(p.suffix == ".avi" for p in (tmp_path / "logs").rglob("*"))


def test_a_processing_error_keeps_the_stream_alive(model, tmp_path, monkeypatch):
    from fer_core.pipeline import FramePipeline

    recorder = LiveRecorder(model, LogStore(tmp_path))
    recorder.arm(SessionInfo("P4", consent=CONSENT))
    _feed(recorder, [blank_frame()])
    original = FramePipeline.process_many

    def broken(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(FramePipeline, "process_many", broken)
    frame = _frame(blank_frame(), 1)
    assert recorder.on_frame(frame) is frame  # shown unprocessed, the stream goes on
    assert "boom" in recorder.error
    monkeypatch.setattr(FramePipeline, "process_many", original)
    _feed(recorder, [blank_frame()])
    finished = recorder.finish()
    assert finished.frames == 2 and "boom" in finished.error


def test_the_glue_only_adapts_av_frames_to_the_library_recorder(model, tmp_path, face_image):
    """fer_core.live records numpy images with their media time, no av, no streamlit; the
    WebRTC glue's on_frame gives exactly the rows of calling it with the frame's image and time."""
    from fer_core.live import LiveRecorder as LibraryRecorder

    images = [blank_frame(), face_image, face_image, blank_frame()]
    store = LogStore(tmp_path)
    sessions = []
    for recorder, feed in (
        (LibraryRecorder(model, store, now=lambda: T0, monotonic=lambda: 0.0),
         lambda r: [r.process_image(img, _frame(img, i).time) for i, img in enumerate(images)]),
        (LiveRecorder(model, store, now=lambda: T0, monotonic=lambda: 0.0),
         lambda r: _feed(r, images)),
    ):
        recorder.arm(SessionInfo("P6", operator="psy", consent=CONSENT))
        feed(recorder)
        result = recorder.finish()
        assert (result.frames, result.rows, result.source) == (4, 4, "webcam")
        sessions.append(result.session)
    a, b = (store.read("P6", s).drop(columns=["session"]) for s in sessions)
    import pandas as pd

    pd.testing.assert_frame_equal(a, b)
    assert store.session_meta("P6", sessions[0]).operator == "psy"


def test_frame_clock_follows_the_media_clock_and_reanchors():
    clock = FrameClock(max_lag=2.0)
    assert clock.stamp(100.0, T0) == T0
    # 0.5 s later on the media clock, processed 0.7 s later: stamped at capture time
    assert clock.stamp(100.5, T0 + timedelta(seconds=0.7)) == T0 + timedelta(seconds=0.5)
    # the media clock jumps back (RTP restart): re-anchored to the wall clock
    assert clock.stamp(3.0, T0 + timedelta(seconds=1.0)) == T0 + timedelta(seconds=1.0)
    # a media time ahead of the wall clock is impossible: re-anchored, never in the future
    assert clock.stamp(10.0, T0 + timedelta(seconds=1.1)) == T0 + timedelta(seconds=1.1)
    # lagging more than max_lag behind the wall clock: re-anchored
    assert clock.stamp(10.1, T0 + timedelta(seconds=5.0)) == T0 + timedelta(seconds=5.0)
    # no media time: the wall clock, still never before the previous stamp
    assert clock.stamp(None, T0 + timedelta(seconds=4.0)) == T0 + timedelta(seconds=5.0)


def test_processed_rate_counts_processed_frames(model, tmp_path, face_image):
    recorder = LiveRecorder(model, LogStore(tmp_path))
    recorder.arm(SessionInfo("P5", consent=CONSENT))
    assert recorder.processed_fps() == 0.0
    _feed(recorder, [blank_frame()] * 5)
    recorder.drain()
    assert recorder.processed_fps() > 0
    recorder.finish()


def test_queued_frames_process_the_newest_and_count_the_rest_as_dropped(model, tmp_path,
                                                                          face_image):
    """streamlit-webrtc's queued callback gets every frame that arrived while the previous one
    was processed: the newest is processed and logged, the others are counted as dropped, and
    the counts reach the session's metadata and its recording quality."""
    import asyncio

    from fer_core.measures.quality import session_quality

    store = LogStore(tmp_path)
    recorder = LiveRecorder(model, store)
    recorder.arm(SessionInfo("P5", consent=CONSENT))
    batches = [[0, 1, 2], [3], [4, 5, 6, 7], [8]]
    for batch in batches:
        frames = [_frame(face_image if i % 2 else blank_frame(), i) for i in batch]
        out = asyncio.run(recorder.on_frames(frames))
        assert len(out) == 1
    # the first batch opened the session: its older frames belong to no session; then
    # batch [4..7] dropped 3 frames; received = 1 + 1 + 4 + 1
    assert recorder.live_counts() == {"frames_received": 7, "frames_dropped": 3}
    recorder.drain()
    assert recorder.face_found() is False  # frame 8 is blank
    finished = recorder.finish()
    assert finished.frames == 4
    meta = store.session_meta("P5", finished.session)
    assert meta.extra["live"] == {"frames_received": 7, "frames_dropped": 3}
    rows = store.read("P5", finished.session)
    assert rows["frame_index"].tolist() == [0, 1, 2, 3]
    quality = session_quality(rows, meta)
    assert (quality.frames_dropped, quality.frames_received) == (3, 7)
    with pytest.raises(ValueError):
        recorder.process_image(face_image, 0.0, dropped=-1)


def test_the_page_can_wait_for_a_session_the_camera_thread_is_saving(model, tmp_path,
                                                                      face_image, monkeypatch):
    """STOP's on_video_ended closes the session on the camera's thread; a page run in the
    middle sees it neither recording nor finished unless it waits (seen in the browser)."""
    from fer_core.recording import SessionRecorder

    recorder = LiveRecorder(model, LogStore(tmp_path))
    recorder.arm(SessionInfo("P6", consent=CONSENT))
    _feed(recorder, [face_image])
    release = threading.Event()
    original = SessionRecorder.close

    def slow_close(self, ended_at=None):
        release.wait(30)
        original(self, ended_at)

    monkeypatch.setattr(SessionRecorder, "close", slow_close)
    assert not recorder.closing and recorder.wait_closed(0.01)
    stopper = threading.Thread(target=recorder.on_ended)
    stopper.start()
    while not recorder.closing:
        stopper.join(0.01)
    assert not recorder.recording and recorder.finished is None  # the gap the page fell into
    assert not recorder.wait_closed(0.05)
    release.set()
    assert recorder.wait_closed(30)
    stopper.join()
    assert recorder.finished is not None and recorder.finished.subject == "P6"
