"""Checks of every input frame before detection: too small, too large, unreadable, wrong type.

Why: ``analyze``, the Record page's upload and the tests feed files from anywhere into the
per-frame pipeline. Before these checks a 1x1 image crashed Haar (``cv2.error !dsize.empty()``)
and ended the whole run, and a 10000x10000 image took 2 GB and 35 s for one row. Now every item
is checked on its own: a bad one becomes a :class:`SkippedInput` (name and reason) that the
caller reports and skips, and the run goes on with the rest.

Limits (:class:`FrameLimits`, documented in docs/recording.md):

* **too small**: a side under ``min_side`` (32 px) cannot hold a face the detector finds
  (its smallest window is 24 px on a frame shrunk by half), so the frame is skipped;
* **too large**: a frame whose long side exceeds ``max_side`` (2048 px) is shrunk to it before
  detection (boxes are then in the shrunk frame's pixels; the session metadata says so). Why
  2048 and not more: Haar's scratch memory grows with the scanned area (measured: +45 MB for a
  2048-px frame, +250 MB for a 4096-px one), and ``analyze`` of any single image must stay
  under 600 MB with the model loaded (docs/benchmarks.md, "Input limits");
* **absurd pixel counts** (decompression bombs): an image whose header declares more than
  ``max_pixels`` (150 megapixels; a quarter of that for formats other than JPEG, PNG and
  PGM/PPM, whose decoders may hold a colour copy) is refused before any pixel is decoded. The
  header is read with Pillow (dimensions only); a large image is then decoded straight to
  grayscale (all the pipeline uses) at a reduced size where the format allows it
  (``cv2.IMREAD_REDUCED_*``: JPEG decodes at 1/2, 1/4 or 1/8 scale; PNG decodes whole, one byte
  per pixel, then shrinks);
* **unreadable or wrong type**: a file that no image decoder recognises (a garbage ``.png``, a
  text file renamed) is skipped with the decoder's reason.

Images within the limits are decoded exactly as before (``cv2.IMREAD_COLOR``), so their rows
are unchanged. This module imports no torch (it is used before the model is loaded).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

#: A side shorter than this holds no face the detector can find.
MIN_SIDE = 32
#: A frame's long side is shrunk to this before detection.
MAX_SIDE = 2048
#: An image declaring more pixels than this is refused before decoding.
MAX_PIXELS = 150_000_000
#: Formats whose grayscale decode holds one byte per pixel; others count four (see check_size).
GRAY_DECODE_FORMATS = frozenset({"JPEG", "PNG", "PPM"})


@dataclass(frozen=True)
class FrameLimits:
    """Size limits every input frame is checked against (see module doc)."""

    min_side: int = MIN_SIDE
    max_side: int = MAX_SIDE
    max_pixels: int = MAX_PIXELS

    def as_dict(self) -> dict[str, int]:
        """Plain values for the session metadata."""
        return {"min_side": self.min_side, "max_side": self.max_side,
                "max_pixels": self.max_pixels}


DEFAULT_LIMITS = FrameLimits()


@dataclass(frozen=True)
class SkippedInput:
    """One input item that was not analysed, and why (shown to the user, kept in metadata)."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


class InputRejected(ValueError):
    """This item cannot be analysed; ``str(exc)`` is the reason, in words for the user."""


def _size_text(width: int, height: int) -> str:
    return f"{width}x{height} px"


def check_size(width: int, height: int, limits: FrameLimits = DEFAULT_LIMITS,
               fmt: str = "PNG") -> None:
    """Raise :class:`InputRejected` for a frame too small, or with absurdly many pixels.

    ``fmt``: the file's format (Pillow's name); formats outside :data:`GRAY_DECODE_FORMATS`
    get a quarter of ``max_pixels``.
    """
    if width < 1 or height < 1:
        raise InputRejected(f"empty image ({_size_text(width, height)})")
    if min(width, height) < limits.min_side:
        raise InputRejected(f"too small: {_size_text(width, height)}, under the minimum of "
                            f"{limits.min_side} px per side")
    most = limits.max_pixels if fmt in GRAY_DECODE_FORMATS else limits.max_pixels // 4
    if width * height > most:
        raise InputRejected(f"too large: {_size_text(width, height)} is "
                            f"{width * height / 1e6:.0f} megapixels, over the limit of "
                            f"{most / 1e6:.0f} for {fmt} images")


def image_header(path: Path) -> tuple[int, int, str]:
    """(width, height, format) from the file's header, without decoding its pixels.

    Raises :class:`InputRejected` when no decoder recognises the file (wrong type, garbage).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # our own pixel limit applies (check_size); Pillow's bomb check would only warn
            # (or refuse with its own wording) for sizes we refuse anyway
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return int(im.width), int(im.height), str(im.format or "")
    except Image.DecompressionBombError as exc:
        raise InputRejected(f"too large: {exc}") from None
    except UnidentifiedImageError:
        raise InputRejected("not a readable image (unknown or damaged format)") from None
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's parsers raise these on damage
        raise InputRejected(f"not a readable image ({exc})") from None


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) shrunk so the long side is ``max_side`` (unchanged when within it)."""
    long_side = max(width, height)
    if long_side <= max_side:
        return width, height
    f = max_side / long_side
    return max(round(width * f), 1), max(round(height * f), 1)


_REDUCED_GRAY = {2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
                 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}


def load_image(path: Path, limits: FrameLimits = DEFAULT_LIMITS
               ) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Decode an image file within ``limits``: (frame, original (w, h) if it was shrunk, else None).

    Raises :class:`InputRejected` (with the reason) for a file that is unreadable, of the wrong
    type, too small or declares too many pixels; nothing large is decoded in those cases.
    """
    width, height, fmt = image_header(path)
    check_size(width, height, limits, fmt)
    if max(width, height) <= limits.max_side:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # exactly as before these checks
        if image is None:
            raise InputRejected("not a readable image (the decoder failed)")
        check_size(image.shape[1], image.shape[0], limits, fmt)  # the header may have lied
        return image, None
    # Large: grayscale (all the pipeline uses), at the largest reduction that keeps the long
    # side >= max_side; JPEG decodes reduced directly, other formats shrink after decoding.
    factor = max((k for k in (8, 4, 2) if max(width, height) // k >= limits.max_side),
                 default=1)
    flag = _REDUCED_GRAY.get(factor, cv2.IMREAD_GRAYSCALE)
    try:
        image = cv2.imread(str(path), flag)
    except cv2.error as exc:
        raise InputRejected(f"not a readable image ({exc.err or exc})") from None
    if image is None:
        raise InputRejected("not a readable image (the decoder failed)")
    frame, _ = fit_frame(image, limits)
    return frame, (width, height)


def fit_frame(frame: np.ndarray, limits: FrameLimits = DEFAULT_LIMITS
              ) -> tuple[np.ndarray, bool]:
    """A decoded frame (a video's, an array's) checked and shrunk: (frame, whether shrunk).

    Raises :class:`InputRejected` for a frame too small. A frame over ``max_side`` is shrunk
    with area interpolation (and made grayscale, which is all the pipeline reads, so that a
    queue of decoded video frames stays small).
    """
    height, width = frame.shape[:2]
    check_size(width, height, FrameLimits(limits.min_side, limits.max_side,
                                          max(limits.max_pixels, width * height)))  # decoded
    if max(width, height) <= limits.max_side:
        return frame, False
    if frame.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        frame = cv2.cvtColor(frame, code)
    return cv2.resize(frame, scaled_size(width, height, limits.max_side),
                      interpolation=cv2.INTER_AREA), True


def is_large(path: Path, limits: FrameLimits = DEFAULT_LIMITS) -> bool:
    """True when ``path``'s header says it exceeds ``max_side`` (unreadable: False)."""
    try:
        width, height, _ = image_header(path)
    except InputRejected:
        return False
    return max(width, height) > limits.max_side
