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

from fer_core.preprocess import crop_offsets

CROP = 44


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


def random_affine_theta(
    n: int,
    size: int = 48,
    crop: int = CROP,
    scale: tuple[float, float] = (0.8, 1.2),
    max_rotate_deg: float = 10.0,
    max_translate: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(N, 2, 3) affine matrices: random scale, rotation, translation and flip per image.

    Sampled apart from the pixels so that one geometry can be applied to two versions of a batch
    (a camera-degraded one for the student, the clean one for a distillation teacher).
    """
    s = torch.empty(n).uniform_(scale[0], scale[1], generator=generator)
    a = torch.empty(n).uniform_(-max_rotate_deg, max_rotate_deg, generator=generator)
    a = a * math.pi / 180.0
    t = torch.empty(n, 2).uniform_(-max_translate, max_translate, generator=generator)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    # the output grid spans crop/size of the input at scale 1 (a 44 crop of a 48 image)
    frac = crop / size
    cos, sin = torch.cos(a) * frac / s, torch.sin(a) * frac / s
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * flip
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * flip
    theta[:, 1, 1] = cos
    theta[:, :, 2] = t
    return theta


def apply_affine(x: torch.Tensor, theta: torch.Tensor, crop: int = CROP) -> torch.Tensor:
    """Sample (N, C, crop, crop) from ``x`` through ``theta``, replicating border pixels.

    One ``affine_grid`` + ``grid_sample`` call for the whole batch. Border pixels are replicated so
    the network never learns from black wedges that real webcam crops do not have.
    """
    grid = F.affine_grid(theta.to(x.device), [x.shape[0], x.shape[1], crop, crop],
                         align_corners=False)  # fmt: skip
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_affine_crop_flip(
    x: torch.Tensor,
    crop: int = CROP,
    scale: tuple[float, float] = (0.8, 1.2),
    max_rotate_deg: float = 10.0,
    max_translate: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Stronger augmentation: random scale, rotation, shift and flip, sampled to crop x crop."""
    theta = random_affine_theta(
        x.shape[0], x.shape[-1], crop, scale, max_rotate_deg, max_translate, generator
    )
    return apply_affine(x, theta, crop)


def random_erasing_mask(
    shape: torch.Size | tuple[int, ...],
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.25),
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask (N, 1, H, W), noise of ``shape``) for :func:`random_erasing`, on the CPU.

    Drawn apart from the pixels so that a student's and a teacher's batch lose the same rectangle.
    """
    n, _, h, w = shape
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
    noise = torch.randn(tuple(shape), generator=generator)
    return mask[:, None], noise


def apply_erasing(x: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Replace the masked pixels of ``x`` by ``noise`` (both from :func:`random_erasing_mask`)."""
    return torch.where(mask.to(x.device), noise.to(x.device), x)


def random_erasing(
    x: torch.Tensor,
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.25),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Erase one random rectangle per image (probability ``p``) with noise, as a batched mask."""
    mask, noise = random_erasing_mask(x.shape, p, area, generator)
    return apply_erasing(x, mask, noise)


#: JPEG's standard luminance quantisation table (ITU-T T.81, Annex K.1)
_JPEG_LUMA = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99],
], dtype=torch.float32)  # fmt: skip


def _dct_matrix(n: int = 8) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float32)
    d = torch.cos(math.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d


def jpeg_quality_table(quality: torch.Tensor) -> torch.Tensor:
    """(N,) qualities 1..100 -> (N, 8, 8) quantisation tables, as libjpeg scales them."""
    q = quality.clamp(1, 100).float()
    scale = torch.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q)
    table = torch.floor((_JPEG_LUMA[None] * scale[:, None, None] + 50.0) / 100.0)
    return table.clamp(min=1.0)


def jpeg_like(pixels: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Batched JPEG luminance round trip of (N, 1, H, W) pixel values in [0, 255].

    8x8 block DCT, quantisation by each image's quality table, inverse DCT: the lossy part of
    JPEG (entropy coding is lossless, chroma is absent in gray faces). H and W must be multiples
    of 8 (48x48 faces are); runs on the batch's device as two matrix products per block.
    """
    n, c, h, w = pixels.shape
    if h % 8 or w % 8:
        raise ValueError(f"jpeg_like needs sides that are multiples of 8, got {h}x{w}")
    d = _dct_matrix().to(pixels.device)
    blocks = (pixels - 128.0).reshape(n, c, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)
    coef = d @ blocks @ d.T
    table = jpeg_quality_table(quality).to(pixels.device)[:, None, None, None]
    coef = torch.round(coef / table) * table
    out = (d.T @ coef @ d).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w) + 128.0
    return out.clamp(0.0, 255.0)


def _gaussian_kernels(sigma: torch.Tensor, size: int = 9) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(r[None, :] ** 2) / (2 * sigma[:, None] ** 2))
    g = g / g.sum(dim=1, keepdim=True)
    return g[:, :, None] * g[:, None, :]  # (N, size, size)


def random_camera(
    x: torch.Tensor,
    *,
    pixel_mean: float,
    pixel_std: float,
    p: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Camera-like degradations of prepared faces (N, 1, S, S), each with probability ``p``.

    Blur (sigma 0.5-2 px), a low-resolution sensor (12-32 px, upscaled back), JPEG compression
    (quality 8-60) and sensor noise (sd 3-20 gray levels): what
    :mod:`fer_core.robustness` measures at test time, applied here to the equalised, normalised
    faces of a training batch (``pixel_mean``/``pixel_std``: the spec's normalisation, to work
    in gray levels where it matters). Parameters come from the CPU generator; pixels stay on the
    batch's device.
    """
    n, _c, h, w = x.shape
    dev = x.device
    out = x.clone()

    def pick() -> torch.Tensor:
        return torch.rand(n, generator=generator) < p

    sel = pick()
    if sel.any():
        idx = sel.nonzero().squeeze(1)
        sigma = torch.empty(len(idx)).uniform_(0.5, 2.0, generator=generator)
        k = _gaussian_kernels(sigma).to(dev)[:, None]
        pad = k.shape[-1] // 2
        src = F.pad(out[idx.to(dev)], (pad, pad, pad, pad), mode="replicate")
        blurred = F.conv2d(src.transpose(0, 1), k, groups=len(idx)).transpose(0, 1)
        out[idx.to(dev)] = blurred
    sel = pick()
    if sel.any():
        sizes = torch.tensor([12, 16, 20, 24, 32])[torch.randint(0, 5, (n,), generator=generator)]
        for s in sizes[sel].unique().tolist():
            idx = (sel & (sizes == s)).nonzero().squeeze(1).to(dev)
            small = F.interpolate(out[idx], size=(s, s), mode="area")
            out[idx] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    sel = pick()
    if sel.any() and h % 8 == 0 and w % 8 == 0:
        idx = sel.nonzero().squeeze(1)
        quality = torch.randint(8, 61, (len(idx),), generator=generator)
        d = idx.to(dev)
        pixels = (out[d] * pixel_std + pixel_mean) * 255.0
        out[d] = (jpeg_like(pixels, quality) / 255.0 - pixel_mean) / pixel_std
    sel = pick()
    if sel.any():
        sd = torch.empty(n).uniform_(3.0, 20.0, generator=generator) * sel
        scale = (sd / 255.0 / pixel_std)[:, None, None, None]
        out = out + (torch.randn(x.shape, generator=generator) * scale).to(dev)
    return out
