"""Synthetic test videos made of real face images: frame composition and a Y4M writer.

Why this exists: the browser test feeds Chromium a fake webcam
(``--use-file-for-fake-video-capture``) and the offline tests need a video file, both showing
real faces whose expected expression is known. FER2013 faces are 48x48 tight crops, so they are
upscaled and placed on a plain frame the size of a webcam picture.

Why we write Y4M ourselves: Chromium accepts only the 4:2:0 Y4M variants ``C420``/``C420jpeg``;
ffmpeg writes ``C420mpeg2`` by default, which Chromium rejects. The format is trivial: one text
header line, then ``FRAME\\n`` followed by the Y, U and V planes of each frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

FRAME_W, FRAME_H = 640, 480
#: Mid-gray background: no edges for the Haar cascade to mistake for a face.
BACKGROUND = 128


def blank_frame(width: int = FRAME_W, height: int = FRAME_H, value: int = BACKGROUND) -> np.ndarray:
    """A uniform BGR frame (a "no face in view" frame)."""
    return np.full((height, width, 3), value, dtype=np.uint8)


def compose_face_frame(
    face: np.ndarray,
    *,
    size: int = 200,
    center: tuple[int, int] | None = None,
    width: int = FRAME_W,
    height: int = FRAME_H,
) -> np.ndarray:
    """Upscale a face image (gray or BGR) to ``size`` px and paste it on a blank BGR frame.

    ``center`` is the face's centre in frame pixels (default: the middle of the frame).
    """
    if face.ndim == 3:
        face = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    big = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    cx, cy = center or (width // 2, height // 2)
    x0, y0 = cx - size // 2, cy - size // 2
    if x0 < 0 or y0 < 0 or x0 + size > width or y0 + size > height:
        raise ValueError(f"a {size}px face centred at {(cx, cy)} does not fit a {width}x{height} "
                         "frame")
    frame = blank_frame(width, height)
    frame[y0 : y0 + size, x0 : x0 + size] = big[:, :, None]
    return frame


def y4m_header(width: int, height: int, fps: int) -> bytes:
    """The stream header Chromium's fake capture device accepts (C420jpeg, progressive)."""
    return f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii")


def write_y4m(path: str | Path, frames: Iterable[np.ndarray], fps: int = 15) -> Path:
    """Write BGR frames (all the same even width/height) as an uncompressed Y4M 4:2:0 file."""
    path = Path(path)
    count = 0
    size: tuple[int, int] | None = None
    with open(path, "wb") as out:
        for frame in frames:
            h, w = frame.shape[:2]
            if size is None:
                if w % 2 or h % 2:
                    raise ValueError(f"4:2:0 needs even frame sizes, got {w}x{h}")
                size = (w, h)
                out.write(y4m_header(w, h, fps))
            elif (w, h) != size:
                raise ValueError(f"frame {count} is {w}x{h}; the stream is {size[0]}x{size[1]}")
            # I420 = the full Y plane, then U and V at quarter size: exactly Y4M's frame layout
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
            count += 1
    if count == 0:
        path.unlink(missing_ok=True)
        raise ValueError("no frames to write")
    return path


def read_y4m(path: str | Path) -> tuple[int, list[np.ndarray]]:
    """Read back a file written by :func:`write_y4m`: (fps, BGR frames). For tests."""
    data = Path(path).read_bytes()
    header, _, body = data.partition(b"\n")
    fields = header.split()
    if fields[0] != b"YUV4MPEG2":
        raise ValueError(f"{path} is not a Y4M file")
    params = {f[:1]: f[1:] for f in fields[1:]}
    w, h = int(params[b"W"]), int(params[b"H"])
    fps = int(params[b"F"].split(b":")[0])
    plane = w * h * 3 // 2
    frames = []
    pos = 0
    while pos < len(body):
        if body[pos : pos + 6] != b"FRAME\n":
            raise ValueError(f"{path}: bad frame marker at byte {pos}")
        pos += 6
        yuv = np.frombuffer(body[pos : pos + plane], dtype=np.uint8).reshape(h * 3 // 2, w)
        frames.append(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420))
        pos += plane
    return fps, frames


def face_paths(folder: str | Path) -> list[Path]:
    """Image files of a folder, sorted (a stable order for reproducible fixtures)."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


def pick_faces(
    pipeline,
    paths: Iterable[Path],
    label: str,
    *,
    center: tuple[int, int] | None = None,
    size: int = 200,
    min_confidence: float = 0.0,
) -> list[tuple[Path, float]]:
    """Faces that ``pipeline`` finds (exactly one box) and labels ``label`` once composed.

    Why: Haar misses some tight FER crops and no model is perfect, so a test that asserts labels
    must choose its faces by running the real detector and model on the very frame it will show,
    at run time, instead of hard-coding files picked from one model's outputs. Returns
    ``(path, confidence)`` best first. ``pipeline`` is a :class:`fer_core.pipeline.FramePipeline`.
    """
    picked = []
    for path in paths:
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if face is None:
            continue
        result = pipeline.process(compose_face_frame(face, size=size, center=center))
        pipeline.reset()
        faces = result.faces
        if len(faces) == 1 and faces[0].label == label and faces[0].confidence >= min_confidence:
            picked.append((path, faces[0].confidence))
    return sorted(picked, key=lambda item: -item[1])
