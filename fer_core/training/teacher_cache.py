"""Teacher probabilities computed once per run and reused every epoch (``train --kd-cache``).

Why: online distillation (:class:`fer_core.training.distill.Teachers`) runs every teacher on every
batch. On a 2-core CPU the ensemble of ``fast`` and ``paper`` (five times the student's MACs)
roughly triples an epoch, so a 150-epoch student is out of reach. The teachers are frozen, so
their answer for a face never changes: running them once over the clean, equalised training faces
(ten-crop mean of softmax(logits / T) per face, averaged over teachers, as ``Teachers.probs``
would give for the ten crops) costs about as much as a handful of online epochs and makes every
epoch after it as cheap as training without a teacher.

What the student then learns: the teachers' answer for the *whole clean face*, whatever crop,
rotation, erasing or camera degradation the student's batch shows; the same idea as the online
``camera`` recipe, whose teachers already see the clean crop, taken one step further.

The cache lives in the run's folder next to ``last.ckpt``, so ``--resume`` reuses it. It carries a
fingerprint (the teacher files' SHA-256, the temperature, the number of faces and a hash of the
faces themselves, which pins the split, ``--val-from-train`` holdout and ``--limit``); a cache
whose fingerprint differs from the run's is refused rather than silently used for other faces or
other teachers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from fer_core.classifier import file_sha256
from fer_core.errors import FerError
from fer_core.preprocess_torch import prepare_faces, test_crops
from fer_core.training.distill import Teachers

log = logging.getLogger(__name__)

CACHE_FILE = "teacher_probs.npz"
#: the fingerprint keys that must agree for a cache to be reused (teacher paths may be spelled
#: differently between a run and its resume; their contents may not)
MATCHED_KEYS = ("format", "teachers_sha256", "temperature", "n_faces", "faces_sha256", "crops")
FORMAT = 1


class TeacherCacheError(FerError, ValueError):
    """A cached teacher file that belongs to other teachers, another temperature or other faces."""


def fingerprint(teacher_paths: list[str], temperature: float, images: np.ndarray) -> dict[str, Any]:
    """What the cached probabilities depend on: teachers, temperature, the exact training faces."""
    faces = np.ascontiguousarray(images)
    return {
        "format": FORMAT,
        "teachers": [str(p) for p in teacher_paths],
        "teachers_sha256": [file_sha256(p) for p in teacher_paths],
        "temperature": float(temperature),
        "n_faces": len(faces),
        "faces_sha256": hashlib.sha256(faces.tobytes()).hexdigest(),
        "crops": "ten",
    }


@torch.no_grad()
def teacher_probs(teachers: Teachers, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(N, classes) float32: per face, the mean over teachers and their ten test crops of
    softmax(logits / T).

    Each teacher gets the uint8 faces prepared by its own spec (equalisation, mean/std, crop
    size), exactly as at inference, so no renormalisation from the student's spec is needed.
    """
    dev = next(teachers.models[0].net.parameters()).device
    amp = teachers.amp_dtype
    n_crops = 10
    out = []
    for i in tqdm(range(0, len(images), batch_size), desc="teacher cache", unit="batch"):
        chunk = images[i : i + batch_size]
        total = None
        for m in teachers.models:
            pre = replace(m.preprocess, test_crops="ten")
            crops = test_crops(prepare_faces(chunk, pre).to(dev), pre)
            with torch.autocast(dev.type, dtype=amp, enabled=amp is not None):
                logits = m.net(crops.contiguous(memory_format=torch.channels_last))
            p = F.softmax(logits.float() / teachers.temperature, dim=1)
            p = p.reshape(len(chunk), n_crops, -1).mean(dim=1)
            total = p if total is None else total + p
        assert total is not None
        out.append((total / len(teachers.models)).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def load_or_build(
    path: Path,
    teacher_paths: list[str],
    temperature: float,
    images: np.ndarray,
    make_teachers: Callable[[], Teachers],
    n_classes: int,
) -> np.ndarray:
    """The cached (N, classes) teacher probabilities at ``path``, built first if absent.

    ``make_teachers`` is called only when the cache must be built (loading is cheap, running them
    is not). A cache with another fingerprint raises :class:`TeacherCacheError`.
    """
    want = fingerprint(teacher_paths, temperature, images)
    if path.exists():
        probs, have = _read(path)
        diff = [k for k in MATCHED_KEYS if have.get(k) != want.get(k)]
        if diff:
            raise TeacherCacheError(
                f"the teacher cache {path} was made for other "
                f"{', '.join(diff)} (cache: {[have.get(k) for k in diff]}, this run: "
                f"{[want.get(k) for k in diff]}); delete it to rebuild, or train into another --out"
            )
        if probs.shape != (len(images), n_classes):
            raise TeacherCacheError(
                f"the teacher cache {path} holds {probs.shape} probabilities, expected "
                f"{(len(images), n_classes)}; delete it to rebuild"
            )
        log.info("reusing the teacher cache %s (%d faces)", path, len(probs))
        return probs
    log.info("building the teacher cache for %d faces (ten crops, %d teachers)", len(images),
             len(teacher_paths))  # fmt: skip
    probs = teacher_probs(make_teachers(), images)
    _write(path, probs, want)
    log.info("wrote the teacher cache %s", path)
    return probs


def _read(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["probs"].astype(np.float32), json.loads(str(data["fingerprint"]))
    except (OSError, KeyError, ValueError) as exc:
        raise TeacherCacheError(f"{path} is not a readable teacher cache ({exc}); delete it to "
                                "rebuild") from exc  # fmt: skip


def _write(path: Path, probs: np.ndarray, fp: dict[str, Any]) -> None:
    """Atomically (a temporary file, then a rename): a killed run never leaves half a cache."""
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, probs=probs.astype(np.float32), fingerprint=np.array(json.dumps(fp)))
    tmp.replace(path)
