"""The train/test blur shift: measuring it, estimating the aligning blur, applying it everywhere."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_core.data import load_ckplus, load_fer2013
from fer_core.data.shift import blur_faces, estimate_blur_sigma, sharpness
from fer_core.inference import predict_faces
from fer_core.modelfile import load_model, save_model
from fer_core.nets import create_model
from tests.core_data import CK_FIXTURE, FER_FIXTURE, full_fer2013


def test_sharpness_falls_with_blur_and_ignores_contrast() -> None:
    faces = load_fer2013(FER_FIXTURE, "PublicTest").images
    s0 = sharpness(faces)
    s1 = sharpness(blur_faces(faces, 1.0))
    s3 = sharpness(blur_faces(faces, 3.0))
    assert (s1 < s0).all() and (s3 < s1).all()
    low_contrast = (faces.astype(np.float32) * 0.5 + 64).astype(np.uint8)
    assert np.allclose(sharpness(low_contrast), s0, rtol=0.1)


@pytest.mark.parametrize("sigma", [1.5, 3.0])
def test_estimate_recovers_a_known_blur(sigma: float) -> None:
    clean = load_ckplus(CK_FIXTURE).images
    sharp_ref = load_fer2013(FER_FIXTURE, "PublicTest").images  # a different clean set
    degraded = blur_faces(clean, sigma)
    assert estimate_blur_sigma(degraded, sharp_ref) == pytest.approx(sigma, abs=0.6)
    assert estimate_blur_sigma(clean, clean) == 0.0


def _model_with_blur(tmp_path, blur: float):
    import torch

    torch.manual_seed(0)  # the same weights for every blur setting
    net = create_model("fast", width=8).eval()
    classes = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    path = save_model(tmp_path / f"m{blur}.pt", net, arch="fast", arch_config={"width": 8},
                      classes=classes, mean=0.5, std=0.25, input_blur=blur)  # fmt: skip
    return load_model(path)


def test_every_inference_path_applies_the_models_input_blur(tmp_path) -> None:
    faces = load_fer2013(FER_FIXTURE, "PublicTest").images
    plain = _model_with_blur(tmp_path, 0.0)
    blurred = _model_with_blur(tmp_path, 2.5)
    assert blurred.input_blur == 2.5
    expected = predict_faces(plain, blur_faces(faces, 2.5))
    assert np.allclose(predict_faces(blurred, faces), expected, atol=1e-5)
    assert not np.allclose(predict_faces(plain, faces), expected, atol=1e-3)

    # the live pipeline blurs each resized face the same way
    from fer_core.detection import Box
    from fer_core.pipeline import FramePipeline

    frame = np.zeros((48, 48), np.uint8)
    frame[:] = faces[0]
    box = [Box(0, 0, 48, 48)]
    live = FramePipeline(blurred, backend="eager").classify(frame, box)
    pre_blurred = cv2.GaussianBlur(frame, (0, 0), 2.5)
    manual = FramePipeline(plain, backend="eager").classify(pre_blurred, box)
    assert np.allclose(live, manual, atol=1e-5)


@pytest.mark.data
def test_the_provided_training_split_is_blurred_and_the_tests_are_not() -> None:
    root = full_fer2013()
    train = load_fer2013(root, "Training").images[::50]
    public = load_fer2013(root, "PublicTest").images[::10]
    assert np.median(sharpness(train)) < 0.25 * np.median(sharpness(public))
    assert 2.0 < estimate_blur_sigma(train, public) < 4.0


def test_data_check_reports_the_shift_of_the_committed_fixtures(capsys) -> None:
    # the committed Training fixtures come from the provided (blurred) training split
    from fer_core.cli import main

    assert main(["data-check", "--data", str(FER_FIXTURE), "--every", "1"]) == 0
    out = capsys.readouterr().out
    sigma = float(out.split("sigma = ")[1].split()[0])
    assert 2.0 < sigma < 4.0
    assert "--input-blur" in out
