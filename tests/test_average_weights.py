"""scripts/average_weights.py: the research check behind docs/reproduction.md, session 18."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_core.errors import ModelFileError
from fer_core.models.architectures import create_model
from fer_core.models.file_format import load_model, save_model
from fer_core.preprocess import Preprocess

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "average_weights.py"
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _script():
    spec = importlib.util.spec_from_file_location("average_weights", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model_file(path: Path, seed: int, width: int = 8, temperature: float = 1.0) -> Path:
    torch.manual_seed(seed)
    net = create_model("fast", width=width)
    with torch.no_grad():  # distinct running statistics, so their mean is checked too
        for buf in net.buffers():
            if buf.is_floating_point():
                buf.add_(float(seed))
    preprocess = Preprocess(temperature=temperature)
    return save_model(path, net, arch="fast", arch_config={"width": width}, classes=CLASSES,
                      preprocess=preprocess, version=str(seed))  # fmt: skip


def test_the_average_is_the_mean_of_each_float_tensor_and_loads(tmp_path: Path) -> None:
    a = _model_file(tmp_path / "a.pt", 1)
    b = _model_file(tmp_path / "b.pt", 2, temperature=0.9)
    out = tmp_path / "avg" / "ab.pt"
    assert _script().main(["--out", str(out), str(a), str(b)]) == 0
    sa, sb = (torch.load(p, weights_only=False)["state_dict"] for p in (a, b))
    avg = load_model(out)
    state = avg.net.state_dict()
    floats = [k for k, v in sa.items() if v.is_floating_point()]
    assert any("running_mean" in k for k in floats)
    for key in floats:
        np.testing.assert_allclose(state[key].numpy(), ((sa[key] + sb[key]) / 2).numpy(),
                                   rtol=1e-6, atol=1e-6, err_msg=key)  # fmt: skip
    for key in (k for k, v in sa.items() if not v.is_floating_point()):
        assert torch.equal(state[key], sb[key]), key
    # everything but the weights is the last file's
    assert avg.preprocess.temperature == pytest.approx(0.9)
    assert not list(out.parent.glob("*.tmp"))


def test_files_of_another_architecture_are_refused(tmp_path: Path) -> None:
    a = _model_file(tmp_path / "a.pt", 1, width=8)
    b = _model_file(tmp_path / "b.pt", 2, width=16)
    with pytest.raises(ValueError, match="another architecture"):
        _script().main(["--out", str(tmp_path / "x.pt"), str(a), str(b)])
    assert not (tmp_path / "x.pt").exists()


def test_a_file_that_is_not_a_model_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    a = _model_file(tmp_path / "a.pt", 1)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model file")
    with pytest.raises(ModelFileError, match=r"junk\.pt is not a readable model file"):
        _script().main(["--out", str(tmp_path / "x.pt"), str(a), str(junk)])
    assert not (tmp_path / "x.pt").exists()
