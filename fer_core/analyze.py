"""Offline analysis: a video file, an image or a folder of images -> one logged session.

Offline analysis records through the very same :class:`fer_core.recording.SessionRecorder`, with
the same pipeline settings, as the live Record page and its upload, so the same frames with the
same timestamps produce identical rows (``tests/test_recording.py`` feeds them through all three).

Clocks: a video's frames are stamped ``start + CAP_PROP_POS_MSEC`` (the container's own clock,
so dropped or variable-rate frames keep their true spacing) by the same
:class:`fer_core.clock.FrameClock` live recording uses (:meth:`FrameClock.from_file` here,
:meth:`FrameClock.live` there); the wall clock is read at most once (the default ``start``), so a
wall-clock step during the analysis changes nothing. An image is stamped with its file
modification time (:func:`fer_core.clock.file_time`) or the time of analysis, on request. The
session is opened with an explicit ``started_at``, so its end time is the last frame's, not the
wall clock's.

Inputs are checked before the session is created: a missing path, an unsupported file or an
unreadable video raise :class:`MediaError` and leave the store untouched. Every item is then
checked on its own (:mod:`fer_core.media_check`): an image that is unreadable, of the wrong type,
too small or declares absurdly many pixels is skipped with its reason (logged, in
:attr:`SessionResult.skipped` and in the session metadata's ``extra["input_check"]``), and a frame
larger than 2048 px on its long side is shrunk before detection, so one bad file never loses the
others. The session is created when the first good frame is ready: a run in which no frame can be
analysed writes nothing at all.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from fer_core.clock import FrameClock, file_time, wall_now
from fer_core.errors import FerError
from fer_core.logstore import LogStore, SessionExistsError
from fer_core.logstore.layout import session_dir
from fer_core.logstore.meta import update_meta
from fer_core.media_check import (
    DEFAULT_LIMITS,
    FrameLimits,
    InputRejected,
    SkippedInput,
    fit_frame,
    is_large,
    load_image,
)
from fer_core.pipeline import FramePipeline, PipelineSettings
from fer_core.recording import SessionRecorder, SessionResult
from fer_core.session_info import SessionInfo

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
    """One decoded frame and the time it shows, or the reason it cannot be analysed."""

    image: np.ndarray | None  # BGR or gray uint8; None for an item that was rejected
    timestamp: datetime
    name: str
    reason: str = ""  # why ``image`` is None (see fer_core.media_check)
    original_size: tuple[int, int] | None = None  # (w, h) before shrinking, when shrunk


@dataclass
class MediaSource:
    """An opened input: its kind ("video" or "image"), start time, frame count and frames."""

    path: Path
    kind: str
    started_at: datetime
    total: int
    frames: Iterator[MediaFrame] = field(repr=False)
    #: the name the input is reported by (metadata ``extra["input"]``, messages); default: the
    #: path's name (an upload sets the uploaded file's name, not its temporary one)
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.path.name


def _open_video(path: Path, start: datetime | None, every: int,
                limits: FrameLimits = DEFAULT_LIMITS) -> MediaSource:
    cap = cv2.VideoCapture(str(path))
    try:
        ok, first = cap.read() if cap.isOpened() else (False, None)
    except cv2.error:
        ok, first = False, None
    if not ok or first is None:
        cap.release()
        raise MediaError(f"cannot read video {path} (corrupt, empty or an unsupported codec)")
    try:
        fit_frame(first, limits)
    except InputRejected as exc:  # every frame of a video has the first one's size
        cap.release()
        raise MediaError(f"cannot analyse video {path.name}: frames are {exc}") from None
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    t0 = start or wall_now()
    clock = FrameClock.from_file(t0)  # the file's own clock from t0; never re-anchored

    def frames() -> Iterator[MediaFrame]:
        index, image = 0, first
        try:
            while image is not None:
                if index % every == 0:
                    ms = _frame_ms(cap, index)
                    yield _video_frame(image, clock.stamp(ms / 1000.0),
                                       f"{path.name}#{index}", limits)
                ok, image = cap.read()
                if not ok:
                    image = None
                index += 1
        finally:
            cap.release()

    return MediaSource(path, "video", t0, -(-total // every) if total > 0 else 0, frames())


def _video_frame(image: np.ndarray, ts: datetime, name: str, limits: FrameLimits) -> MediaFrame:
    """A decoded video frame, checked and shrunk here (on the decoding thread, so that the
    prefetch queue holds shrunk frames only)."""
    height, width = image.shape[:2]
    try:
        fitted, shrunk = fit_frame(image, limits)
    except InputRejected as exc:  # a stream whose frame size changed mid-way
        return MediaFrame(None, ts, name, reason=str(exc))
    return MediaFrame(fitted, ts, name, original_size=(width, height) if shrunk else None)


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


def _open_images(files: list[Path], timestamps: str, limits: FrameLimits = DEFAULT_LIMITS,
                 names: Mapping[str, str] | None = None) -> MediaSource:
    now = wall_now()  # read once: every image of a "now" run gets the same time
    stamps = [file_time(p) if timestamps == "mtime" else now for p in files]
    shrunk, rejected, scratch = _shrink_large_images(files, limits)

    def frames() -> Iterator[MediaFrame]:
        try:
            for p, ts in zip(files, stamps, strict=True):
                name = (names or {}).get(p.name, p.name)
                if p in rejected:
                    yield MediaFrame(None, ts, name, reason=rejected[p])
                elif p in shrunk:
                    stored, original = shrunk[p]
                    yield MediaFrame(np.load(stored), ts, name, original_size=original)
                    stored.unlink()
                else:
                    yield _image_frame(p, ts, name, limits)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

    source = MediaSource(files[0].parent if len(files) > 1 else files[0], "image", min(stamps),
                         len(files), frames())
    if scratch is not None:  # also when the frames are never read
        weakref.finalize(source, shutil.rmtree, scratch, ignore_errors=True)
    return source


def _image_frame(path: Path, ts: datetime, name: str, limits: FrameLimits) -> MediaFrame:
    """One image file, decoded within ``limits``, or the reason it cannot be analysed."""
    try:
        image, original = load_image(path, limits)
    except InputRejected as exc:
        return MediaFrame(None, ts, name, reason=str(exc))
    except Exception as exc:  # a decoder failing in its own way on a hostile file
        log.debug("decoding %s failed", path, exc_info=True)
        return MediaFrame(None, ts, name, reason=f"not a readable image ({exc})")
    return MediaFrame(image, ts, name, original_size=original)


def _shrink_large_images(
    files: Sequence[Path], limits: FrameLimits,
) -> tuple[dict[Path, tuple[Path, tuple[int, int]]], dict[Path, str], Path | None]:
    """Decode and shrink the images larger than ``limits.max_side`` now, into a scratch folder.

    Why now: :func:`open_media` runs before the model is loaded (``analyze`` loads it after
    checking its inputs), so the one moment a large image is held whole (a PNG decodes at one
    byte per pixel) does not add to the model's memory. Each shrunk frame (at most
    ``max_side`` squared bytes) waits as a ``.npy`` file and is deleted once read. Returns
    {file: (npy file, original size)}, {file: reason rejected}, the scratch folder (or None).
    """
    large = [p for p in files if is_large(p, limits)]
    if not large:
        return {}, {}, None
    scratch = Path(tempfile.mkdtemp(prefix="fer-analyze-"))
    shrunk: dict[Path, tuple[Path, tuple[int, int]]] = {}
    rejected: dict[Path, str] = {}
    log.info("shrinking %d image(s) larger than %d px before analysis", len(large),
             limits.max_side)
    try:
        for i, p in enumerate(large):
            item = _image_frame(p, wall_now(), p.name, limits)  # the time is not used
            if item.image is None:
                rejected[p] = item.reason
                continue
            stored = scratch / f"{i:06d}.npy"
            np.save(stored, item.image)
            shrunk[p] = (stored, item.original_size or item.image.shape[1::-1])
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return shrunk, rejected, scratch


def open_media(
    path: str | os.PathLike,
    *,
    start: datetime | None = None,
    every: int = 1,
    image_time: str = "mtime",
    limits: FrameLimits = DEFAULT_LIMITS,
    names: Mapping[str, str] | None = None,
) -> MediaSource:
    """Open a video file, an image or a folder of images for analysis (checks it first).

    ``start``: the wall-clock time of a video's first frame (default: now). ``every``: analyse
    every n-th video frame. ``image_time``: "mtime" (file modification time) or "now".
    ``limits``: the size checks of every frame (:mod:`fer_core.media_check`). ``names``: file
    name -> the name to report it by (the upload's temporary files carry their original names).
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
        return _open_video(path, start, every, limits)
    if path.is_dir() or suffix in IMAGE_EXTENSIONS:
        return _open_images(_image_files(path), image_time, limits, names)
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
    info: SessionInfo,
    *,
    progress: bool = True,
    on_progress: ProgressFn | None = None,
    batch_frames: int = BATCH_FRAMES,
    prefetch_frames: int = PREFETCH_FRAMES,
    limits: FrameLimits = DEFAULT_LIMITS,
) -> SessionResult:
    """Record every frame of ``media`` through ``pipeline`` into ``info``'s new session.

    ``info`` (ids already validated) is the session's context; its source becomes the media's
    kind and ``pipeline`` must run with ``info.settings``. ``batch_frames`` consecutive frames
    are detected one by one and their faces classified in one forward pass (see
    :meth:`FramePipeline.process_many`); a thread decodes up to ``prefetch_frames`` ahead (0:
    decode in this thread).

    Rejected items are skipped and reported (see module doc). The session is opened at the first
    good frame, so a source with none raises :class:`MediaError` and writes nothing; an id
    already taken is refused before anything is decoded.
    """
    from tqdm import tqdm

    info = info.for_source(media.kind)
    subject, session = info.subject, info.session
    if session is not None and session_dir(store.root, subject, session).exists():
        raise SessionExistsError(
            f"session {session!r} of subject {subject!r} already exists in {store.root}")
    if batch_frames < 1:
        raise ValueError("batch_frames must be >= 1")
    if pipeline.settings != info.settings:
        raise ValueError("the pipeline's settings are not the session's (SessionInfo.settings)")
    recorder: SessionRecorder | None = None
    result = SessionResult(subject, session or "", media.kind)
    bar = tqdm(total=media.total or None, desc=f"analyze {media.name}", unit="frame",
               disable=not progress)
    images: list[np.ndarray] = []
    stamps: list[datetime] = []

    def record_batch() -> None:
        nonlocal recorder
        if recorder is None:  # the first good frame: now the session exists
            recorder = SessionRecorder.open(
                store, pipeline.model, info, pipeline=pipeline, started_at=media.started_at,
                extra={"input": media.name},
            )
            result.session = recorder.session
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
                log.warning("skipped %s: %s", item.name, item.reason or "not a readable image")
                result.skipped.append(SkippedInput(item.name,
                                                   item.reason or "not a readable image"))
                bar.update(1)
                if on_progress is not None:
                    on_progress((recorder.frames if recorder else 0) + len(images)
                                + len(result.skipped), media.total)
                continue
            if item.original_size is not None:
                w, h = item.original_size
                result.downscaled[item.name] = (w, h)
                log.info("%s is %dx%d px: shrunk to %d px on its long side before detection",
                         item.name, w, h, limits.max_side)
            images.append(item.image)
            stamps.append(item.timestamp)
            if len(images) >= batch_frames:
                record_batch()
        if images:
            record_batch()
    finally:
        bar.close()
        if recorder is not None:
            recorder.close()
            _record_input_check(store, subject, recorder.session, result, limits)
    if recorder is None:
        # nothing could be analysed: no session was created (an empty one would only confuse)
        reasons = "; ".join(str(s) for s in result.skipped[:5])
        more = f" (and {len(result.skipped) - 5} more)" if len(result.skipped) > 5 else ""
        raise MediaError(f"no readable frame in {media.name} ({len(result.skipped)} "
                         f"skipped{': ' + reasons if reasons else ''}{more}); nothing written")
    done = recorder.result()
    result.frames, result.frames_with_face, result.rows = done.frames, done.frames_with_face, \
        done.rows
    result.started_at, result.ended_at = done.started_at, done.ended_at
    log.info("%s: %d frames (%d with a face), %d rows -> subject %s session %s%s",
             media.name, result.frames, result.frames_with_face, result.rows, subject,
             recorder.session, f"; skipped {len(result.skipped)}" if result.skipped else "")
    return result


def _record_input_check(store: LogStore, subject: str, session: str, result: SessionResult,
                        limits: FrameLimits) -> None:
    """Keep what was skipped or shrunk in the session metadata (``extra["input_check"]``).

    Why after closing: items are checked as they are decoded, so the full list is known only
    at the end. A failure here loses no rows; it is logged, the summary still reports it.
    """
    check = {
        "limits": limits.as_dict(),
        "skipped": [s.as_dict() for s in result.skipped],
        "downscaled": [{"name": n, "width": w, "height": h}
                       for n, (w, h) in result.downscaled.items()],
    }
    try:
        update_meta(session_dir(store.root, subject, session),
                    lambda m: m.extra.__setitem__("input_check", check), fsync=store.fsync)
    except (OSError, ValueError) as exc:
        log.warning("could not record the input check in %s/%s's metadata: %s",
                    subject, session, exc)


def analyze_uploads(
    files: Sequence[tuple[str, bytes]],
    pipeline: FramePipeline,
    store: LogStore,
    info: SessionInfo,
    *,
    start: datetime | None = None,
    on_progress: ProgressFn | None = None,
    limits: FrameLimits = DEFAULT_LIMITS,
) -> SessionResult:
    """The Record page's upload: one video or any number of images, as (file name, bytes).

    The bytes go to a temporary folder that is deleted afterwards (the upload is never kept);
    images are stamped with the time of analysis, a video with ``start`` (default: now) plus
    its own clock. A file of another type is skipped and reported like an unreadable image.
    """
    if not files:
        raise MediaError("nothing uploaded")
    videos = [name for name, _ in files if Path(name).suffix.lower() in VIDEO_EXTENSIONS]
    if videos and len(files) > 1:
        raise MediaError("upload one video, or any number of images, per analysis")
    wrong = [SkippedInput(Path(name).name, f"unsupported file type "
                          f"{Path(name).suffix.lower() or '(none)'}")
             for name, _ in files
             if Path(name).suffix.lower() not in VIDEO_EXTENSIONS | IMAGE_EXTENSIONS]
    with tempfile.TemporaryDirectory(prefix="fer-upload-") as tmp:
        names: dict[str, str] = {}
        for i, (name, data) in enumerate(files):
            if Path(name).suffix.lower() not in VIDEO_EXTENSIONS | IMAGE_EXTENSIONS:
                continue
            stored = f"{i:05d}_{Path(name).name}"
            (Path(tmp) / stored).write_bytes(data)
            names[stored] = Path(name).name
        if not names:
            raise MediaError("no video or image among the uploaded files: "
                             + "; ".join(str(w) for w in wrong))
        target = next(Path(tmp).iterdir()) if videos else Path(tmp)
        media = open_media(target, start=start, image_time="now", limits=limits, names=names)
        media.name = names[target.name] if videos else f"upload of {len(files)} file(s)"
        if wrong:
            media.frames = _with_rejected(wrong, media.frames, media.started_at)
            media.total += len(wrong)
        return analyze_source(media, pipeline, store, info, progress=False,
                              on_progress=on_progress, limits=limits)


def _with_rejected(rejected: Sequence[SkippedInput], frames: Iterator[MediaFrame],
                   ts: datetime) -> Iterator[MediaFrame]:
    """``frames`` preceded by items rejected before decoding (reported the same way)."""
    for item in rejected:
        yield MediaFrame(None, ts, item.name, reason=item.reason)
    yield from frames


def default_pipeline(model: str | os.PathLike | None = None,
                     settings: PipelineSettings | None = None) -> FramePipeline:
    """A pipeline with the default (or named) shipped model and ``settings`` (default: live's).

    The model runs with ONNX Runtime when its graph is shipped beside it, PyTorch otherwise
    (:func:`fer_core.classifier.load_classifier`, ``FER_RUNTIME`` overrides).
    """
    from fer_core.classifier import load_classifier
    from fer_core.models.shipped import resolve_model_path

    classifier = load_classifier(resolve_model_path(model))
    return FramePipeline(classifier, settings) if settings else FramePipeline(classifier)


def analyze_path(
    path: str | os.PathLike,
    info: SessionInfo,
    *,
    store: LogStore | None = None,
    pipeline: FramePipeline | None = None,
    start: datetime | None = None,
    every: int = 1,
    image_time: str = "mtime",
    progress: bool = True,
    on_progress: ProgressFn | None = None,
    batch_frames: int = BATCH_FRAMES,
    prefetch_frames: int = PREFETCH_FRAMES,
    limits: FrameLimits = DEFAULT_LIMITS,
) -> SessionResult:
    """Analyse a video, an image or a folder of images into ``info``'s new session (see module
    doc). ``pipeline`` default: the default shipped model with ``info.settings``."""
    media = open_media(path, start=start, every=every, image_time=image_time, limits=limits)
    return analyze_source(
        media, pipeline or default_pipeline(settings=info.settings), store or LogStore(), info,
        progress=progress, on_progress=on_progress, batch_frames=batch_frames,
        prefetch_frames=prefetch_frames, limits=limits,
    )
