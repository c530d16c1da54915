"""The per-frame path, in one place: detect -> crop -> classify -> log rows.

The live Record page, offline ``analyze`` and the tests all call :meth:`FramePipeline.process`.
It returns results (boxes, probabilities, log rows) and never writes logs itself: the caller hands
the rows to a log writer, which keeps this hot path free of disk I/O.

Speed (a 2-core laptop must keep up with a webcam):
* one grayscale conversion per frame, Haar on a downscaled copy (see :mod:`fer_core.detection`);
* optionally a full-frame scan only every ``detect_every`` frames, with re-detection restricted to
  the neighbourhood of the last faces in between;
* all faces of a frame go through the network as one batch (ten crops each), under
  ``inference_mode``, prepared by the model's own :class:`~fer_core.preprocess.Preprocess`
  (the same function as training and ``evaluate``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
import torch

from fer_core.detection import Box, FaceDetector
from fer_core.labels import FER2013_CLASSES
from fer_core.logstore.schema import PROB_COLUMNS
from fer_core.modelfile import LoadedModel
from fer_core.preprocess import predict_proba
from fer_core.runtime import DEFAULT_BACKEND, optimize_or_eager

# the log schema owns the column names; importing it keeps pipeline rows and files in step


@dataclass
class FaceResult:
    """One classified face."""

    box: Box
    probs: np.ndarray  # (7,) in FER2013 class order
    label: str
    confidence: float


@dataclass
class FrameResult:
    """Everything the pipeline learned from one frame, plus the log rows to append."""

    frame_index: int
    timestamp: datetime
    faces: list[FaceResult]
    rows: list[dict[str, Any]]
    detect_ms: float
    classify_ms: float
    full_scan: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """BGR (H, W, 3), BGRA or already-gray (H, W) uint8 -> gray (H, W) uint8."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"unsupported frame shape {frame.shape}: expected gray, BGR or BGRA")


class FramePipeline:
    """Detect faces, classify each with the model, and produce log rows for one frame."""

    def __init__(
        self,
        model: LoadedModel,
        detector: FaceDetector | None = None,
        *,
        tencrop: bool = True,
        detect_every: int = 1,
        max_faces: int = 8,
        source: str = "webcam",
        backend: str = DEFAULT_BACKEND,
    ) -> None:
        if tuple(model.classes) != FER2013_CLASSES:
            raise ValueError(
                f"the live pipeline logs FER2013's 7 classes; model {model.name!r} predicts "
                f"{model.classes}"
            )
        self.model = model
        self.net = optimize_or_eager(model, backend)  # fer_core.runtime: same outputs, faster
        self.detector = detector or FaceDetector()
        self.tencrop = tencrop
        self.detect_every = max(int(detect_every), 1)
        self.max_faces = max_faces
        self.source = source
        self._last_boxes: list[Box] = []
        self._since_full = 0
        self._device = next(model.net.parameters()).device
        self._pre = dataclasses.replace(
            model.preprocess, test_crops="ten" if tencrop else "center"
        )

    def reset(self) -> None:
        """Forget tracked faces (call at the start of a new stream)."""
        self._last_boxes = []
        self._since_full = 0

    def _detect(self, gray: np.ndarray) -> tuple[list[Box], bool]:
        full = self.detect_every == 1 or not self._last_boxes or self._since_full >= (
            self.detect_every - 1
        )
        if full:
            boxes = self.detector.detect(gray)
            self._since_full = 0
        else:
            boxes = self.detector.detect_in_regions(gray, self._last_boxes)
            self._since_full += 1
        boxes = boxes[: self.max_faces]
        self._last_boxes = boxes
        return boxes, full

    @torch.inference_mode()
    def classify(self, gray: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """Probabilities (n_faces, 7) for ``boxes`` in ``gray``: one batched forward pass."""
        n = len(boxes)
        if n == 0:
            return np.zeros((0, len(FER2013_CLASSES)), dtype=np.float32)
        size = self._pre.input_size
        faces = np.empty((n, size, size), dtype=np.uint8)
        for i, b in enumerate(boxes):
            crop = gray[b.y : b.y + b.h, b.x : b.x + b.w]
            faces[i] = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
        return predict_proba(self.net, faces, self._pre, device=self._device)

    def process(
        self, frame: np.ndarray, timestamp: datetime | None = None, frame_index: int = 0
    ) -> FrameResult:
        """Run the whole per-frame path on ``frame`` (BGR or gray uint8)."""
        if frame is None or not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            raise ValueError("frame must be a uint8 numpy array")
        ts = timestamp or datetime.now(UTC)
        gray = to_gray(frame)
        t0 = time.perf_counter()
        boxes, full = self._detect(gray)
        t1 = time.perf_counter()
        probs = self.classify(gray, boxes)
        t2 = time.perf_counter()
        faces = []
        for box, p in zip(boxes, probs, strict=True):
            k = int(p.argmax())
            faces.append(FaceResult(box, p, FER2013_CLASSES[k], float(p[k])))
        return FrameResult(
            frame_index=frame_index,
            timestamp=ts,
            faces=faces,
            rows=self.rows_for(faces, ts, frame_index),
            detect_ms=(t1 - t0) * 1000,
            classify_ms=(t2 - t1) * 1000,
            full_scan=full,
        )

    def rows_for(
        self, faces: list[FaceResult], timestamp: datetime, frame_index: int
    ) -> list[dict[str, Any]]:
        """Log rows of one frame: one per face, or one face_detected=False row for no face."""
        common = {
            "timestamp": timestamp,
            "frame_index": frame_index,
            "model_name": self.model.name,
            "model_version": self.model.version,
            "source": self.source,
        }
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
            }
            row.update({col: float(v) for col, v in zip(PROB_COLUMNS, f.probs, strict=True)})
            rows.append(row)
        return rows


def draw_results(frame: np.ndarray, result: FrameResult) -> np.ndarray:
    """Draw boxes, label and confidence on a BGR frame (in place) and return it."""
    for f in result.faces:
        b = f.box
        cv2.rectangle(frame, (b.x, b.y), (b.x + b.w, b.y + b.h), (80, 200, 80), 2)
        text = f"{f.label} {100 * f.confidence:.0f}%"
        cv2.putText(
            frame, text, (b.x, max(b.y - 8, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (80, 200, 80), 2
        )
    return frame
