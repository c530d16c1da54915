"""Knowledge distillation: a small student learns from the softened outputs of larger teachers.

Why: the default model must stay under 100 MMAC per crop to keep up with a webcam on a weak CPU,
while bigger networks (the seed's ``paper``) and ensembles score higher on FER2013. Training the
small network to match the ensemble's softened class probabilities (Hinton et al., 2015) on the
very same augmented batch passes on what the teachers learned about similar-looking expressions
(fear vs sad, angry vs disgust) that one-hot labels do not carry.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F

from fer_core.models.file_format import load_model
from fer_core.preprocess import Preprocess

log = logging.getLogger(__name__)


class Teachers:
    """Frozen teacher networks whose mean softened probabilities a student is trained towards.

    Each teacher gets the student's augmented batch renormalised to its own spec (mean/std), so a
    teacher trained with other normalisation statistics sees the pixels it expects.
    """

    def __init__(
        self,
        paths: list[str],
        student_pre: Preprocess,
        classes: tuple[str, ...],
        device: torch.device,
        amp_dtype: torch.dtype | None,
        temperature: float,
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"the distillation temperature must be positive, got {temperature}")
        self.models = [load_model(Path(p), device) for p in paths]
        for path, m in zip(paths, self.models, strict=True):
            if tuple(m.classes) != tuple(classes):
                raise ValueError(f"teacher {path} predicts {m.classes}, the student {classes}")
            if m.preprocess.equalize != student_pre.equalize:
                raise ValueError(f"teacher {path} was trained with equalize="
                                 f"{m.preprocess.equalize}, the student uses "
                                 f"{student_pre.equalize}")  # fmt: skip
            m.net.to(device, memory_format=torch.channels_last).eval()
            for p in m.net.parameters():
                p.requires_grad_(False)
        self.student_pre = student_pre
        self.amp_dtype = amp_dtype
        self.temperature = temperature
        log.info("distilling from %s (temperature %.1f)", ", ".join(paths), temperature)

    @torch.no_grad()
    def probs(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over teachers of softmax(logits / T) for the student's prepared batch ``x``."""
        s = self.student_pre
        total = None
        for m in self.models:
            t = m.preprocess
            xt = (x * (s.std / t.std) + (s.mean - t.mean) / t.std).contiguous(
                memory_format=torch.channels_last
            )
            with torch.autocast(x.device.type, dtype=self.amp_dtype,
                                enabled=self.amp_dtype is not None):  # fmt: skip
                logits = m.net(xt)
            p = F.softmax(logits.float() / self.temperature, dim=1)
            total = p if total is None else total + p
        assert total is not None
        return total / len(self.models)


def distillation_loss(
    student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float
) -> torch.Tensor:
    """KL(teacher || student) at ``temperature``, scaled by T^2 so its gradients keep their size."""
    log_p = F.log_softmax(student_logits.float() / temperature, dim=1)
    return F.kl_div(log_p, teacher_probs, reduction="batchmean") * temperature**2
