"""One recording path: timestamped frames -> :class:`FramePipeline` -> rows -> a session writer.

The live Record page (:mod:`fer_core.live`, fed by ``dashboard/webrtc_glue.py``), ``python -m
fer_core analyze`` and the Record page's upload all record through :class:`SessionRecorder`, so
the same frames with the same timestamps give the same rows whichever way they arrive. All three
open it with one :class:`fer_core.session_info.SessionInfo` (who, what, consent, settings) and
all three hand back one :class:`SessionResult`.

Rows are built in one place, :func:`face_rows`, from the pipeline's faces plus the frame's index and
timestamp. The session context (model name and version, source) is set once, when the session is
opened, and the session writer fills it into every row; the pipeline settings that decide the rows
(``SessionInfo.settings``) are written into the session metadata (``extra["pipeline"]``).

Clocks: every session has one :class:`fer_core.clock.SessionClock` (its start's wall time plus
monotonic seconds), held by its writer and exposed as :attr:`SessionRecorder.clock`; frame
timestamps come from a :class:`fer_core.clock.FrameClock` kept to it (live) or anchored at the
file's start (``analyze``), so a wall-clock step during a recording changes no timestamp order
and no duration.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer_core.clock import SessionClock
from fer_core.logstore import LogStore, SessionWriter
from fer_core.logstore.meta import read_meta
from fer_core.logstore.schema import PROB_COLUMNS
from fer_core.media_check import SkippedInput
from fer_core.pipeline import FaceResult, FramePipeline, FrameResult
from fer_core.session_info import SessionInfo, open_writer

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from fer_core.classifier import Classifier
    from fer_core.models.file_format import LoadedModel


def face_rows(faces: Sequence[FaceResult], timestamp: datetime,
              frame_index: int) -> list[dict[str, Any]]:
    """Log rows of one frame: one per face, or one ``face_detected=False`` row for no face.

    Model name, version and source are not here: the session writer adds them from the
    session's metadata, where they are set once.
    """
    common = {"timestamp": timestamp, "frame_index": frame_index}
    if not faces:
        return [{**common, "face_index": -1, "face_detected": False}]
    rows = []
    for i, f in enumerate(faces):
        row = {
            **common,
            "face_index": i,
            "face_detected": True,
            "box_x": f.box.x,
            "box_y": f.box.y,
            "box_w": f.box.w,
            "box_h": f.box.h,
            "label": f.label,
            "confidence": f.confidence,
            "face_brightness": f.brightness,
            "face_contrast": f.contrast,
        }
        row.update({col: float(v) for col, v in zip(PROB_COLUMNS, f.probs, strict=True)})
        rows.append(row)
    return rows


def pipeline_meta(pipeline: FramePipeline) -> dict[str, Any]:
    """What the session metadata records about the pipeline that made its rows."""
    return {**pipeline.settings.as_dict(), "backend": pipeline.backend}


@dataclass
class SessionResult:
    """What one recording wrote: the one result of live STOP, ``analyze`` and the upload.

    Why one type: the page shows, audits and links to a session the same way whichever path
    made it (it used to be ``FinishedSession``, ``AnalyzeResult`` and the recorder's counters).
    """

    subject: str
    session: str
    source: str
    frames: int = 0  # frames processed and logged
    frames_with_face: int = 0
    rows: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None  # None while open or when the metadata could not be read
    #: items not analysed, each with its reason (files only; also in extra["input_check"])
    skipped: list[SkippedInput] = field(default_factory=list)
    #: items analysed after shrinking to the long-side limit: name -> original (width, height)
    downscaled: dict[str, tuple[int, int]] = field(default_factory=dict)
    video_path: Path | None = None  # live only: the opted-in camera video
    error: str | None = None  # a problem to show beside the result (rows written stay)

    @property
    def duration_s(self) -> float | None:
        """Seconds from the session's start to its end (None when the end is unknown)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class SessionRecorder:
    """Records one session: frames with timestamps in, rows appended to the session's writer.

    Not thread-safe: one thread feeds it (the live glue holds its own lock around it).
    """

    def __init__(self, pipeline: FramePipeline, writer: SessionWriter) -> None:
        self.pipeline = pipeline
        self.writer = writer
        self.frames = 0
        self.frames_with_face = 0
        self.rows = 0
        pipeline.reset()  # a new stream: no tracked faces from an earlier one

    @classmethod
    def open(
        cls,
        store: LogStore,
        model: Classifier | LoadedModel,
        info: SessionInfo,
        *,
        pipeline: FramePipeline | None = None,
        started_at: datetime | None = None,
        clock: SessionClock | None = None,
        extra: dict[str, Any] | None = None,
    ) -> SessionRecorder:
        """Open ``info``'s session in ``store`` and a recorder for it.

        ``info.source`` must be set (:meth:`SessionInfo.for_source`). ``pipeline``: reuse a
        prepared pipeline (building one prepares the network); it must run ``model`` with
        ``info.settings``. Otherwise one is built from them. ``started_at``: the data's own
        clock (a file); ``clock``: the live session clock (default: one started now); give at
        most one. ``extra``: the entry point's own metadata keys.
        """
        if pipeline is None:
            pipeline = FramePipeline(model, info.settings)
        elif pipeline.model is not model:
            raise ValueError("the pipeline must run the session's model")
        elif pipeline.settings != info.settings:
            raise ValueError("the pipeline's settings are not the session's (SessionInfo.settings)")
        writer = open_writer(
            store, info, model_name=model.name, model_version=model.version,
            started_at=started_at, clock=clock,
            extra={**(extra or {}), "pipeline": pipeline_meta(pipeline)},
        )
        return cls(pipeline, writer)

    @property
    def subject(self) -> str:
        return self.writer.subject

    @property
    def session(self) -> str:
        return self.writer.session

    @property
    def source(self) -> str:
        return self.writer.source

    @property
    def clock(self) -> SessionClock:
        """The session's clock (start wall time + monotonic seconds; see fer_core.clock)."""
        return self.writer.clock

    def add(self, frame: np.ndarray, timestamp: datetime) -> FrameResult:
        """Process one frame (BGR or gray uint8) and append its rows."""
        return self.add_many([frame], [timestamp])[0]

    def add_many(self, frames: Sequence[np.ndarray],
                 timestamps: Sequence[datetime]) -> list[FrameResult]:
        """Process consecutive frames with one forward pass for all their faces; append rows."""
        results = self.pipeline.process_many(frames, timestamps, self.frames)
        rows = [row for r in results for row in face_rows(r.faces, r.timestamp, r.frame_index)]
        self.writer.append_many(rows)
        self.frames += len(results)
        self.frames_with_face += sum(bool(r.faces) for r in results)
        self.rows += len(rows)
        return results

    def close(self, ended_at: datetime | None = None) -> None:
        """Flush, compact and close the session (see :meth:`SessionWriter.close`)."""
        self.writer.close(ended_at)

    def result(self) -> SessionResult:
        """The session's :class:`SessionResult` so far (with its end time once closed)."""
        ended_at = None
        try:
            ended_at = read_meta(self.writer.directory).ended_at
        except (OSError, ValueError):  # reported without an end; the rows are on disk
            log.debug("no metadata readable for %s", self.writer.directory, exc_info=True)
        return SessionResult(
            self.subject, self.session, self.source, self.frames, self.frames_with_face,
            self.rows, started_at=self.writer.started_at, ended_at=ended_at)

    def __enter__(self) -> SessionRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
