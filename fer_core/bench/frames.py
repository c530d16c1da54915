"""Frame-pipeline benchmarks: end-to-end frame time, detector settings vs missed faces, scaling.

Every figure is the real :meth:`FramePipeline.process` (gray conversion, Haar, crops, one batched
ten-crop forward pass, log rows) on generated clips of real faces (:mod:`fer_core.bench.clip`).
Contenders (settings, backends) run interleaved within each repeat; per-repeat ratios against a
named baseline are reported with min / median / max.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from tqdm import tqdm

from fer_core.bench.clip import Clip, match_counts
from fer_core.bench.timing import Stats, rotate
from fer_core.detection import Box
from fer_core.models.file_format import LoadedModel
from fer_core.pipeline import DEFAULT_SETTINGS as LIVE_SETTINGS
from fer_core.pipeline import FramePipeline, PipelineSettings

_TS = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DetectSetting:
    """How the pipeline finds faces: Haar input scale and full-scan period."""

    scale: float
    every: int

    @property
    def label(self) -> str:
        return f"scale {self.scale:g}, full scan every {self.every}"

    def pipeline(self, *, crops: str = LIVE_SETTINGS.crops) -> PipelineSettings:
        """The live pipeline settings with this detector scale and full-scan period."""
        return replace(LIVE_SETTINGS, detect_scale=self.scale, detect_every=self.every,
                       crops=crops)


#: The reference for missed faces: full-resolution Haar on every frame.
REFERENCE = DetectSetting(1.0, 1)
DEFAULT_SETTINGS: tuple[DetectSetting, ...] = (
    REFERENCE,
    DetectSetting(0.5, 1),
    DetectSetting(0.5, 3),
    DetectSetting(0.5, 5),
    DetectSetting(0.33, 1),
    DetectSetting(0.33, 5),
    DetectSetting(0.25, 5),
)


@dataclass
class ClipRun:
    """Per-frame wall seconds, detect/classify split and the boxes found, for one clip pass."""

    seconds: list[float]
    detect_ms: list[float]
    classify_ms: list[float]
    boxes: list[list[Box]]

    @property
    def fps(self) -> float:
        return len(self.seconds) / sum(self.seconds)

    @property
    def ms_per_frame(self) -> float:
        return 1000 * sum(self.seconds) / len(self.seconds)


def run_clip(pipe: FramePipeline, clip: Clip) -> ClipRun:
    """Process every frame of ``clip`` from a fresh tracking state."""
    pipe.reset()
    run = ClipRun([], [], [], [])
    for i, frame in enumerate(clip.frames):
        t0 = time.perf_counter()
        res = pipe.process(frame, _TS, i)
        run.seconds.append(time.perf_counter() - t0)
        run.detect_ms.append(res.detect_ms)
        run.classify_ms.append(res.classify_ms)
        run.boxes.append([f.box for f in res.faces])
    return run


def detection_sweep(
    models: dict[str, LoadedModel],
    clip: Clip,
    settings: Sequence[DetectSetting] = DEFAULT_SETTINGS,
    *,
    repeats: int = 3,
    backend: str = "torchscript",
    crops: str = LIVE_SETTINGS.crops,
    progress: bool = True,
) -> dict[str, Any]:
    """frames/s and missed faces per (model, setting); the miss reference is :data:`REFERENCE`."""
    if REFERENCE not in settings:
        settings = (REFERENCE, *settings)
    ref_pipe = FramePipeline(next(iter(models.values())), REFERENCE.pipeline(), backend=backend)
    reference = run_clip(ref_pipe, clip).boxes
    pipes = {
        (m, s): FramePipeline(model, s.pipeline(crops=crops), backend=backend)
        for m, model in models.items()
        for s in settings
    }  # fmt: skip
    runs: dict[tuple[str, DetectSetting], list[ClipRun]] = {k: [] for k in pipes}
    keys = list(pipes)
    bar = tqdm(total=repeats * len(keys), desc="detector settings", disable=not progress)
    for r in range(repeats):
        for key in rotate(keys, r):
            runs[key].append(run_clip(pipes[key], clip))
            bar.update(1)
    bar.close()
    rows = []
    for m in models:
        base = runs[(m, REFERENCE)]
        for s in settings:
            rs = runs[(m, s)]
            total, missed, extra = match_counts(reference, rs[0].boxes)
            gt_total, gt_missed, _ = match_counts(clip.truth, rs[0].boxes)
            rows.append(
                {
                    "model": m,
                    "scale": s.scale,
                    "every": s.every,
                    "fps": Stats.of([x.fps for x in rs]).as_dict(),
                    "ms_per_frame": Stats.of([x.ms_per_frame for x in rs]).as_dict(),
                    "speedup_vs_reference": Stats.of(
                        [b.ms_per_frame / x.ms_per_frame for x, b in zip(rs, base, strict=True)]
                    ).as_dict(),
                    "reference_faces": total,
                    "missed": missed,
                    "missed_rate": missed / total if total else 0.0,
                    "extra_boxes": extra,
                    "truth_faces": gt_total,
                    "truth_found_rate": 1 - gt_missed / gt_total if gt_total else 0.0,
                }
            )
    return {
        "clip": {"frames": len(clip.frames), "width": clip.width, "height": clip.height,
                 "faces": clip.faces},
        "backend": backend,
        "crops": crops,
        "reference_found_rate": 1 - match_counts(clip.truth, reference)[1]
        / max(sum(len(t) for t in clip.truth), 1),
        "rows": rows,
    }  # fmt: skip


def frame_grid(
    models: dict[str, LoadedModel],
    clips: Sequence[Clip],
    *,
    backends: Sequence[str] = ("eager", "torchscript"),
    setting: DetectSetting = DetectSetting(0.5, 1),
    repeats: int = 3,
    crops: str = LIVE_SETTINGS.crops,
    progress: bool = True,
) -> dict[str, Any]:
    """ms/frame for every (model, clip, backend); per-repeat ratio of each backend to the first.

    Used for the 640x480 0/1/3-face table (several backends) and for the frame-size scaling table
    (clips of several sizes, one backend).
    """
    pipes = {
        (m, b): FramePipeline(model, setting.pipeline(crops=crops), backend=b)
        for m, model in models.items()
        for b in backends
    }  # fmt: skip
    keys = [(m, b, c) for (m, b) in pipes for c in range(len(clips))]
    runs: dict[tuple[str, str, int], list[ClipRun]] = {k: [] for k in keys}
    bar = tqdm(total=repeats * len(keys), desc="frame grid", disable=not progress)
    for r in range(repeats):
        for m, b, c in rotate(keys, r):
            runs[(m, b, c)].append(run_clip(pipes[(m, b)], clips[c]))
            bar.update(1)
    bar.close()
    rows = []
    for m, b, c in keys:
        rs, base = runs[(m, b, c)], runs[(m, backends[0], c)]
        clip = clips[c]
        rows.append(
            {
                "model": m,
                "backend": b,
                "width": clip.width,
                "height": clip.height,
                "faces": clip.faces,
                "frames": len(clip.frames),
                "fps": Stats.of([x.fps for x in rs]).as_dict(),
                **timing_stats(rs, base, "time_vs_first_backend"),
                "faces_found_per_frame": sum(len(bx) for bx in rs[0].boxes) / len(clip.frames),
            }
        )
    return {
        "setting": {"scale": setting.scale, "every": setting.every},
        "backends": list(backends),
        "crops": crops,
        "rows": rows,
    }


#: The live path before issue 15: full scan every 3rd frame, re-detection of the grown window at
#: the full scan's scale over the whole pyramid (``track_face_px=None``), a lost face forgotten at
#: once (``track_coast=0``: with one face, exactly the earlier code).
OLD_LIVE = replace(LIVE_SETTINGS, detect_every=3, track_face_px=None, track_coast=0, crops="ten")
#: Live-path contenders: label -> settings; the first is the baseline of the time ratios. The
#: middle one separates the two changes: tracking alone, then the cheaper crops.
LIVE_CONTENDERS: dict[str, PipelineSettings] = {
    "before: every 3, window re-scan, ten-crop": OLD_LIVE,
    f"every {LIVE_SETTINGS.detect_every}, tracked, ten-crop": replace(LIVE_SETTINGS, crops="ten"),
    f"live default: every {LIVE_SETTINGS.detect_every}, tracked, {LIVE_SETTINGS.crops} crops": (
        LIVE_SETTINGS
    ),
}


def timing_stats(
    runs: Sequence[ClipRun], baseline: Sequence[ClipRun], ratio_key: str
) -> dict[str, dict[str, float]]:
    """Per-frame, detect and classify times over repeats, and the time ratio to ``baseline``.

    The ratio is taken repeat by repeat (same position in the interleaved order), so a load that
    shifts one repeat shifts both sides of its ratio; ``ratio_key`` names it in the results.
    """
    return {
        "ms_per_frame": Stats.of([x.ms_per_frame for x in runs]).as_dict(),
        "detect_ms": Stats.of([sum(x.detect_ms) / len(x.detect_ms) for x in runs]).as_dict(),
        "classify_ms": Stats.of([sum(x.classify_ms) / len(x.classify_ms) for x in runs]).as_dict(),
        ratio_key: Stats.of(
            [x.ms_per_frame / y.ms_per_frame for x, y in zip(runs, baseline, strict=True)]
        ).as_dict(),
    }


def per_frame_min(runs: Sequence[ClipRun], attr: str) -> float:
    """Mean over frames of each frame's fastest time across repeats (ms).

    Why: every repeat processes the same frames the same way, so a frame's fastest repeat is the
    one least disturbed by other jobs; on a loaded machine this estimates the unloaded cost far
    better than a mean does (see docs/benchmarks.md, "Live frame path").
    """
    scale = 1000.0 if attr == "seconds" else 1.0
    per_repeat = [getattr(r, attr) for r in runs]
    return scale * sum(min(col) for col in zip(*per_repeat, strict=True)) / len(per_repeat[0])


def live_comparison(
    model: LoadedModel,
    clips: Sequence[Clip],
    contenders: dict[str, PipelineSettings] | None = None,
    *,
    repeats: int = 3,
    backend: str = "torchscript",
    progress: bool = True,
) -> dict[str, Any]:
    """ms/frame, its detect/classify split and missed faces for live-path settings, side by side.

    Every contender runs every clip in each repeat (rotated order); time ratios are to the first
    contender within the same repeat, so a loaded machine shifts the absolute times, not the
    ratios. Misses are counted per clip against full-resolution Haar on every frame.
    """
    contenders = contenders or LIVE_CONTENDERS
    labels = list(contenders)
    pipes = {k: FramePipeline(model, s, backend=backend) for k, s in contenders.items()}
    ref_pipe = FramePipeline(model, REFERENCE.pipeline(), backend=backend)
    references = [run_clip(ref_pipe, clip).boxes for clip in clips]
    keys = [(k, c) for k in labels for c in range(len(clips))]
    runs: dict[tuple[str, int], list[ClipRun]] = {key: [] for key in keys}
    bar = tqdm(total=repeats * len(keys), desc="live path", disable=not progress)
    for r in range(repeats):
        for key in rotate(keys, r):
            runs[key].append(run_clip(pipes[key[0]], clips[key[1]]))
            bar.update(1)
    bar.close()
    rows = []
    for k, c in keys:
        rs, base, clip = runs[(k, c)], runs[(labels[0], c)], clips[c]
        total, missed, extra = match_counts(references[c], rs[0].boxes)
        gt_total, gt_missed, _ = match_counts(clip.truth, rs[0].boxes)
        best = {a: per_frame_min(rs, a) for a in ("seconds", "detect_ms", "classify_ms")}
        rows.append({
            "setting": k,
            "min_ms_per_frame": best["seconds"],
            "min_detect_ms": best["detect_ms"],
            "min_classify_ms": best["classify_ms"],
            "min_time_vs_first": best["seconds"] / per_frame_min(base, "seconds"),
            "min_detect_vs_first": best["detect_ms"] / per_frame_min(base, "detect_ms"),
            "settings": contenders[k].as_dict(),
            "faces": clip.faces,
            "frames": len(clip.frames),
            **timing_stats(rs, base, "time_vs_first"),
            "reference_faces": total,
            "missed": missed,
            "extra_boxes": extra,
            "truth_found_rate": 1 - gt_missed / gt_total if gt_total else 0.0,
        })  # fmt: skip
    return {"backend": backend, "baseline": labels[0],
            "width": clips[0].width, "height": clips[0].height, "rows": rows}
