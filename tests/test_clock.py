"""A wall-clock step during a recording changes no timestamp order and no duration (issue 23).

The probe: with the machine's clock set back 1 h during a live recording, 1,500 frames got one
timestamp and a 60-s recording showed as 10 s (its end before its start). Here the "machine's
clock" is faked for the whole process: every ``datetime.now`` of fer_core and the dashboard
glue reads :class:`SteppedClock`'s wall clock, and ``time.monotonic`` its monotonic one. The
wall clock runs with the monotonic clock until ``step_at`` seconds, then jumps back by an hour.
Frames are real ``av.VideoFrame``s (an RTP-like 90 kHz clock) through the real
:class:`LiveRecorder`, pipeline and log store.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import av
import pytest

from dashboard.webrtc_glue import WebRtcRecorder as LiveRecorder
from fer_core.clock import FrameClock, SessionClock
from fer_core.logstore import LogStore
from fer_core.session_info import SessionInfo
from fer_core.video_fixture import blank_frame

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
CONSENT = {"given": True, "text": "consent text shown", "at": "2026-11-27T10:00:00+00:00"}
STEP = timedelta(hours=1)


class SteppedClock:
    """A monotonic clock the test advances, and a wall clock that steps back ``STEP`` at
    ``step_at`` seconds of it."""

    def __init__(self, step_at: float) -> None:
        self.mono = 1000.0  # any origin: only differences count
        self.origin = self.mono
        self.step_at = step_at

    def elapsed(self) -> float:
        return self.mono - self.origin

    def wall(self) -> datetime:
        back = STEP if self.elapsed() >= self.step_at else timedelta(0)
        return T0 + timedelta(seconds=self.elapsed()) - back


@pytest.fixture
def stepped(monkeypatch) -> SteppedClock:
    """Fake the process's clocks: ``datetime.now`` in every fer_core/dashboard module, and
    ``time.monotonic``."""
    clock = SteppedClock(step_at=10.0)

    class AnyDatetime(type):  # isinstance(real datetime, SteppedDatetime) stays True
        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, datetime)

    class SteppedDatetime(datetime, metaclass=AnyDatetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return clock.wall().astimezone(tz) if tz else clock.wall().replace(tzinfo=None)

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("fer_core", "dashboard") and \
                getattr(module, "datetime", None) is datetime:
            monkeypatch.setattr(module, "datetime", SteppedDatetime)
    monkeypatch.setattr(time, "monotonic", lambda: clock.mono)
    return clock


def _frame(index: int, fps: int) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(blank_frame(160, 120), format="bgr24")
    frame.pts = 123_456 + index * 90_000 // fps
    frame.time_base = Fraction(1, 90_000)
    return frame


def test_live_recording_survives_the_wall_clock_going_back(model, tmp_path, stepped):
    """60 s at 10 frames/s, the wall clock set back 1 h at 10 s: 600 distinct, increasing
    timestamps over 59.9 s, and the session lasts 60 s from the wall time it started at."""
    fps, seconds = 10, 60
    store = LogStore(tmp_path)
    recorder = LiveRecorder(model, store)
    recorder.arm(SessionInfo("P1", consent=CONSENT))

    def feed() -> None:  # on_frame runs on the component's thread
        for i in range(fps * seconds):
            stepped.mono = stepped.origin + i / fps  # frame i arrives i/fps after the start
            recorder.on_frame(_frame(i, fps))
        stepped.mono = stepped.origin + seconds  # STOP at 60 s

    worker = threading.Thread(target=feed)
    worker.start()
    worker.join()
    finished = recorder.finish()
    assert finished is not None and finished.error is None
    assert stepped.wall() < T0  # the wall clock really did go back

    rows = store.read("P1", finished.session)
    stamps = rows["timestamp"]
    assert len(rows) == fps * seconds
    assert stamps.is_unique and stamps.is_monotonic_increasing
    assert (stamps.iloc[-1] - stamps.iloc[0]).total_seconds() == pytest.approx(59.9, abs=0.01)
    assert stamps.iloc[0] == T0
    meta = store.session_meta("P1", finished.session)
    assert meta.started_at == T0
    assert meta.duration_s == pytest.approx(60.0, abs=0.01)
    listed = store.list_sessions().set_index("session").loc[finished.session]
    assert listed["duration_s"] == pytest.approx(60.0, abs=0.01)
    assert listed["status"] == "closed" and listed["damage"] == ""


def test_a_writer_ends_its_session_after_its_start_whatever_the_wall_clock(tmp_path, stepped):
    """A session opened without an explicit start (live): its end is start + monotonic time."""
    writer = LogStore(tmp_path).open_session("P2", "s1", source="webcam")
    writer.append({"timestamp": T0, "frame_index": 0, "face_index": -1,
                   "face_detected": False})
    stepped.mono = stepped.origin + 30.0  # the wall clock went back 1 h at 10 s
    writer.add_marker("after the step")
    writer.close()
    meta = LogStore(tmp_path).session_meta("P2", "s1")
    assert meta.started_at == T0
    assert meta.ended_at == T0 + timedelta(seconds=30)
    assert meta.markers[0].timestamp == T0 + timedelta(seconds=30)


def test_session_clock_is_start_plus_monotonic_time():
    mono = [5.0]
    clock = SessionClock(wall=lambda: T0, monotonic=lambda: mono[0])
    assert clock.started_at == T0 and clock.now() == T0
    mono[0] = 7.5
    assert clock.now() == T0 + timedelta(seconds=2.5)
    with pytest.raises(ValueError, match="naive"):
        SessionClock(datetime(2026, 1, 1))


def test_live_frame_clock_is_kept_to_its_session_clock():
    mono = [0.0]
    session = SessionClock(wall=lambda: T0, monotonic=lambda: mono[0])
    clock = FrameClock.live(session)
    assert clock.stamp(500.0) == T0  # anchored at the session's now
    mono[0] = 1.0
    assert clock.stamp(500.4) == T0 + timedelta(seconds=0.4)  # captured 0.6 s before processing
    mono[0] = 10.0
    assert clock.stamp(500.5) == T0 + timedelta(seconds=10)  # 9.5 s behind: re-anchored


def test_image_time_is_the_files_modification_time(tmp_path):
    import os

    from fer_core.clock import file_time

    path = tmp_path / "a.png"
    path.write_bytes(b"x")
    os.utime(path, (T0.timestamp(), T0.timestamp()))
    assert file_time(path) == T0


def test_file_frame_clock_is_start_plus_media_time_and_never_goes_back():
    clock = FrameClock.from_file(T0)
    assert clock.stamp(0.0) == T0
    assert clock.stamp(0.04) == T0 + timedelta(seconds=0.04)
    assert clock.stamp(100.0) == T0 + timedelta(seconds=100)  # a file's clock is the truth
    assert clock.stamp(50.0) == T0 + timedelta(seconds=100)  # backwards: held, not reversed
