"""Batched tensor transforms: ten-crop for testing and augmentation for training.

Everything works on whole batches (N, 1, 48, 48) with tensor ops, so test-time ten-crop of a batch
is one indexing operation and training augmentation never becomes the bottleneck on a 2-core CPU.
Random parameters come from a CPU generator (runs repeat on any device) and the pixel work runs on
the batch's own device, so a GPU run never copies its batches back to the CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CROP = 44


def crop_offsets(size: int = 48, crop: int = CROP) -> list[tuple[int, int]]:
    """Top-left (y, x) of the five crops: four corners then centre (torchvision's order)."""
    m = size - crop
    c = m // 2
    return [(0, 0), (0, m), (m, 0), (m, m), (c, c)]


def ten_crop(x: torch.Tensor, crop: int = CROP) -> torch.Tensor:
    """(N, C, H, W) -> (N, 10, C, crop, crop): five crops then their horizontal mirrors.

    Matches torchvision's ``TenCrop``: corners (tl, tr, bl, br), centre, then the same five of
    the flipped image.
    """
    if x.ndim != 4:
        raise ValueError(f"ten_crop expects (N, C, H, W), got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h != w:
        raise ValueError(f"ten_crop expects square images, got {h}x{w}")
    crops = [x[..., y : y + crop, xx : xx + crop] for y, xx in crop_offsets(h, crop)]
    five = torch.stack(crops, dim=1)
    return torch.cat([five, five.flip(-1)], dim=1)


def center_crop(x: torch.Tensor, crop: int = CROP) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, crop, crop), the centre crop."""
    h = x.shape[-1]
    c = (h - crop) // 2
    return x[..., c : c + crop, c : c + crop]


def random_crop_flip(
    x: torch.Tensor, crop: int = CROP, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The seed's training augmentation: a random crop and a random horizontal flip per image.

    Implemented with ``unfold`` views: every possible crop position is a view, and one gather picks
    each image's own offset, so there is no Python loop over the batch.
    """
    n, _c, h, w = x.shape
    ny, nx = h - crop + 1, w - crop + 1
    ys = torch.randint(0, ny, (n,), generator=generator)
    xs = torch.randint(0, nx, (n,), generator=generator)
    # windows: (n, c, ny, nx, crop, crop) view of every crop of every image
    windows = x.unfold(2, crop, 1).unfold(3, crop, 1)
    dev = x.device
    out = windows[torch.arange(n, device=dev), :, ys.to(dev), xs.to(dev)]
    flip = (torch.rand(n, generator=generator) < 0.5).to(dev)
    return torch.where(flip[:, None, None, None], out.flip(-1), out)


def random_affine_crop_flip(
    x: torch.Tensor,
    crop: int = CROP,
    scale: tuple[float, float] = (0.8, 1.2),
    max_rotate_deg: float = 10.0,
    max_translate: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Stronger augmentation: random scale, rotation, translation and flip, sampled to crop x crop.

    One ``affine_grid`` + ``grid_sample`` call for the whole batch. Border pixels are replicated so
    the network never learns from black wedges that real webcam crops do not have.
    """
    n = x.shape[0]
    s = torch.empty(n).uniform_(scale[0], scale[1], generator=generator)
    a = torch.empty(n).uniform_(-max_rotate_deg, max_rotate_deg, generator=generator)
    a = a * math.pi / 180.0
    t = torch.empty(n, 2).uniform_(-max_translate, max_translate, generator=generator)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    # the output grid spans crop/size of the input at scale 1 (a 44 crop of a 48 image)
    frac = crop / x.shape[-1]
    cos, sin = torch.cos(a) * frac / s, torch.sin(a) * frac / s
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * flip
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * flip
    theta[:, 1, 1] = cos
    theta[:, :, 2] = t
    grid = F.affine_grid(theta.to(x.device), [n, x.shape[1], crop, crop], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_erasing(
    x: torch.Tensor,
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.25),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Erase one random rectangle per image (probability ``p``) with noise, as a batched mask."""
    n, _, h, w = x.shape
    frac = torch.empty(n).uniform_(area[0], area[1], generator=generator)
    aspect = torch.exp(torch.empty(n).uniform_(math.log(0.3), math.log(3.3), generator=generator))
    eh = (torch.sqrt(frac * aspect) * h).clamp(1, h).long()
    ew = (torch.sqrt(frac / aspect) * w).clamp(1, w).long()
    y0 = (torch.rand(n, generator=generator) * (h - eh + 1)).long()
    x0 = (torch.rand(n, generator=generator) * (w - ew + 1)).long()
    yy = torch.arange(h)[None, :, None]
    xx = torch.arange(w)[None, None, :]
    mask = (
        (yy >= y0[:, None, None])
        & (yy < (y0 + eh)[:, None, None])
        & (xx >= x0[:, None, None])
        & (xx < (x0 + ew)[:, None, None])
    )
    mask &= (torch.rand(n, generator=generator) < p)[:, None, None]
    noise = torch.randn(x.shape, generator=generator)
    return torch.where(mask[:, None].to(x.device), noise.to(x.device), x)
