"""The torch side of :mod:`fer_core.preprocess`: prepared tensors, test crops, batched predictions.

Why a module of its own: the spec and the numpy arithmetic (:mod:`fer_core.preprocess`) are what
the app needs, and it runs without torch (ONNX Runtime, :mod:`fer_core.classifier`); training,
``evaluate``, calibration and the benchmarks run torch networks through the functions here. The
input tensors are built from :func:`fer_core.preprocess.prepare_array`, so both paths feed the
network identical numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from fer_core.preprocess import Preprocess, prepare_array
from fer_core.transforms import center_crop, ten_crop


def prepare_faces(images: np.ndarray | torch.Tensor, pre: Preprocess) -> torch.Tensor:
    """uint8 faces (N, S, S) (or one (S, S) face) -> normalised float32 tensor (N, 1, S, S).

    :func:`fer_core.preprocess.prepare_array` as a tensor: equalisation (if the spec says so),
    scaling to [0, 1] and normalisation. Cropping happens after, randomly in training
    (:mod:`fer_core.transforms`) and by :func:`test_crops` at test time.
    """
    if isinstance(images, torch.Tensor):
        images = images.cpu().numpy()
    return torch.from_numpy(prepare_array(images, pre))


def test_crops(x: torch.Tensor, pre: Preprocess) -> torch.Tensor:
    """Prepared (N, 1, S, S) -> (N * k, 1, c, c) crops, k = ``pre.crops_per_face``."""
    c = pre.crop_size
    if pre.test_crops == "ten":
        return ten_crop(x, c).reshape(-1, x.shape[1], c, c)
    centre = center_crop(x, c)
    if pre.test_crops == "flip":
        return torch.stack([centre, centre.flip(-1)], dim=1).reshape(-1, x.shape[1], c, c)
    return centre


def probs_from_logits(logits: torch.Tensor, pre: Preprocess) -> torch.Tensor:
    """(N * k, classes) logits -> (N, classes) probabilities: the mean softmax over the crops.

    Each crop's logits are divided by the spec's temperature first, so every path (live,
    ``analyze``, upload, ``evaluate``) records the same calibrated probabilities.
    """
    k = pre.crops_per_face
    probs = F.softmax(logits.float() / pre.temperature, dim=1)
    return probs.reshape(-1, k, probs.shape[1]).mean(dim=1)


Net = Callable[[torch.Tensor], torch.Tensor]


def _crop_logits(
    net: Net, images: np.ndarray | torch.Tensor, pre: Preprocess, batch_size: int,
    device: str | torch.device,
) -> Iterator[torch.Tensor]:
    """(n * k, classes) logits of each batch's test crops: one forward pass per batch."""
    if isinstance(net, torch.nn.Module):
        net.eval()
    for i in range(0, len(images), batch_size):
        x = prepare_faces(images[i : i + batch_size], pre).to(device)
        yield net(test_crops(x, pre))


@torch.inference_mode()
def predict_proba(
    net: Net,
    images: np.ndarray | torch.Tensor,
    pre: Preprocess,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Class probabilities (N, classes) of uint8 faces (N, S, S) under ``pre``.

    ``net`` is a network (put in eval mode here) or any callable of the same signature (a
    TorchScript module from :mod:`fer_core.models.compiled`). The crops of a whole batch go
    through the network as one forward pass.
    """
    out = [probs_from_logits(logits, pre).cpu().numpy()
           for logits in _crop_logits(net, images, pre, batch_size, device)]  # fmt: skip
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


@torch.inference_mode()
def predict_crop_logits(
    net: Net,
    images: np.ndarray | torch.Tensor,
    pre: Preprocess,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Raw logits (N, k, classes) of every test crop, before temperature and softmax.

    Why separate: fitting a temperature needs the logits themselves (the probabilities already
    carry one); :func:`fer_core.calibration.crop_softmax` turns them back into what
    :func:`predict_proba` returns.
    """
    k = pre.crops_per_face
    out = [logits.float().reshape(-1, k, logits.shape[1]).cpu().numpy()
           for logits in _crop_logits(net, images, pre, batch_size, device)]  # fmt: skip
    if not out:
        return np.zeros((0, k, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)
