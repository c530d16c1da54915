"""One preprocessing spec per model and one path from uint8 faces to probabilities.

A model is trained through the CLI on real fixture faces, saved, loaded, and then every path that
classifies faces (the trainer's validation, ``evaluate``, ``predict_faces``, the live pipeline and
the benchmarks' call) must give the same probabilities for the same faces.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fer_core.cli import main
from fer_core.data import load_fer2013
from fer_core.detection import Box
from fer_core.inference import predict_faces
from fer_core.models.architectures import create_model
from fer_core.models.file_format import LoadedModel, ModelFileError, load_model, save_model
from fer_core.pipeline import DEFAULT_SETTINGS, FramePipeline
from fer_core.preprocess import Preprocess, PreprocessError, equalize_faces
from fer_core.preprocess_torch import predict_proba, prepare_faces
from fer_core.training.evaluate import evaluate_faces
from tests.core_data import FER_FIXTURE

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    out = tmp_path_factory.mktemp("run")
    assert main([
        "train", "--arch", "fast", "--arch-config", '{"width": 8}', "--dataset", "fer2013",
        "--data", str(FER_FIXTURE), "--epochs", "1", "--batch-size", "8", "--out", str(out),
        "--threads", "1", "--no-amp",
    ]) == 0  # fmt: skip
    return load_model(out / "model.pt")


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return load_fer2013(FER_FIXTURE, "PublicTest", use_cache=False).images


def test_every_path_gives_the_same_probabilities(trained: LoadedModel, faces: np.ndarray) -> None:
    pre = trained.preprocess
    assert pre.equalize and pre.test_crops == "ten"
    reference = predict_proba(trained.net, faces, pre)
    assert reference.shape == (len(faces), 7)
    np.testing.assert_allclose(reference.sum(1), 1.0, atol=1e-5)

    # evaluate / predict
    np.testing.assert_allclose(predict_faces(trained, faces), reference, atol=1e-6)
    result = evaluate_faces(
        trained, load_fer2013(FER_FIXTURE, "PublicTest", use_cache=False),
        dataset="fer2013", split="PublicTest",
    )  # fmt: skip
    assert int(result.confusion.sum()) == len(faces)
    # the live pipeline (TorchScript backend) on frames that are the 48x48 faces themselves,
    # with the model's crops and with its own default (centre and mirror)
    box = [Box(0, 0, 48, 48)]
    pipeline = FramePipeline(trained, dataclasses.replace(DEFAULT_SETTINGS, crops=pre.test_crops))
    live = np.concatenate([pipeline.classify(face, box) for face in faces])
    np.testing.assert_allclose(live, reference, atol=1e-4)
    flip = predict_proba(trained.net, faces, dataclasses.replace(pre, test_crops="flip"))
    live = np.concatenate([FramePipeline(trained).classify(face, box) for face in faces])
    np.testing.assert_allclose(live, flip, atol=1e-4)
    # a batch size that splits the faces does not change anything
    np.testing.assert_allclose(
        predict_proba(trained.net, faces, pre, batch_size=5), reference, atol=1e-6
    )


def test_centre_crop_is_one_forward_pass_per_face(trained: LoadedModel, faces: np.ndarray) -> None:
    calls: list[int] = []

    def net(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return trained.net(x)

    centre = dataclasses.replace(trained.preprocess, test_crops="center")
    predict_proba(net, faces[:4], centre)
    predict_proba(net, faces[:4], trained.preprocess)
    assert calls == [4, 40]
    centre_probs = predict_proba(trained.net, faces[:4], centre)
    # predict_faces takes the softmax in numpy (the torch-free path): float32 rounding apart
    np.testing.assert_allclose(predict_faces(trained, faces[:4], crops="center"), centre_probs,
                               atol=1e-6)  # fmt: skip


def test_flip_crops_average_the_centre_crop_and_its_mirror(
    trained: LoadedModel, faces: np.ndarray
) -> None:
    """'flip' runs two crops per face and is the mean softmax of the centre and its mirror."""
    calls: list[int] = []

    def net(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return trained.net(x)

    flip = dataclasses.replace(trained.preprocess, test_crops="flip")
    got = predict_proba(net, faces[:4], flip)
    assert calls == [8]
    centre = dataclasses.replace(trained.preprocess, test_crops="center")
    plain = predict_proba(trained.net, faces[:4], centre)
    mirrored = predict_proba(trained.net, np.ascontiguousarray(faces[:4, :, ::-1]), centre)
    np.testing.assert_allclose(got, (plain + mirrored) / 2, atol=1e-6)
    assert not np.allclose(got, plain, atol=1e-4)  # the mirror does count
    np.testing.assert_allclose(predict_faces(trained, faces[:4], crops="flip"), got, atol=1e-6)


def test_equalisation_makes_exposure_irrelevant(trained: LoadedModel, faces: np.ndarray) -> None:
    # a darker, flatter exposure of the same faces equalises to nearly the same image
    dim = (faces.astype(np.float32) * 0.5 + 20).astype(np.uint8)
    pre = trained.preprocess
    a, b = predict_proba(trained.net, faces, pre), predict_proba(trained.net, dim, pre)
    raw = dataclasses.replace(pre, equalize=False)
    c, d = predict_proba(trained.net, faces, raw), predict_proba(trained.net, dim, raw)
    assert np.abs(a - b).mean() < 0.25 * np.abs(c - d).mean()


def test_prepare_faces_normalises_equalised_pixels() -> None:
    face = np.tile(np.arange(48, dtype=np.uint8) * 2, (48, 1))  # a ramp 0..94
    pre = Preprocess(mean=0.5, std=0.25)
    x = prepare_faces(face, pre)
    assert x.shape == (1, 1, 48, 48) and x.dtype == torch.float32
    expected = (cv2.equalizeHist(face).astype(np.float32) / 255.0 - 0.5) / 0.25
    np.testing.assert_allclose(x[0, 0].numpy(), expected, atol=1e-6)
    # without equalisation the raw ramp is normalised as it is
    x_raw = prepare_faces(face, dataclasses.replace(pre, equalize=False))
    np.testing.assert_allclose(x_raw[0, 0, 0, 1].item(), (2 / 255.0 - 0.5) / 0.25, atol=1e-6)


def test_with_stats_measures_the_equalised_training_faces(faces: np.ndarray) -> None:
    pre = Preprocess().with_stats(faces)
    eq = equalize_faces(faces).astype(np.float64) / 255.0
    assert pre.mean == pytest.approx(eq.mean(), abs=1e-6)
    assert pre.std == pytest.approx(eq.std(), abs=1e-6)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((2, 40, 40), np.uint8), "resize"),
        (np.zeros((2, 48, 48), np.float32), "uint8"),
        (np.zeros((2, 48, 48, 3), np.uint8), r"\(N, 48, 48\)"),
    ],
)
def test_wrong_inputs_get_a_clear_error(images: np.ndarray, message: str) -> None:
    with pytest.raises(PreprocessError, match=message):
        prepare_faces(images, Preprocess())


def test_bad_specs_are_refused() -> None:
    with pytest.raises(PreprocessError, match="unknown preprocess fields"):
        Preprocess.from_dict({"equalize": True, "blur": 2.0})
    with pytest.raises(PreprocessError, match="test_crops"):
        Preprocess(test_crops="five")
    with pytest.raises(PreprocessError, match="crop_size"):
        Preprocess(crop_size=50)
    assert Preprocess.from_dict(Preprocess(mean=0.4).to_dict()) == Preprocess(mean=0.4)


def test_model_files_without_a_spec_are_refused_with_a_reason(tmp_path: Path) -> None:
    net = create_model("fast", width=8)
    path = save_model(tmp_path / "new.pt", net, arch="fast", arch_config={"width": 8},
                      classes=tuple("abcdefg"), preprocess=Preprocess())  # fmt: skip
    payload = torch.load(path, weights_only=True)
    del payload["preprocess"]
    payload.update(format_version=1, mean=0.5, std=0.25, input_size=48, crop_size=44)
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(ModelFileError, match="Retrain it"):
        load_model(tmp_path / "old.pt")
    payload["preprocess"] = {"equalize": True, "crop_size": 99}
    payload["format_version"] = 2
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="invalid preprocessing spec"):
        load_model(tmp_path / "bad.pt")
