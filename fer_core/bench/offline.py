"""Offline analysis benchmark: a generated video through ``analyze``, old path vs new.

The video is a generated clip of real faces (:mod:`fer_core.bench.clip`) written as an MJPG AVI
(what OpenCV encodes everywhere) at 30 frames/s. Each contender analyses the whole file into a
throw-away log store, through :func:`fer_core.analyze.analyze_path` itself (decode, detect,
classify, rows, Parquet), so the figure is what a user waits for. Contenders run interleaved per
repeat and each repeat's time is divided by the first contender's.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from fer_core.bench.clip import Clip
from fer_core.bench.timing import Stats, rotate
from fer_core.logstore import LogStore
from fer_core.models.file_format import LoadedModel
from fer_core.pipeline import DEFAULT_SETTINGS, FramePipeline, PipelineSettings


@dataclass(frozen=True)
class OfflineContender:
    """How ``analyze`` runs: pipeline settings, frames per forward pass, decode thread or not."""

    settings: PipelineSettings
    batch_frames: int
    prefetch_frames: int


#: ``analyze`` before issue 15: a full Haar scan of every frame, ten-crop, one frame per forward
#: pass, decoding in the analysing thread.
OLD_ANALYZE = OfflineContender(
    replace(DEFAULT_SETTINGS, detect_every=1, track_face_px=None, track_coast=0, crops="ten"), 1, 0
)
_TEN = replace(DEFAULT_SETTINGS, crops="ten")
OFFLINE_CONTENDERS: dict[str, OfflineContender] = {
    "before: full scan every frame, ten-crop, 1 frame per pass, no decode thread": OLD_ANALYZE,
    "live detection, ten-crop, 1 frame per pass, no decode thread": OfflineContender(_TEN, 1, 0),
    "live detection, ten-crop, 8 frames per pass, decode thread": OfflineContender(_TEN, 8, 16),
    f"live settings ({DEFAULT_SETTINGS.crops} crops), 8 frames per pass, decode thread (default)": (
        OfflineContender(DEFAULT_SETTINGS, 8, 16)
    ),
}


def write_avi(clip: Clip, path: Path, fps: float = 30.0) -> Path:
    """The clip as an MJPG AVI (OpenCV's built-in encoder: no codec to install)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps,
                             (clip.width, clip.height))
    for frame in clip.frames:
        writer.write(frame)
    writer.release()
    return path


def offline_comparison(
    model: LoadedModel,
    clip: Clip,
    contenders: dict[str, OfflineContender] | None = None,
    *,
    fps: float = 30.0,
    repeats: int = 3,
    progress: bool = True,
) -> dict[str, Any]:
    """Wall time of ``analyze`` on ``clip`` (as a ``fps`` video) per contender, and x real time."""
    from fer_core.analyze import analyze_path
    from fer_core.session_info import SessionInfo

    contenders = contenders or OFFLINE_CONTENDERS
    labels = list(contenders)
    pipes = {k: FramePipeline(model, c.settings) for k, c in contenders.items()}
    seconds: dict[str, list[float]] = {k: [] for k in labels}
    faces: dict[str, int] = {}
    video_s = len(clip.frames) / fps
    with tempfile.TemporaryDirectory(prefix="fer-bench-offline-") as tmp:
        video = write_avi(clip, Path(tmp) / "clip.avi", fps)
        store = LogStore(Path(tmp) / "logs", fsync=False)
        bar = tqdm(total=repeats * len(labels), desc="offline analysis", disable=not progress)
        for r in range(repeats):
            for k in rotate(labels, r):
                c = contenders[k]
                t0 = time.perf_counter()
                info = SessionInfo("bench", f"r{r}-{labels.index(k)}", settings=c.settings)
                res = analyze_path(video, info, store=store, pipeline=pipes[k], progress=False,
                                   batch_frames=c.batch_frames, prefetch_frames=c.prefetch_frames)
                seconds[k].append(time.perf_counter() - t0)
                faces[k] = res.frames_with_face
                bar.update(1)
        bar.close()
    rows = []
    for k in labels:
        rows.append({
            "contender": k,
            "settings": contenders[k].settings.as_dict(),
            "batch_frames": contenders[k].batch_frames,
            "prefetch_frames": contenders[k].prefetch_frames,
            "seconds": Stats.of(seconds[k]).as_dict(),
            "frames_per_s": Stats.of([len(clip.frames) / s for s in seconds[k]]).as_dict(),
            "x_real_time": Stats.of([video_s / s for s in seconds[k]]).as_dict(),
            "time_vs_first": Stats.of(
                [s / b for s, b in zip(seconds[k], seconds[labels[0]], strict=True)]
            ).as_dict(),
            "frames_with_face": faces[k],
        })  # fmt: skip
    return {"frames": len(clip.frames), "fps": fps, "width": clip.width, "height": clip.height,
            "faces": clip.faces, "video_s": video_s, "baseline": labels[0], "rows": rows}
