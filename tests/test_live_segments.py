"""Segments stamped during a live recording: "Mark now", "Start segment", "End segment" go
through :class:`fer_core.live.LiveRecorder` to the session writer, on the session's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fer_core.live import LiveRecorder
from fer_core.logstore import LogStore, SegmentError
from fer_core.session_info import SessionInfo
from fer_core.video_fixture import blank_frame

CONSENT = {"given": True, "text": "consent text shown", "at": "2026-11-27T10:00:00+00:00"}
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_mark_start_end_while_recording(model, tmp_path) -> None:
    store = LogStore(tmp_path)
    ticks = Ticks()
    recorder = LiveRecorder(model, store, now=lambda: T0, monotonic=ticks)
    with pytest.raises(RuntimeError, match="no session is being recorded"):
        recorder.mark("too early")
    recorder.arm(SessionInfo("P1", consent=CONSENT))
    recorder.process_image(blank_frame(), 0.0)  # the first frame opens the session
    assert recorder.open_segment is None and recorder.end_segment() is None

    ticks.t += 1.0
    point = recorder.mark("beep")
    ticks.t += 1.0
    first, ended = recorder.start_segment("stimulus A")
    assert ended is None and recorder.open_segment == first
    with pytest.raises(SegmentError, match="non-empty label"):
        recorder.start_segment("  ")
    assert recorder.open_segment == first  # a refused start leaves the open one running
    ticks.t += 3.0
    second, ended = recorder.start_segment("stimulus B")  # ends A at the same instant
    assert ended.id == first.id and ended.end == second.start
    ticks.t += 2.0
    assert recorder.end_segment().id == second.id and recorder.open_segment is None
    ticks.t += 1.0
    third, _ = recorder.start_segment("rest")  # still open at STOP: STOP ends it
    ticks.t += 1.5
    fin = recorder.finish()

    meta = store.session_meta("P1", fin.session)
    assert [(s.label, s.start - T0, None if s.end is None else s.end - T0)
            for s in meta.sorted_segments()] == [
        ("beep", timedelta(seconds=1), None),
        ("stimulus A", timedelta(seconds=2), timedelta(seconds=5)),
        ("stimulus B", timedelta(seconds=5), timedelta(seconds=7)),
        ("rest", timedelta(seconds=8), timedelta(seconds=9.5))]
    assert point.id in {s.id for s in meta.segments} and third.is_point
