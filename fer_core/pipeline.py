"""The per-frame path, in one place: detect -> crop -> classify -> faces.

The live Record page, offline ``analyze``, the upload and the tests all run frames through
:class:`FramePipeline` (via :class:`fer_core.recording.SessionRecorder`, which turns faces into log
rows). The pipeline returns faces only; it knows nothing of log rows, sessions or disk I/O.

Every setting that changes what is found or predicted lives in one frozen
:class:`PipelineSettings`; the recorder writes it into the session metadata, and live and offline
use the same :data:`DEFAULT_SETTINGS`, so a recorded webcam session and an analysed video of the
same frames give the same rows.

Speed (a 2-core laptop must keep up with a webcam):
* one grayscale conversion per frame, Haar on a downscaled copy (see :mod:`fer_core.detection`);
* a full-frame scan only every ``detect_every`` frames, with re-detection restricted to the
  neighbourhood of the last faces in between;
* all faces of a frame (or, offline, of several frames: :meth:`FramePipeline.process_many`) go
  through the network as one batch, via :func:`fer_core.inference.predict_faces`, prepared by
  the model's own :class:`~fer_core.preprocess.Preprocess` (the same function as training);
* the model's :class:`~fer_core.classifier.Classifier` (ONNX Runtime or PyTorch, with the
  settings' crops) is built once per pipeline, never per frame.

Torch-free: with a classifier loaded by :func:`fer_core.classifier.load_classifier` from an
``.onnx`` graph, this module and everything it imports run without PyTorch installed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from fer_core.classifier import Classifier
from fer_core.detection import Box, FaceDetector, iou
from fer_core.inference import predict_faces
from fer_core.labels import FER2013_CLASSES
from fer_core.preprocess import TEST_CROPS

if TYPE_CHECKING:
    from fer_core.models.file_format import LoadedModel


@dataclass(frozen=True)
class PipelineSettings:
    """Everything that changes which faces are found and what is predicted for them.

    Why one object: these values decide the logged rows, so they are written into every
    session's metadata (``extra["pipeline"]``) and shared by the live and offline paths.
    """

    detect_every: int = 10  # a full Haar scan every n-th frame, re-detection around faces between
    detect_scale: float = 0.5  # Haar runs on the frame shrunk by this factor
    min_face: int = 48  # smallest face side found by a full scan, full-frame pixels
    scale_factor: float = 1.1  # Haar scale pyramid step
    min_neighbors: int = 5
    track_grow: float = 1.6  # re-detection window: the last box grown by this factor
    #: between full scans, re-detect with the previous face shrunk to this many pixels and a
    #: pyramid cut to its size (:meth:`FaceDetector.detect_near`); None: re-detect the window at
    #: ``detect_scale`` with the full pyramid (the slower path used before, for comparison)
    track_face_px: int | None = 80
    track_min_neighbors: int = 3  # Haar's min_neighbors for that re-detection
    #: frames a lost face is still searched for where it was before a full scan (Haar flickers)
    track_coast: int = 1
    max_faces: int = 8
    #: test-time crops per face (:data:`fer_core.preprocess.CROPS_PER_FACE`): the centre crop
    #: and its mirror, a fifth of ten-crop's work for 0.3 points of PublicTest accuracy
    #: (docs/benchmarks.md, "Crops per face"); "ten" is the seed's evaluated protocol
    crops: str = "flip"

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError("detect_every must be >= 1")
        if self.max_faces < 1:
            raise ValueError("max_faces must be >= 1")
        if self.crops not in TEST_CROPS:
            raise ValueError(f"crops must be one of {TEST_CROPS}, got {self.crops!r}")

    def as_dict(self) -> dict[str, Any]:
        """Plain values for the session metadata."""
        return dataclasses.asdict(self)

    def detector(self) -> FaceDetector:
        """A detector with these settings (one per pipeline: cascades are not thread-safe)."""
        return FaceDetector(scale=self.detect_scale, min_face=self.min_face,
                            scale_factor=self.scale_factor, min_neighbors=self.min_neighbors)


#: The settings of the live Record page, ``analyze`` and the upload alike (docs/benchmarks.md
#: "Live frame path": a full scan every 10th frame and size-matched re-detection between miss no
#: more faces than the earlier full scan every 3rd frame, at a fraction of the detection time).
DEFAULT_SETTINGS = PipelineSettings()


@dataclass
class FaceResult:
    """One classified face."""

    box: Box
    probs: np.ndarray  # (7,) in FER2013 class order
    label: str
    confidence: float
    #: mean and standard deviation of the face crop's gray levels (0-255) before equalisation:
    #: how well lit the face is and how much detail it shows (recording quality,
    #: :mod:`fer_core.measures.quality`); None when not measured
    brightness: float | None = None
    contrast: float | None = None


def crop_light(crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Brightness (mean gray level) and contrast (its standard deviation) of each uint8 crop.

    Why the crop and not the frame, and before equalisation: the model sees the face, and
    equalisation (:class:`fer_core.preprocess.Preprocess`) would stretch a dark, flat face to
    look like a well-lit one, hiding exactly what recording quality must report. OpenCV's
    ``meanStdDev`` per crop: about 6 us a face where numpy's mean and std took 65 us
    (``benchmarks/bench_quality_cost.py``, docs/benchmarks.md).
    """
    if crops.ndim != 3:
        raise ValueError(f"crops must be (n, h, w) uint8, got shape {crops.shape}")
    brightness = np.empty(len(crops), np.float32)
    contrast = np.empty(len(crops), np.float32)
    for i, face in enumerate(crops):
        mean, std = cv2.meanStdDev(np.ascontiguousarray(face))
        brightness[i], contrast[i] = mean[0, 0], std[0, 0]
    return brightness, contrast


@dataclass
class FrameResult:
    """Everything the pipeline learned from one frame."""

    frame_index: int
    timestamp: datetime
    faces: list[FaceResult]
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


def _check_frame(frame: object) -> np.ndarray:
    if frame is None or not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise ValueError("frame must be a uint8 numpy array")
    return frame


class FramePipeline:
    """Detect faces and classify each with the model, one frame (or a batch of frames) at a time.

    Not thread-safe (the detector and the tracking state are per instance): one per stream.
    ``model`` is a :class:`~fer_core.classifier.Classifier` (what the app loads, ONNX Runtime or
    PyTorch) or a loaded ``.pt`` model, run through ``backend`` of
    :mod:`fer_core.models.compiled`: TorchScript (default, same outputs, faster) or ``"eager"``
    (the reference). ``backend`` applies to a ``.pt`` model only: a classifier has its runtime.
    """

    def __init__(
        self,
        model: Classifier | LoadedModel,
        settings: PipelineSettings = DEFAULT_SETTINGS,
        *,
        detector: FaceDetector | None = None,
        backend: str | None = None,
    ) -> None:
        if tuple(model.classes) != FER2013_CLASSES:
            raise ValueError(
                f"the live pipeline logs FER2013's 7 classes; model {model.name!r} predicts "
                f"{model.classes}"
            )
        self.model = model
        self.settings = settings
        if isinstance(model, Classifier):
            self.classifier = model.with_crops(settings.crops)
        else:  # a .pt model: traced once here (fer_core.models.compiled: same outputs, faster)
            self.classifier = Classifier.from_model(model, backend or "torchscript",
                                                    settings.crops)
        #: what runs the network: ``onnxruntime``, ``torchscript`` or ``eager`` (after fallback)
        self.backend = self.classifier.runtime
        self.net = self.classifier.net
        self.detector = detector or settings.detector()
        self._last_boxes: list[Box] = []
        self._since_full = 0
        self._lost = 0  # consecutive tracked frames that lost a face
        self._shape: tuple[int, ...] | None = None  # the last frame's size

    @property
    def crops(self) -> str:
        """Test-time crops per face (the settings' ``crops``)."""
        return self.settings.crops

    @crops.setter
    def crops(self, value: str) -> None:
        self.settings = dataclasses.replace(self.settings, crops=value)
        self.classifier = self.classifier.with_crops(self.settings.crops)

    def reset(self) -> None:
        """Forget tracked faces (call at the start of a new stream)."""
        self._last_boxes = []
        self._since_full = 0
        self._lost = 0
        self._shape = None

    def detect(self, gray: np.ndarray) -> tuple[list[Box], bool]:
        """Faces in ``gray`` (largest first) and whether this was a full scan; updates tracking."""
        s = self.settings
        # a frame of another size (the next image of a folder) is another picture: boxes
        # tracked in the last one mean nothing here
        resized, self._shape = gray.shape != self._shape, gray.shape
        full = (s.detect_every == 1 or not self._last_boxes or self._lost > s.track_coast
                or self._since_full >= s.detect_every - 1 or resized)
        if full:
            boxes = self.detector.detect(gray)[: s.max_faces]
            self._since_full = self._lost = 0
            self._last_boxes = boxes
            return boxes, True
        if s.track_face_px is None:
            boxes = self.detector.detect_in_regions(gray, self._last_boxes, grow=s.track_grow)
        else:
            boxes = self.detector.detect_near(
                gray, self._last_boxes, grow=s.track_grow, face_px=s.track_face_px,
                min_neighbors=s.track_min_neighbors)
        boxes = boxes[: s.max_faces]
        self._since_full += 1
        tracked = boxes
        if len(boxes) < len(self._last_boxes):
            # a face was lost: look for it where it was for track_coast more frames, then scan
            # the whole frame (it may have moved away fast)
            self._lost += 1
            if self._lost <= s.track_coast:
                tracked = boxes + [p for p in self._last_boxes
                                   if not any(iou(p, b) > 0.3 for b in boxes)]
        else:
            self._lost = 0
        self._last_boxes = tracked[: s.max_faces]
        return boxes, False

    def crop_faces(self, gray: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """uint8 (n, size, size) face crops: each box cut out of ``gray`` and resized."""
        size = self.model.preprocess.input_size
        out = np.empty((len(boxes), size, size), dtype=np.uint8)
        for i, b in enumerate(boxes):
            face = gray[b.y : b.y + b.h, b.x : b.x + b.w]
            out[i] = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
        return out

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Probabilities (n, 7) for uint8 faces (n, size, size): one batched forward pass."""
        if len(faces) == 0:
            return np.zeros((0, len(FER2013_CLASSES)), dtype=np.float32)
        return predict_faces(self.classifier, faces, batch_size=max(len(faces), 1))

    def classify(self, gray: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Probabilities (n_faces, 7) for ``boxes`` in ``gray``: one batched forward pass."""
        return self.predict(self.crop_faces(gray, boxes))

    def process(
        self, frame: np.ndarray, timestamp: datetime | None = None, frame_index: int = 0
    ) -> FrameResult:
        """Run the whole per-frame path on ``frame`` (BGR or gray uint8)."""
        return self.process_many([frame], [timestamp], frame_index)[0]

    def process_many(
        self,
        frames: Sequence[np.ndarray],
        timestamps: Sequence[datetime | None],
        first_index: int = 0,
    ) -> list[FrameResult]:
        """Consecutive frames, detected one by one, their faces classified in one forward pass.

        Why: offline, a batch of faces from several frames amortises the network's per-call cost;
        the results are those of :meth:`process` on each frame in turn.
        """
        grays, found, detect_ms = [], [], []
        for frame in frames:
            t0 = time.perf_counter()
            gray = to_gray(_check_frame(frame))
            boxes, full = self.detect(gray)
            detect_ms.append((time.perf_counter() - t0) * 1000)
            grays.append(gray)
            found.append((boxes, full))
        t1 = time.perf_counter()
        crops = [self.crop_faces(g, b) for g, (b, _) in zip(grays, found, strict=True)]
        faces_in = np.concatenate(crops) if crops else np.zeros((0, 1, 1), np.uint8)
        probs = self.predict(faces_in) if crops else np.zeros((0, 7), np.float32)
        brightness, contrast = crop_light(faces_in)
        classify_ms = (time.perf_counter() - t1) * 1000 / max(len(frames), 1)
        results, start = [], 0
        for i, ((boxes, full), ts) in enumerate(zip(found, timestamps, strict=True)):
            faces = []
            for j, (box, p) in enumerate(zip(boxes, probs[start : start + len(boxes)],
                                                strict=True)):
                k = int(p.argmax())
                faces.append(FaceResult(box, p, FER2013_CLASSES[k], float(p[k]),
                                        float(brightness[start + j]),
                                        float(contrast[start + j])))
            start += len(boxes)
            results.append(FrameResult(
                frame_index=first_index + i, timestamp=ts or datetime.now(UTC), faces=faces,
                detect_ms=detect_ms[i], classify_ms=classify_ms, full_scan=full,
            ))
        return results


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
