"""Offline analysis: a video file, an image or a folder of images -> one logged session.

Offline analysis records through the very same :class:`fer_core.recording.SessionRecorder`, with
the same pipeline settings, as the live Record page and its upload, so the same frames with the
same timestamps produce identical rows (``tests/test_recording.py`` feeds them through all three).

Clocks: a video's frames are stamped ``start + CAP_PROP_POS_MSEC`` (the container's own clock,
so dropped or variable-rate frames keep their true spacing) by the same
:class:`fer_core.clock.FrameClock` the live page uses; the wall clock is read at most once (the
default ``start``), so a wall-clock step during the analysis changes nothing. An image is
stamped with its file modification time (or the time of analysis, on request). The session is
opened with an explicit ``started_at``, so its end time is the last frame's, not the wall
clock's.

Inputs are checked before the session is created: a missing path, an unsupported file or an
unreadable video raise :class:`MediaError` and leave the store untouched. A damaged image inside a
folder is skipped with a warning and counted, so one bad file never loses the others.
"""

from __future__ import annotations

import logging
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from fer_core.clock import FrameClock, wall_now
from fer_core.errors import FerError
from fer_core.logstore import LogStore, validate_id
from fer_core.pipeline import FramePipeline
from fer_core.recording import SessionRecorder

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".y4m", ".mpg", ".mpeg", ".wmv", ".ogv"}
)
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)

#: Frames whose faces share one forward pass offline (see :func:`analyze_source`).
BATCH_FRAMES = 8
#: Decoded frames a reading thread may hold ahead of the analysis.
PREFETCH_FRAMES = 16
#: ``progress(done, total)``; total is 0 when the number of frames is unknown.
ProgressFn = Callable[[int, int], None]


class MediaError(FerError, ValueError):
    """The path is not a video, image or folder of images that can be analysed."""


@dataclass
class MediaFrame:
    """One decoded frame and the time it shows."""

    image: np.ndarray | None  # BGR uint8; None for an image file that could not be decoded
    timestamp: datetime
    name: str


@dataclass
class MediaSource:
    """An opened input: its kind ("video" or "image"), start time, frame count and frames."""

    path: Path
    kind: str
    started_at: datetime
    total: int
    frames: Iterator[MediaFrame] = field(repr=False)


@dataclass
class AnalyzeResult:
    """What an analysis wrote."""

    subject: str
    session: str
    source: str
    frames: int = 0
    frames_with_face: int = 0
    rows: int = 0
    skipped: list[str] = field(default_factory=list)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _open_video(path: Path, start: datetime | None, every: int) -> MediaSource:
    cap = cv2.VideoCapture(str(path))
    ok, first = cap.read() if cap.isOpened() else (False, None)
    if not ok:
        cap.release()
        raise MediaError(f"cannot read video {path} (corrupt, empty or an unsupported codec)")
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    t0 = start or wall_now()
    clock = FrameClock(max_lag=None, start=t0)  # the file's own clock from t0; never re-anchored

    def frames() -> Iterator[MediaFrame]:
        index, image = 0, first
        try:
            while image is not None:
                if index % every == 0:
                    ms = _frame_ms(cap, index)
                    yield MediaFrame(image, clock.stamp(ms / 1000.0), f"{path.name}#{index}")
                ok, image = cap.read()
                if not ok:
                    image = None
                index += 1
        finally:
            cap.release()

    return MediaSource(path, "video", t0, -(-total // every) if total > 0 else 0, frames())


def _frame_ms(cap: cv2.VideoCapture, index: int) -> float:
    """The presentation time (ms) of the frame just read, from the container's clock."""
    ms = float(cap.get(cv2.CAP_PROP_POS_MSEC))
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0)
    if ms <= 0 and index > 0 and fps > 0:  # backends without timestamps: constant frame rate
        ms = index * 1000.0 / fps
    return max(ms, 0.0)


def _image_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            exts = ", ".join(sorted(IMAGE_EXTENSIONS))
            raise MediaError(f"folder {path} holds no images ({exts})")
        return files
    return [path]


def _open_images(files: list[Path], timestamps: str) -> MediaSource:
    now = wall_now()  # read once: every image of a "now" run gets the same time
    stamps = [_mtime(p) if timestamps == "mtime" else now for p in files]

    def frames() -> Iterator[MediaFrame]:
        for p, ts in zip(files, stamps, strict=True):
            image = cv2.imread(str(p), cv2.IMREAD_COLOR)
            yield MediaFrame(image, ts, p.name)

    return MediaSource(files[0].parent if len(files) > 1 else files[0], "image", min(stamps),
                       len(files), frames())


def open_media(
    path: str | os.PathLike,
    *,
    start: datetime | None = None,
    every: int = 1,
    image_time: str = "mtime",
) -> MediaSource:
    """Open a video file, an image or a folder of images for analysis (checks it first).

    ``start``: the wall-clock time of a video's first frame (default: now). ``every``: analyse
    every n-th video frame. ``image_time``: "mtime" (file modification time) or "now".
    """
    path = Path(path)
    if every < 1:
        raise MediaError("every must be >= 1")
    if image_time not in ("mtime", "now"):
        raise MediaError("image_time must be 'mtime' or 'now'")
    if start is not None and start.tzinfo is None:
        raise MediaError("start must be timezone-aware (e.g. 2026-11-27T10:00:00+00:00)")
    if not path.exists():
        raise MediaError(f"no such file or folder: {path}")
    suffix = path.suffix.lower()
    if path.is_file() and suffix in VIDEO_EXTENSIONS:
        return _open_video(path, start, every)
    if path.is_dir() or suffix in IMAGE_EXTENSIONS:
        return _open_images(_image_files(path), image_time)
    raise MediaError(
        f"{path.name}: unsupported file type {suffix or '(none)'}; expected a video "
        f"({', '.join(sorted(VIDEO_EXTENSIONS))}), an image or a folder of images"
    )


def prefetch(items: Iterator[MediaFrame], size: int) -> Iterator[MediaFrame]:
    """``items``, produced by a thread up to ``size`` ahead of the consumer.

    Why: decoding a frame (OpenCV releases the GIL while it decodes) then overlaps with
    detection and classification on the other core. The iterator is consumed on that thread only;
    an error there is raised here, and leaving early stops the thread (the source is closed).
    """
    buffer: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=max(size, 1))
    stop = threading.Event()

    def put(kind: str, value: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    break
            else:
                put("end", None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put("error", exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="analyze-decode", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = buffer.get()
            if kind == "end":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


def analyze_source(
    media: MediaSource,
    pipeline: FramePipeline,
    store: LogStore,
    subject: str,
    session: str | None = None,
    *,
    label: str = "",
    notes: str = "",
    operator: str = "",
    consent: dict | None = None,
    progress: bool = True,
    on_progress: ProgressFn | None = None,
    batch_frames: int = BATCH_FRAMES,
    prefetch_frames: int = PREFETCH_FRAMES,
) -> AnalyzeResult:
    """Record every frame of ``media`` through ``pipeline`` into a new session of ``store``.

    ``batch_frames`` consecutive frames are detected one by one and their faces classified in
    one forward pass (see :meth:`FramePipeline.process_many`); a thread decodes up to
    ``prefetch_frames`` ahead (0: decode in this thread).
    """
    from tqdm import tqdm

    validate_id(subject, "subject")
    if session is not None:
        validate_id(session, "session")
    if batch_frames < 1:
        raise ValueError("batch_frames must be >= 1")
    recorder = SessionRecorder.open(
        store, pipeline.model, subject, session, source=media.kind, pipeline=pipeline,
        started_at=media.started_at, operator=operator, label=label, notes=notes,
        consent=consent, extra={"input": media.path.name},
    )
    result = AnalyzeResult(subject, recorder.session, media.kind)
    bar = tqdm(total=media.total or None, desc=f"analyze {media.path.name}", unit="frame",
               disable=not progress)
    images: list[np.ndarray] = []
    stamps: list[datetime] = []

    def record_batch() -> None:
        recorder.add_many(images, stamps)
        bar.update(len(images))
        images.clear()
        stamps.clear()
        if on_progress is not None:
            on_progress(recorder.frames + len(result.skipped), media.total)

    try:
        frames = prefetch(media.frames, prefetch_frames) if prefetch_frames else media.frames
        for item in frames:
            if item.image is None:
                log.warning("skipped %s: not a readable image", item.name)
                result.skipped.append(item.name)
                bar.update(1)
                continue
            images.append(item.image)
            stamps.append(item.timestamp)
            if len(images) >= batch_frames:
                record_batch()
        if images:
            record_batch()
    finally:
        bar.close()
        recorder.close()
    result.frames, result.frames_with_face = recorder.frames, recorder.frames_with_face
    result.rows = recorder.rows
    if result.frames == 0:
        # nothing could be decoded: an empty session would only confuse the dashboard
        store.delete_session(subject, recorder.session)
        raise MediaError(f"no readable frame in {media.path} ({len(result.skipped)} skipped)")
    log.info("%s: %d frames (%d with a face), %d rows -> subject %s session %s%s",
             media.path.name, result.frames, result.frames_with_face, result.rows, subject,
             recorder.session, f"; skipped {len(result.skipped)}" if result.skipped else "")
    return result


def analyze_uploads(
    files: Sequence[tuple[str, bytes]],
    pipeline: FramePipeline,
    store: LogStore,
    subject: str,
    *,
    start: datetime | None = None,
    label: str = "",
    notes: str = "",
    operator: str = "",
    consent: dict | None = None,
    on_progress: ProgressFn | None = None,
) -> AnalyzeResult:
    """The Record page's upload: one video or any number of images, as (file name, bytes).

    The bytes go to a temporary folder that is deleted afterwards (the upload is never kept);
    images are stamped with the time of analysis, a video with ``start`` (default: now) plus
    its own clock.
    """
    if not files:
        raise MediaError("nothing uploaded")
    videos = [name for name, _ in files if Path(name).suffix.lower() in VIDEO_EXTENSIONS]
    if videos and len(files) > 1:
        raise MediaError("upload one video, or any number of images, per analysis")
    with tempfile.TemporaryDirectory(prefix="fer-upload-") as tmp:
        for i, (name, data) in enumerate(files):
            (Path(tmp) / f"{i:05d}_{Path(name).name}").write_bytes(data)
        target = next(Path(tmp).iterdir()) if videos else Path(tmp)
        media = open_media(target, start=start, image_time="now")
        return analyze_source(
            media, pipeline, store, subject, label=label, notes=notes, operator=operator,
            consent=consent, progress=False, on_progress=on_progress,
        )


def default_pipeline(model: str | os.PathLike | None = None) -> FramePipeline:
    """A pipeline with the default (or named) shipped model and the live settings."""
    from fer_core.models.file_format import load_model
    from fer_core.models.shipped import resolve_model_path

    return FramePipeline(load_model(resolve_model_path(model)))


def analyze_path(
    path: str | os.PathLike,
    subject: str,
    session: str | None = None,
    *,
    store: LogStore | None = None,
    pipeline: FramePipeline | None = None,
    start: datetime | None = None,
    every: int = 1,
    image_time: str = "mtime",
    label: str = "",
    notes: str = "",
    consent: dict | None = None,
    progress: bool = True,
    on_progress: ProgressFn | None = None,
    batch_frames: int = BATCH_FRAMES,
    prefetch_frames: int = PREFETCH_FRAMES,
) -> AnalyzeResult:
    """Analyse a video, an image or a folder of images into the log store (see module doc)."""
    validate_id(subject, "subject")
    if session is not None:
        validate_id(session, "session")
    media = open_media(path, start=start, every=every, image_time=image_time)
    return analyze_source(
        media, pipeline or default_pipeline(), store or LogStore(), subject, session,
        label=label, notes=notes, consent=consent, progress=progress, on_progress=on_progress,
        batch_frames=batch_frames, prefetch_frames=prefetch_frames,
    )
