"""Batched inference on 48x48 uint8 faces: normalisation, ten-crop or centre crop, mean softmax."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fer_core.data.shift import blur_faces
from fer_core.transforms import center_crop, ten_crop

if TYPE_CHECKING:
    from fer_core.modelfile import LoadedModel


def to_tensor(images: np.ndarray | torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 (N, 48, 48) -> normalised float32 (N, 1, 48, 48)."""
    x = torch.as_tensor(images)
    if x.ndim == 2:
        x = x[None]
    return ((x.float() / 255.0) - mean).div_(std).unsqueeze(1)


@torch.inference_mode()
def predict_proba(
    net: nn.Module,
    images: np.ndarray | torch.Tensor,
    mean: float,
    std: float,
    *,
    tencrop: bool = True,
    crop: int = 44,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    input_blur: float = 0.0,
) -> np.ndarray:
    """Class probabilities (N, classes) for uint8 faces (N, 48, 48).

    With ``tencrop`` the ten crops of all images of a batch go through the network as one batch of
    10*B, and the prediction is the mean softmax over the ten crops (the seed's test transform).
    ``input_blur`` is the model's input blur (``LoadedModel.input_blur``), applied to every face.
    """
    net.eval()
    out: list[np.ndarray] = []
    n = len(images)
    for i in range(0, n, batch_size):
        chunk = images[i : i + batch_size]
        if input_blur > 0:
            chunk = blur_faces(np.asarray(chunk), input_blur)
        x = to_tensor(chunk, mean, std).to(device)
        if tencrop:
            crops = ten_crop(x, crop)  # (B, 10, 1, c, c)
            b = crops.shape[0]
            logits = net(crops.reshape(b * 10, 1, crop, crop)).float()
            probs = F.softmax(logits, dim=1).reshape(b, 10, -1).mean(dim=1)
        else:
            probs = F.softmax(net(center_crop(x, crop)).float(), dim=1)
        out.append(probs.cpu().numpy())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


def predict_faces(
    model: LoadedModel, images: np.ndarray, *, tencrop: bool = True, batch_size: int = 256
) -> np.ndarray:
    """:func:`predict_proba` with every preprocessing setting read from the model file."""
    device = next(model.net.parameters()).device
    return predict_proba(
        model.net, images, model.mean, model.std, tencrop=tencrop, crop=model.crop_size,
        batch_size=batch_size, device=device, input_blur=model.input_blur,
    )  # fmt: skip
