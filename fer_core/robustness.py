"""Camera-like perturbations of test faces, and a model's accuracy under each.

Why: a webcam face is often small, soft, compressed, noisy, tilted, badly lit or loosely boxed,
while FER2013's test faces are clean 48x48 crops. Scoring a split under each perturbation (fixed
seeds, so a table is reproducible) shows how far a model's clean accuracy survives a real camera.
Each perturbation works on the raw uint8 face, *before* the model's own preprocessing
(equalisation, normalisation, crops), exactly as a camera would alter what the pipeline crops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

Perturb = Callable[[np.ndarray, np.random.Generator], np.ndarray]

#: loose and tight boxes: the detector's box 25% larger, or 20% smaller, than the face crop
LOOSE_SCALE = 1.25
TIGHT_SCALE = 1.2


def _each(faces: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    out = np.empty_like(faces)
    for i, f in enumerate(faces):
        out[i] = fn(f)
    return out


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def blur(sigma: float) -> Perturb:
    """Gaussian blur (defocus, a little motion)."""
    return lambda faces, _rng: _each(faces, lambda f: cv2.GaussianBlur(f, (0, 0), sigma))


def low_resolution(pixels: int) -> Perturb:
    """The face was only ``pixels`` wide on the sensor, upscaled to the model's input."""

    def fn(f: np.ndarray) -> np.ndarray:
        small = cv2.resize(f, (pixels, pixels), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, f.shape[::-1], interpolation=cv2.INTER_LINEAR)

    return lambda faces, _rng: _each(faces, fn)


def jpeg(quality: int) -> Perturb:
    """JPEG compression at ``quality`` (a heavily compressed video stream)."""

    def fn(f: np.ndarray) -> np.ndarray:
        ok, buf = cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover - OpenCV always encodes a uint8 gray image
            raise RuntimeError("JPEG encoding failed")
        return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)

    return lambda faces, _rng: _each(faces, fn)


def noise(sd: float) -> Perturb:
    """Additive Gaussian sensor noise of ``sd`` gray levels."""
    return lambda faces, rng: _clip(faces.astype(np.float32) + rng.normal(0, sd, faces.shape))


def rotation(degrees: float) -> Perturb:
    """A head tilted by ``degrees`` (left or right at random), borders replicated."""

    def run(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        signs = rng.choice([-1.0, 1.0], size=len(faces))
        out = np.empty_like(faces)
        for i, f in enumerate(faces):
            h, w = f.shape
            m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), signs[i] * degrees, 1.0)
            out[i] = cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        return out

    return run


def brightness(factor: float) -> Perturb:
    """Exposure scaled by ``factor`` (a dim room at 0.4)."""
    return lambda faces, _rng: _clip(faces.astype(np.float32) * factor)


def gamma(g: float) -> Perturb:
    """A camera's gamma curve (values darkened for ``g`` > 1)."""
    lut = _clip(255.0 * (np.arange(256) / 255.0) ** g)
    return lambda faces, _rng: lut[faces]


def low_contrast(factor: float) -> Perturb:
    """Contrast squeezed around each face's mean (haze, a washed-out screen reflection)."""

    def run(faces: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
        x = faces.astype(np.float32)
        mean = x.mean(axis=(1, 2), keepdims=True)
        return _clip(mean + (x - mean) * factor)

    return run


def side_light(darkest: float) -> Perturb:
    """Light from one side: brightness falls linearly to ``darkest`` across the face."""

    def run(faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        w = faces.shape[-1]
        ramp = np.linspace(darkest, 1.0, w, dtype=np.float32)
        flip = rng.random(len(faces)) < 0.5
        gains = np.where(flip[:, None], ramp[::-1][None, :], ramp[None, :])
        return _clip(faces.astype(np.float32) * gains[:, None, :])

    return run


def loose_box(scale: float = LOOSE_SCALE) -> Perturb:
    """A detector box ``scale`` times the face: the face shrinks, borders fill the rest."""

    def fn(f: np.ndarray) -> np.ndarray:
        s = f.shape[0]
        inner = max(round(s / scale), 1)
        small = cv2.resize(f, (inner, inner), interpolation=cv2.INTER_AREA)
        pad = s - inner
        top, left = pad // 2, pad - pad // 2
        return cv2.copyMakeBorder(small, top, pad - top, left, pad - left, cv2.BORDER_REPLICATE)

    return lambda faces, _rng: _each(faces, fn)


def tight_box(scale: float = TIGHT_SCALE) -> Perturb:
    """A detector box ``1/scale`` of the face: the centre is cut out and enlarged."""

    def fn(f: np.ndarray) -> np.ndarray:
        s = f.shape[0]
        inner = max(round(s / scale), 1)
        o = (s - inner) // 2
        return cv2.resize(f[o : o + inner, o : o + inner], (s, s), interpolation=cv2.INTER_LINEAR)

    return lambda faces, _rng: _each(faces, fn)


#: the camera-like conditions, in the order tables print them (issue 21's list)
PERTURBATIONS: dict[str, Perturb] = {
    "blur sigma 1.5": blur(1.5),
    "low resolution 16 px": low_resolution(16),
    "JPEG quality 10": jpeg(10),
    "noise sd 15": noise(15.0),
    "rotation 15 deg": rotation(15.0),
    "rotation 30 deg": rotation(30.0),
    "brightness x0.4": brightness(0.4),
    "gamma 2.2": gamma(2.2),
    "low contrast x0.35": low_contrast(0.35),
    "side light (to 0.3)": side_light(0.3),
    "loose box (x1.25)": loose_box(),
    "tight box (/1.2)": tight_box(),
}


def perturb(faces: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """``faces`` (N, S, S) uint8 under the named perturbation, with a fixed seed per name."""
    if name not in PERTURBATIONS:
        raise KeyError(f"unknown perturbation {name!r}; known: {', '.join(PERTURBATIONS)}")
    faces = np.asarray(faces)
    if faces.dtype != np.uint8 or faces.ndim != 3:
        raise ValueError(f"faces must be uint8 (N, S, S), got {faces.dtype} {faces.shape}")
    # one generator per perturbation, seeded from its position: adding a condition at the end
    # never changes the numbers of those before it
    index = list(PERTURBATIONS).index(name)
    rng = np.random.default_rng([seed, index])
    return PERTURBATIONS[name](faces, rng)


@dataclass(frozen=True)
class RobustnessRow:
    """Accuracy under one condition, its drop from the clean accuracy (points), and the ECE.

    ``ece`` (percent) says whether the confidence a chart shows stays honest under the condition:
    a model can lose accuracy and stay calibrated, or keep accuracy and turn over-confident.
    """

    condition: str
    accuracy: float
    drop: float
    ece: float


def robustness_table(
    score: Callable[[np.ndarray], tuple[float, float]], faces: np.ndarray, seed: int = 0
) -> list[RobustnessRow]:
    """``score`` (faces -> accuracy %, ECE %) clean and under every perturbation."""
    clean, clean_ece = score(faces)
    rows = [RobustnessRow("clean", float(clean), 0.0, float(clean_ece))]
    for name in PERTURBATIONS:
        acc, ece = score(perturb(faces, name, seed))
        rows.append(RobustnessRow(name, float(acc), float(clean - acc), float(ece)))
    return rows


def format_robustness(rows: list[RobustnessRow], title: str = "") -> str:
    """Plain-text table: condition, accuracy, drop from clean (points), ECE."""
    lines = [title] if title else []
    lines.append(f"{'Condition':<24} {'Accuracy (%)':>13} {'Drop (points)':>14} {'ECE (%)':>8}")
    for r in rows:
        lines.append(f"{r.condition:<24} {r.accuracy:>13.3f} {r.drop:>14.3f} {r.ece:>8.2f}")
    lines.append(f"{'Largest drop':<24} {'':>13} {max(r.drop for r in rows):>14.3f}")
    lines.append(f"{'Largest ECE':<24} {'':>13} {'':>14} {max(r.ece for r in rows):>8.2f}")
    return "\n".join(lines)
