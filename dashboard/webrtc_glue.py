"""Everything that touches streamlit-webrtc: the camera component and the live recorder behind it.

The recording itself (pipeline settings, rows, the session writer) is
:class:`fer_core.recording.SessionRecorder`, shared with ``analyze`` and the upload; this module
only adapts ``av.VideoFrame``s (image, media clock) and the page's session life cycle to it.

Threads: ``webrtc_streamer`` calls :meth:`LiveRecorder.on_frame` on its own processing thread
(never the script thread), so the recorder makes no ``st.*`` call; it hands results to the page
through a queue (:meth:`LiveRecorder.drain`). With ``async_processing`` a slow callback makes the
component drop frames: only frames actually processed are logged, each with its own timestamp
(from the frame's media clock, kept to the session's monotonic clock: see
:class:`fer_core.clock.FrameClock`), and the page shows the processed rate.

Session life cycle: the page *arms* the recorder with the form's subject, label, notes and consent
(:meth:`LiveRecorder.arm`); the first frame after START opens the log session; STOP ends it via
``on_video_ended`` or, whichever comes first, :meth:`LiveRecorder.finish` from the page's rerun
(both idempotent): the writer is flushed and compacted.

Offline: ``rtc_configuration={"iceServers": []}``. ``None`` or ``{}`` would make streamlit-webrtc
fetch TURN credentials (Twilio/Hugging Face) and use Google's STUN server; with an empty list,
browser and server connect over host candidates only, which is all a local app needs.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from streamlit_webrtc import WebRtcMode, WebRtcStreamerContext, webrtc_streamer

from fer_core.auth.consent import consent_problem  # auth engineer: consent gate
from fer_core.clock import FrameClock, SessionClock, wall_now
from fer_core.config import log_root
from fer_core.logstore import LogStore, new_session_id
from fer_core.models.file_format import LoadedModel
from fer_core.pipeline import FramePipeline, FrameResult, draw_results
from fer_core.recording import SessionRecorder

log = logging.getLogger(__name__)

#: No STUN/TURN servers: nothing leaves the machine (see the module docstring).
RTC_CONFIGURATION: dict[str, Any] = {"iceServers": []}
#: Camera only: the microphone is never requested.
MEDIA_CONSTRAINTS: dict[str, Any] = {"video": True, "audio": False}
#: Where opted-in raw videos go (never inside the log store, which holds predictions only).
MEDIA_DIR_ENV = "FER_MEDIA_DIR"
COMPONENT_KEY = "record.webrtc"


def media_dir() -> Path:
    """Folder for opted-in camera videos: ``$FER_MEDIA_DIR`` or ``recordings/`` beside the logs."""
    default = log_root().resolve().parent / "recordings"
    return Path(os.environ.get(MEDIA_DIR_ENV, default)).expanduser()


@dataclass(frozen=True)
class RecordSettings:
    """What the Record form decided; frozen when the first frame opens the session."""

    subject: str
    label: str = ""
    notes: str = ""
    operator: str = ""
    consent: dict[str, Any] | None = None
    save_video: bool = False


@dataclass
class LiveUpdate:
    """One processed frame, as handed to the page (no image: predictions only)."""

    frame_index: int
    timestamp: datetime
    processed_at: float  # time.monotonic() when processing finished
    probs: np.ndarray | None  # (7,) of the largest face, None when no face
    label: str | None
    confidence: float | None
    n_faces: int


class _VideoSink:
    """Opt-in raw camera video (MJPG .avi), written beside, never inside, the log store."""

    def __init__(self, path: Path, fps: float = 15.0) -> None:
        self.path = path
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = image.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"MJPG"),
                                           self.fps, (w, h))
        self._writer.write(image)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


@dataclass
class FinishedSession:
    """What the page shows after STOP."""

    subject: str
    session: str
    frames: int
    rows: int
    video_path: Path | None = None
    error: str | None = None


@dataclass
class _Recording:
    recorder: SessionRecorder
    clock: FrameClock
    sink: _VideoSink | None
    started: float = field(default_factory=time.monotonic)


class LiveRecorder:
    """Processes camera frames through the shared pipeline into one log session at a time.

    One per browser session (kept in ``st.session_state``); thread-safe between the component's
    processing thread (``on_frame``, ``on_ended``) and the script thread (``arm``, ``finish``,
    ``drain``).
    """

    def __init__(self, model: LoadedModel, store: LogStore | None = None,
                 *, history_s: float = 30.0, queue_size: int = 512,
                 now: Callable[[], datetime] = wall_now,
                 monotonic: Callable[[], float] | None = None) -> None:
        self.model = model
        self.store = store or LogStore()
        self.history_s = history_s
        # The wall clock is read once per session (its start); durations come from the
        # monotonic clock (default time.monotonic), so a wall-clock step changes no timestamp.
        self._now = now
        self._monotonic = monotonic
        self._settings: RecordSettings | None = None
        self._rec: _Recording | None = None
        self._pipeline: FramePipeline | None = None
        self._lock = threading.Lock()
        self._updates: queue.Queue[LiveUpdate] = queue.Queue(maxsize=queue_size)
        self.history: deque[LiveUpdate] = deque()  # script-thread side, for the rolling chart
        self.finished: FinishedSession | None = None
        self.error: str | None = None

    # ----------------------------------------------------------------- script thread
    def arm(self, settings: RecordSettings | None) -> None:
        """Settings for the next session (None: consent missing, frames pass unprocessed)."""
        # --- auth engineer: never arm a recording without a valid consent record ---
        if settings is not None and consent_problem(settings.consent):
            settings = None
        with self._lock:
            self._settings = settings

    @property
    def recording(self) -> bool:
        return self._rec is not None

    @property
    def session_id(self) -> tuple[str, str] | None:
        rec = self._rec
        return (rec.recorder.subject, rec.recorder.session) if rec else None

    def finish(self) -> FinishedSession | None:
        """Close the current session (flush + compact); None if none was open."""
        with self._lock:
            rec, self._rec = self._rec, None
        if rec is None:
            return None
        error = None
        r = rec.recorder
        try:
            r.close()
        except Exception as exc:  # reported on the page; rows already flushed stay on disk
            log.exception("closing session %s failed", r.session)
            error = f"the session could not be closed cleanly: {exc}"
        if rec.sink is not None:
            rec.sink.close()
        self.finished = FinishedSession(
            r.subject, r.session, r.frames, r.rows, rec.sink.path if rec.sink else None,
            error or self.error,
        )
        log.info("recorded session %s/%s: %d frames", r.subject, r.session, r.frames)
        if error is None:  # with a central store configured: publish without making STOP wait
            from fer_core.central.background import publish_later

            publish_later(r.writer.directory.parent.parent, r.subject, r.session)
        return self.finished

    def drain(self) -> list[LiveUpdate]:
        """Updates since the last call; also kept in :attr:`history` (last ``history_s``)."""
        out: list[LiveUpdate] = []
        while True:
            try:
                out.append(self._updates.get_nowait())
            except queue.Empty:
                break
        self.history.extend(out)
        if self.history:
            horizon = self.history[-1].timestamp - timedelta(seconds=self.history_s)
            while self.history and self.history[0].timestamp < horizon:
                self.history.popleft()
        return out

    def processed_fps(self, window_s: float = 5.0) -> float:
        """Frames actually processed per second over the last ``window_s`` seconds."""
        recent = [u.processed_at for u in self.history
                  if u.processed_at >= time.monotonic() - window_s]
        if len(recent) < 2 or recent[-1] == recent[0]:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])

    # ----------------------------------------------------------------- processing thread
    def _open(self, settings: RecordSettings) -> _Recording:
        clock = SessionClock(wall=self._now, monotonic=self._monotonic)
        session = new_session_id(clock.started_at)
        extra: dict[str, Any] = {"client": "record page"}
        sink = None
        if settings.save_video:
            sink = _VideoSink(media_dir() / settings.subject / f"{session}.avi")
            extra["video_file"] = str(sink.path)
        if self._pipeline is None:  # built once: it prepares (traces) the network
            self._pipeline = FramePipeline(self.model)
        recorder = SessionRecorder.open(
            self.store, self.model, settings.subject, session, source="webcam",
            pipeline=self._pipeline, clock=clock, operator=settings.operator,
            label=settings.label,
            notes=settings.notes, consent=settings.consent, extra=extra,
        )
        self.history.clear()
        self.finished = None
        self.error = None
        return _Recording(recorder, FrameClock(now=clock.now), sink)

    def process_image(self, image: np.ndarray, media_time: float | None) -> FrameResult | None:
        """Process one BGR frame into the open (or a newly opened) session; draw on it."""
        with self._lock:
            if self._rec is None:
                if self._settings is None:
                    return None
                self._rec = self._open(self._settings)
            rec = self._rec
            if rec.sink is not None:
                rec.sink.write(image)  # the raw frame, before anything is drawn on it
            ts = rec.clock.stamp(media_time)
            result = rec.recorder.add(image, ts)
        top = result.faces[0] if result.faces else None
        update = LiveUpdate(result.frame_index, ts, time.monotonic(),
                            top.probs if top else None, top.label if top else None,
                            top.confidence if top else None, len(result.faces))
        try:
            self._updates.put_nowait(update)
        except queue.Full:  # the page is not draining (tab hidden): keep the newest
            with self._updates.mutex:
                self._updates.queue.popleft()
            self._updates.put_nowait(update)
        return draw_results(image, result)

    def on_frame(self, frame: av.VideoFrame) -> av.VideoFrame:
        """``video_frame_callback``: runs on streamlit-webrtc's processing thread."""
        try:
            image = frame.to_ndarray(format="bgr24")
            drawn = self.process_image(image, frame.time)
        except Exception as exc:  # never kill the stream; the page shows the error
            log.exception("frame processing failed")
            self.error = f"frame processing failed: {exc}"
            return frame
        if drawn is None:
            return frame
        return av.VideoFrame.from_ndarray(drawn, format="bgr24")

    def on_ended(self) -> None:
        """``on_video_ended``: the browser stopped sending; close the session now."""
        self.finish()


def camera(recorder: LiveRecorder, *, on_change: Callable[[], None] | None = None,
           key: str = COMPONENT_KEY) -> WebRtcStreamerContext:
    """The camera component, wired to ``recorder`` (offline ICE, video only, async)."""
    return webrtc_streamer(
        key=key,
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=RTC_CONFIGURATION,
        media_stream_constraints=MEDIA_CONSTRAINTS,
        video_frame_callback=recorder.on_frame,
        on_video_ended=recorder.on_ended,
        async_processing=True,
        on_change=on_change,
        video_html_attrs={"autoPlay": True, "controls": False, "muted": True,
                          "style": {"width": "100%"}},
    )
