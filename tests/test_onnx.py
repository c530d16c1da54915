"""The app runs without torch: shipped ONNX graphs equal the networks, and no app path loads torch.

* Every shipped model file has its ONNX graph beside it, and ONNX Runtime gives the PyTorch
  network's probabilities (max absolute difference at most 1e-4) on real fixture faces, with
  every test-crop mode and the file's temperature.
* The numpy preprocessing (crops, temperature softmax) is the torch path's arithmetic.
* A graph exported from another version of the model file is refused, never run stale.
* In a fresh process where ``import torch`` fails, recording a frame through the pipeline,
  analysing a video with the CLI and importing every dashboard page (and what each imports,
  lazily or not) work and load no torch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_core.classifier import (
    ONNX_META_KEY,
    TOLERANCE,
    Classifier,
    RuntimeUnavailableError,
    load_classifier,
    onnx_path_for,
)
from fer_core.cli import main
from fer_core.inference import predict_faces
from fer_core.models.file_format import load_model, with_temperature
from fer_core.models.shipped import shipped_models
from fer_core.pipeline import FramePipeline
from fer_core.preprocess import Preprocess, crop_array, prepare_array, probs_from_logits_array
from fer_core.preprocess_torch import prepare_faces, probs_from_logits
from fer_core.preprocess_torch import test_crops as torch_test_crops
from tests.model_fixtures import real_faces

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("private_cache", "one_torch_thread")


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return real_faces()


def test_every_shipped_model_ships_its_onnx_graph() -> None:
    models = shipped_models()
    assert {"fast", "ckplus"} <= set(models)
    for name, path in models.items():
        assert onnx_path_for(path).is_file(), f"{name}: no {onnx_path_for(path).name}"


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_onnx_runtime_gives_the_networks_probabilities_on_real_faces(
    name: str, faces: np.ndarray
) -> None:
    path = shipped_models()[name]
    ort = load_classifier(path, runtime="onnxruntime")
    eager = load_classifier(path, runtime="eager")
    assert (ort.runtime, eager.runtime) == ("onnxruntime", "eager")
    assert (ort.name, ort.version, ort.classes, ort.preprocess) == (
        eager.name, eager.version, eager.classes, eager.preprocess)  # fmt: skip
    model = load_model(path)
    for crops in ("ten", "flip", "center"):
        got = ort.with_crops(crops).predict(faces, batch_size=7)
        ref = predict_faces(model, faces, crops=crops)
        assert got.shape == ref.shape == (len(faces), len(model.classes))
        assert np.abs(got - ref).max() <= TOLERANCE
        assert (got.argmax(1) == ref.argmax(1)).all()


def test_the_graph_carries_the_model_files_spec_and_the_temperature_applies(
    tmp_path: Path, faces: np.ndarray
) -> None:
    src = shipped_models()["fast"]
    hot = with_temperature(src, tmp_path / "hot.pt", 2.5, {"why": "test"})
    assert main(["export-onnx", "--weights", str(hot)]) == 0
    onnx = tmp_path / "hot.onnx"
    ort = load_classifier(onnx)  # the graph alone: the spec comes from its metadata
    assert ort.preprocess.temperature == 2.5 and ort.runtime == "onnxruntime"
    plain = load_classifier(src, runtime="onnxruntime").predict(faces)
    got = ort.predict(faces)
    assert np.abs(got - predict_faces(load_model(hot), faces)).max() <= TOLERANCE
    assert np.abs(got - plain).max() > 0.01  # a softer distribution, not the file's old one
    meta = json.loads(ort.net.get_modelmeta().custom_metadata_map[ONNX_META_KEY])
    assert meta["source"] == "hot.pt" and meta["preprocess"]["temperature"] == 2.5


def test_a_stale_graph_is_refused_and_auto_falls_back_to_torch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = shipped_models()["fast"]
    pt = tmp_path / "fast.pt"
    shutil.copy(src, pt)
    shutil.copy(onnx_path_for(src), tmp_path / "fast.onnx")
    assert load_classifier(pt).runtime == "onnxruntime"  # a faithful copy runs
    with_temperature(src, pt, 3.0, {"why": "recalibrated after export"})
    with pytest.raises(RuntimeUnavailableError, match=r"exported from another fast\.pt"):
        load_classifier(pt, runtime="onnxruntime")
    with caplog.at_level("WARNING"):
        clf = load_classifier(pt)
    assert clf.runtime == "torchscript" and clf.preprocess.temperature == 3.0
    assert "exported from another fast.pt" in caplog.text


def test_a_bad_runtime_or_a_missing_graph_is_a_clear_error(tmp_path: Path) -> None:
    src = shipped_models()["fast"]
    with pytest.raises(ValueError, match="unknown runtime 'tensorrt'"):
        load_classifier(src, runtime="tensorrt")
    pt = tmp_path / "fast.pt"
    shutil.copy(src, pt)
    with pytest.raises(RuntimeUnavailableError, match="export-onnx --weights"):
        load_classifier(pt, runtime="onnxruntime")
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    with pytest.raises(Exception, match="not a readable ONNX graph"):
        load_classifier(tmp_path / "junk.onnx")


@pytest.mark.parametrize("crops", ["ten", "flip", "center"])
def test_numpy_preprocessing_is_the_torch_paths_arithmetic(crops: str, faces: np.ndarray) -> None:
    pre = Preprocess(mean=0.51, std=0.27, test_crops=crops, temperature=1.7)
    x = prepare_array(faces, pre)
    assert x.dtype == np.float32 and x.shape == (len(faces), 1, 48, 48)
    np.testing.assert_array_equal(x, prepare_faces(faces, pre).numpy())
    ref_crops = torch_test_crops(torch.from_numpy(x), pre).numpy()
    np.testing.assert_array_equal(crop_array(x, pre), ref_crops)
    logits = np.random.default_rng(0).normal(0, 3, (len(ref_crops), 7)).astype(np.float32)
    ref = probs_from_logits(torch.from_numpy(logits), pre).numpy()
    np.testing.assert_allclose(probs_from_logits_array(logits, pre), ref, atol=1e-6)


def test_one_classifier_per_pipeline_built_once(
    monkeypatch: pytest.MonkeyPatch, faces: np.ndarray
) -> None:
    """The pipeline holds its classifier (runtime + spec with the live crops); a frame only runs
    it: nothing is traced, wrapped or re-specified per call."""
    clf = load_classifier(shipped_models()["fast"], runtime="onnxruntime")
    pipe = FramePipeline(clf)
    assert isinstance(pipe.classifier, Classifier)
    assert pipe.classifier.preprocess.test_crops == pipe.settings.crops == "flip"
    assert pipe.backend == "onnxruntime" and pipe.net is clf.net
    held = pipe.classifier
    monkeypatch.setattr(Classifier, "with_crops", lambda *a: pytest.fail("rebuilt per call"))
    monkeypatch.setattr(Classifier, "from_model", lambda *a: pytest.fail("rebuilt per call"))
    frame = np.full((240, 320), 120, np.uint8)
    for i in range(3):
        pipe.process(frame, None, i)
        pipe.predict(faces[:2])
    assert pipe.classifier is held


#: Runs in a fresh process with torch made unimportable: the app's three paths, then the report.
_NO_TORCH = """
import ast, importlib, importlib.abc, sys
from pathlib import Path

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)",
                                      name=name)
        return None

sys.meta_path.insert(0, NoTorch())
root, work = Path(sys.argv[1]), Path(sys.argv[2])

# 1. record a frame of a real face through the pipeline and the recorder
from fer_core.classifier import load_classifier
from fer_core.logstore import LogStore
from fer_core.models.shipped import resolve_model_path
from fer_core.recording import SessionRecorder
from fer_core.session_info import SessionInfo
from fer_core.video_fixture import compose_face_frame, write_y4m
from tests.core_data import detectable_face_frame
from datetime import UTC, datetime
clf = load_classifier(resolve_model_path())
assert clf.runtime == "onnxruntime", clf.runtime
frame = detectable_face_frame()
with SessionRecorder.open(LogStore(work / "logs"), clf, SessionInfo("P1", source="webcam")) as rec:
    result = rec.add(frame, datetime.now(UTC))
assert len(result.faces) == 1 and result.faces[0].label == "happy", result.faces

# 2. analyse a short video with the CLI
from fer_core.cli import main
video = write_y4m(work / "clip.y4m", [frame] * 4)
assert main(["analyze", str(video), "--subject", "P2", "--root", str(work / "logs")]) == 0
# a command that needs torch says so in one line (exit 2), without a traceback
assert main(["list-models", "--no-count"]) == 2

# 3. every module that a dashboard page or module imports, at the top or inside a function (the
#    pages are scripts that need a logged-in Streamlit session to run; what they load is this)
import dashboard.webrtc_glue
dash = root / "dashboard"
for script in [*sorted(dash.glob("*.py")), *sorted((dash / "pages").glob("*.py"))]:
    for node in ast.walk(ast.parse(script.read_text())):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                 else [])
        for name in names:
            importlib.import_module(name)
print("TORCH=" + ",".join(sorted(m for m in sys.modules if m.split(".")[0] == "torch")))
"""


@pytest.mark.subprocess
def test_recording_analyzing_and_every_page_run_without_torch(tmp_path: Path) -> None:
    script = tmp_path / "no_torch.py"
    script.write_text(textwrap.dedent(_NO_TORCH))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FER_RUNTIME": "auto",
           "STREAMLIT_SERVER_HEADLESS": "true"}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(script), str(ROOT), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("TORCH="))
    assert line == "TORCH="
    assert "`list-models` needs torch, which the app install leaves out" in proc.stderr
    assert "Traceback" not in proc.stderr
