"""Ten-crop and training augmentation on batches."""

from __future__ import annotations

import torch

from fer_core.transforms import (
    center_crop,
    random_affine_crop_flip,
    random_crop_flip,
    random_erasing,
    ten_crop,
)


def _batch(n: int = 3) -> torch.Tensor:
    return torch.arange(n * 48 * 48, dtype=torch.float32).reshape(n, 1, 48, 48)


def test_ten_crop_equals_the_expected_slices() -> None:
    x = _batch()
    crops = ten_crop(x)
    assert crops.shape == (3, 10, 1, 44, 44)
    expected = [
        x[..., 0:44, 0:44],  # top-left
        x[..., 0:44, 4:48],  # top-right
        x[..., 4:48, 0:44],  # bottom-left
        x[..., 4:48, 4:48],  # bottom-right
        x[..., 2:46, 2:46],  # centre
    ]
    for k, e in enumerate(expected):
        assert torch.equal(crops[:, k], e), k
        assert torch.equal(crops[:, 5 + k], e.flip(-1)), k + 5


def test_ten_crop_rejects_non_batched_input() -> None:
    try:
        ten_crop(torch.zeros(48, 48))
    except ValueError as exc:
        assert "(N, C, H, W)" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_center_crop_is_the_fifth_crop() -> None:
    x = _batch()
    assert torch.equal(center_crop(x), ten_crop(x)[:, 4])


def test_random_crop_flip_returns_a_window_of_each_image() -> None:
    x = _batch(16)
    out = random_crop_flip(x, generator=torch.Generator().manual_seed(0))
    assert out.shape == (16, 1, 44, 44)
    for i in range(16):
        windows = [
            x[i, :, y : y + 44, xx : xx + 44] for y in range(5) for xx in range(5)
        ]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(-1)) for w in windows)


def test_random_crop_flip_is_repeatable_with_a_seed() -> None:
    x = _batch(8)
    a = random_crop_flip(x, generator=torch.Generator().manual_seed(5))
    b = random_crop_flip(x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_identity_affine_equals_centre_crop_or_its_mirror() -> None:
    x = torch.rand(6, 1, 48, 48)
    out = random_affine_crop_flip(
        x, scale=(1.0, 1.0), max_rotate_deg=0.0, max_translate=0.0,
        generator=torch.Generator().manual_seed(0),
    )
    c = center_crop(x)
    for i in range(6):
        assert torch.allclose(out[i], c[i], atol=1e-5) or torch.allclose(
            out[i], c[i].flip(-1), atol=1e-5
        )


def test_random_erasing_changes_only_a_rectangle() -> None:
    x = torch.zeros(32, 1, 44, 44)
    out = random_erasing(x, p=1.0, generator=torch.Generator().manual_seed(0))
    changed = out != 0
    for i in range(32):
        rows = changed[i, 0].any(1).nonzero().flatten()
        cols = changed[i, 0].any(0).nonzero().flatten()
        assert len(rows) > 0
        box = changed[i, 0, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        # nearly every pixel inside the bounding box is noise (a randn value is ~never exactly 0)
        assert box.float().mean() > 0.99


def test_jpeg_like_matches_opencv_jpeg_closely() -> None:
    """The batched DCT round trip is JPEG's lossy step: close to OpenCV's encoder at the same
    quality (OpenCV also rounds in integers, so a gray level or two apart)."""
    import cv2
    import numpy as np

    from fer_core.transforms import jpeg_like
    from tests.model_fixtures import real_faces

    faces = real_faces()[:6]
    ours = jpeg_like(torch.from_numpy(faces).float()[:, None], torch.full((6,), 20)).numpy()[:, 0]
    ref = np.stack([cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 20])[1],
                                 cv2.IMREAD_GRAYSCALE) for f in faces])  # fmt: skip
    assert np.abs(ours - ref).mean() < 1.5  # JPEG changes these faces by far more:
    assert np.abs(faces.astype(float) - ref).mean() > 3.0


def test_random_camera_degrades_some_faces_and_keeps_the_rest() -> None:
    from fer_core.transforms import random_camera

    x = torch.randn(64, 1, 48, 48)
    gen = torch.Generator().manual_seed(0)
    out = random_camera(x, pixel_mean=0.5, pixel_std=0.25, p=0.2, generator=gen)
    assert out.shape == x.shape and torch.isfinite(out).all()
    changed = (out - x).abs().flatten(1).amax(1) > 1e-4
    # each of four degradations with p = 0.2: about 1 - 0.8**4 = 59% of faces changed
    assert 20 <= int(changed.sum()) <= 56
    same = random_camera(x, pixel_mean=0.5, pixel_std=0.25, p=0.2,
                         generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert torch.equal(out, same)
    none = random_camera(x, pixel_mean=0.5, pixel_std=0.25, p=0.0, generator=gen)
    assert torch.equal(none, x)
