"""Live recording: camera images with their media clock -> one log session per START..STOP.

Why here and not in the dashboard: everything but the camera component is plain recording
logic (the consent gate, the session life cycle, the frame clock, the opt-in video, the hand-over
queue to the page), shared in spirit with ``analyze`` -- the same :class:`SessionInfo` in, the
same :class:`fer_core.recording.SessionResult` out. ``dashboard/webrtc_glue.py`` only turns
``av.VideoFrame``s into (BGR image, media time) and calls :meth:`LiveRecorder.process_image`.

Threads: the camera component calls :meth:`LiveRecorder.process_image` on its own processing
thread; the page calls :meth:`arm`, :meth:`finish` and :meth:`drain` on its script thread. A
lock guards the open session; results reach the page through a bounded queue.

Session life cycle: the page *arms* the recorder with the form's :class:`SessionInfo` (None:
consent missing, frames pass through unprocessed); the first frame after START opens the log
session; STOP ends it through :meth:`finish` (idempotent): the writer is flushed and compacted.

Clock: each session has one :class:`fer_core.clock.SessionClock` (its start's wall time plus
monotonic seconds); frames are stamped by :meth:`fer_core.clock.FrameClock.live` from their media
clock kept to it -- the same FrameClock that stamps a video file's frames in ``analyze``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fer_core.auth.consent import consent_problem
from fer_core.auth.erasure import media_dir as _media_dir_beside
from fer_core.classifier import Classifier
from fer_core.clock import FrameClock, SessionClock, wall_now
from fer_core.config import log_root
from fer_core.logstore import LogStore, Segment, new_session_id
from fer_core.logstore.meta import update_meta
from fer_core.pipeline import FramePipeline, FrameResult, draw_results
from fer_core.recording import SessionRecorder, SessionResult
from fer_core.session_info import SessionInfo

log = logging.getLogger(__name__)

#: The source kind of every live session.
LIVE_SOURCE = "webcam"


def media_dir() -> Path:
    """Folder for opted-in camera videos: ``$FER_MEDIA_DIR`` or ``recordings/`` beside the logs
    (never inside the log store, which holds predictions only). The same rule as erasure's, so
    erasing a subject finds its videos."""
    return _media_dir_beside(log_root())


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


class VideoSink:
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
class _Recording:
    recorder: SessionRecorder
    clock: FrameClock
    sink: VideoSink | None
    started: float = field(default_factory=time.monotonic)
    open_segment: Segment | None = None  # started on the page and not yet ended
    #: camera frames that reached the recorder during the session, and those among them the
    #: camera component's queue dropped unprocessed (processing slower than the camera)
    received: int = 0
    dropped: int = 0

    def live_counts(self) -> dict[str, int]:
        """What the session metadata keeps as ``extra["live"]`` (fer_core.measures.quality)."""
        return {"frames_received": self.received, "frames_dropped": self.dropped}


class LiveRecorder:
    """Processes camera images through the shared pipeline into one log session at a time.

    One per browser session; thread-safe between the camera's processing thread
    (:meth:`process_image`) and the page's thread (:meth:`arm`, :meth:`finish`, :meth:`drain`).
    ``now``/``monotonic``: the wall clock (read once per session) and the monotonic clock.
    """

    def __init__(self, model: Classifier, store: LogStore | None = None,
                 *, history_s: float = 30.0, queue_size: int = 512,
                 now: Callable[[], datetime] = wall_now,
                 monotonic: Callable[[], float] | None = None) -> None:
        self.model = model
        self.store = store or LogStore()
        self.history_s = history_s
        self._now = now
        self._monotonic = monotonic
        self._armed: tuple[SessionInfo, bool] | None = None
        self._rec: _Recording | None = None
        self._pipeline: FramePipeline | None = None
        self._lock = threading.Lock()
        self._updates: queue.Queue[LiveUpdate] = queue.Queue(maxsize=queue_size)
        self.history: deque[LiveUpdate] = deque()  # script-thread side, for the rolling chart
        self.finished: SessionResult | None = None
        self.error: str | None = None
        #: clear while a session is being closed (flushed and compacted) on some thread
        self._idle = threading.Event()
        self._idle.set()

    # ----------------------------------------------------------------- page thread
    def arm(self, info: SessionInfo | None, *, save_video: bool = False) -> None:
        """The context of the next session (None: frames pass unprocessed).

        A context without a valid consent record is never armed (the consent gate).
        ``save_video``: also keep the raw camera video (opt-in) under :func:`media_dir`.
        """
        if info is not None and consent_problem(info.consent):
            info = None
        if info is not None:
            info = info.for_source(LIVE_SOURCE)
        with self._lock:
            self._armed = (info, save_video) if info is not None else None

    @property
    def recording(self) -> bool:
        return self._rec is not None

    @property
    def session_id(self) -> tuple[str, str] | None:
        rec = self._rec
        return (rec.recorder.subject, rec.recorder.session) if rec else None

    def finish(self) -> SessionResult | None:
        """Close the current session (flush + compact); None if none was open."""
        with self._lock:
            rec, self._rec = self._rec, None
            if rec is not None:
                self._idle.clear()
        if rec is None:
            return None
        try:
            return self._close(rec)
        finally:
            self._idle.set()

    @property
    def closing(self) -> bool:
        """True while a session is being closed (:meth:`finish` on another thread: STOP's
        ``on_video_ended``); :attr:`finished` is set when it is done."""
        return not self._idle.is_set()

    def wait_closed(self, timeout: float) -> bool:
        """Wait until no session is being closed; False on timeout. Why: the page may run
        between the camera thread's :meth:`finish` taking the session and it being saved,
        and would otherwise show neither the recording nor its result."""
        return self._idle.wait(timeout)

    def _close(self, rec: _Recording) -> SessionResult:
        error = None
        r = rec.recorder
        if rec.open_segment is not None:  # STOP ends the task that was still running
            try:
                r.writer.end_segment(rec.open_segment.id)
            except Exception:
                log.exception("ending segment %s at STOP failed", rec.open_segment.id)
        try:  # before closing: the compaction and a central publish then see the counts
            update_meta(r.writer.directory,
                        lambda meta: meta.extra.update(live=rec.live_counts()))
        except (OSError, ValueError):  # quality then says "not recorded"; the rows are safe
            log.warning("could not record the dropped-frame count of %s", r.session,
                        exc_info=True)
        try:
            r.close()
        except Exception as exc:  # reported on the page; rows already flushed stay on disk
            log.exception("closing session %s failed", r.session)
            error = f"the session could not be closed cleanly: {exc}"
        if rec.sink is not None:
            rec.sink.close()
        result = r.result()
        result.video_path = rec.sink.path if rec.sink else None
        result.error = error or self.error
        self.finished = result
        log.info("recorded session %s/%s: %d frames", r.subject, r.session, r.frames)
        if error is None:  # with a central store configured: publish without making STOP wait
            from fer_core.central.background import publish_later

            publish_later(r.writer.directory.parent.parent, r.subject, r.session)
        return result

    # task segments while recording: stamped "now" on the session's own clock, the clock that
    # stamps the frames, so a segment lines up with the rows it covers
    @property
    def open_segment(self) -> Segment | None:
        """The segment started with :meth:`start_segment` and not yet ended (None: none)."""
        rec = self._rec
        return rec.open_segment if rec else None

    def _recording(self) -> _Recording:
        rec = self._rec
        if rec is None:
            raise RuntimeError("no session is being recorded (start the camera first)")
        return rec

    def mark(self, label: str) -> Segment:
        """A point marker at now in the session being recorded (RuntimeError when none)."""
        with self._lock:
            return self._recording().recorder.writer.add_segment(label)

    def start_segment(self, label: str) -> tuple[Segment, Segment | None]:
        """Start a segment at now; an open one is ended at the same instant first (tasks follow
        one another). Returns the new segment and the one it ended (or None)."""
        with self._lock:
            rec = self._recording()
            writer = rec.recorder.writer
            now = writer.clock.now()
            segment = writer.add_segment(label, now)  # validates the label before ending any
            ended = writer.end_segment(rec.open_segment.id, now) if rec.open_segment else None
            rec.open_segment = segment
            return segment, ended

    def end_segment(self) -> Segment | None:
        """End the open segment at now; None when no segment is open."""
        with self._lock:
            rec = self._recording()
            if rec.open_segment is None:
                return None
            ended = rec.recorder.writer.end_segment(rec.open_segment.id)
            rec.open_segment = None
            return ended

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

    def live_counts(self) -> dict[str, int] | None:
        """Frames received and dropped so far in the open session (None when none is open)."""
        rec = self._rec
        return rec.live_counts() if rec is not None else None

    def face_found(self) -> bool | None:
        """Whether the newest processed frame had a face (None before the first frame)."""
        return self.history[-1].n_faces > 0 if self.history else None

    def processed_fps(self, window_s: float = 5.0) -> float:
        """Frames actually processed per second over the last ``window_s`` seconds."""
        recent = [u.processed_at for u in self.history
                  if u.processed_at >= time.monotonic() - window_s]
        if len(recent) < 2 or recent[-1] == recent[0]:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])

    # ----------------------------------------------------------------- processing thread
    def _open(self, info: SessionInfo, save_video: bool) -> _Recording:
        clock = SessionClock(wall=self._now, monotonic=self._monotonic)
        if info.session is None:  # the id now: the opt-in video is named after it
            info = info.replace(session=new_session_id(clock.started_at))
        extra: dict[str, Any] = {"client": "record page"}
        sink = None
        if save_video:
            sink = VideoSink(media_dir() / info.subject / f"{info.session}.avi")
            extra["video_file"] = str(sink.path)
        if self._pipeline is None or self._pipeline.settings != info.settings:
            self._pipeline = FramePipeline(self.model, info.settings)  # prepared once
        recorder = SessionRecorder.open(self.store, self.model, info, pipeline=self._pipeline,
                                        clock=clock, extra=extra)
        self.history.clear()
        self.finished = None
        self.error = None
        return _Recording(recorder, FrameClock.live(clock), sink)

    def process_image(self, image: np.ndarray, media_time: float | None,
                      dropped: int = 0) -> np.ndarray | None:
        """Process one BGR frame into the open (or a newly opened) session.

        ``dropped``: camera frames that arrived since the previous call and were skipped
        unprocessed (the camera component's queue keeps only the newest when processing falls
        behind); counted per session into the metadata's ``extra["live"]``.
        Returns a copy of the frame with boxes and labels drawn (``image`` itself is left as
        it is: a caller may pass the same array again), or None when not armed (show it as is).
        """
        if dropped < 0:
            raise ValueError(f"dropped must be >= 0, got {dropped}")
        with self._lock:
            if self._rec is None:
                if self._armed is None:
                    return None
                self._rec = self._open(*self._armed)
                dropped = 0  # frames skipped before START belong to no session
            rec = self._rec
            rec.received += 1 + dropped
            rec.dropped += dropped
            if rec.sink is not None:
                rec.sink.write(image)  # the raw frame, before anything is drawn on it
            ts = rec.clock.stamp(media_time)
            result = rec.recorder.add(image, ts)
        self._publish(result, ts)
        return draw_results(image.copy(), result)

    def _publish(self, result: FrameResult, ts: datetime) -> None:
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
