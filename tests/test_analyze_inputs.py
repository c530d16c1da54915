"""Every input item is checked on its own (issue 23): a bad image is reported and skipped, the
run goes on, a run with nothing analysable writes nothing, and no traceback reaches the user.

The good image is a real FER2013 face (committed fixture) on a 640x480 frame; the large one is
that frame upscaled and pasted on a 10000x10000 canvas, so it still gives a face row after the
shrink to 2048 px.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_core.analyze import MediaError, analyze_path, analyze_uploads
from fer_core.config import PROJECT_ROOT
from fer_core.logstore import LogStore
from fer_core.media_check import MAX_SIDE, InputRejected, load_image
from fer_core.session_info import SessionInfo
from fer_core.video_fixture import write_y4m
from tests.core_data import detectable_face_frame

FACE = PROJECT_ROOT / "tests" / "fixtures" / "fer2013" / "test" / "happy"


@pytest.fixture(scope="module")
def face_frame() -> np.ndarray:
    """A 640x480 frame with a real face that the detector finds (tests/core_data.py)."""
    return detectable_face_frame(FACE)


def write_large(path: Path, face_frame: np.ndarray, side: int = 10_000) -> Path:
    """The face frame upscaled 4x, pasted on a ``side`` x ``side`` gray canvas (PNG)."""
    gray = cv2.cvtColor(face_frame, cv2.COLOR_BGR2GRAY)
    big = cv2.resize(gray, (gray.shape[1] * 4, gray.shape[0] * 4),
                     interpolation=cv2.INTER_CUBIC)
    canvas = np.full((side, side), 128, np.uint8)
    y0, x0 = (side - big.shape[0]) // 2, (side - big.shape[1]) // 2
    canvas[y0:y0 + big.shape[0], x0:x0 + big.shape[1]] = big
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return path


def _cli(*args: str, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core", "analyze", *args, "--root", str(root),
                           "--no-progress"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=600)


def _bad_inputs(folder: Path) -> None:
    cv2.imwrite(str(folder / "b_one_pixel.png"), np.zeros((1, 1, 3), np.uint8))
    (folder / "c_garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)


@pytest.mark.subprocess
def test_a_folder_with_bad_images_analyses_the_good_and_the_large_ones(tmp_path, face_frame,
                                                                       model_path):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_good.png"), face_frame)
    _bad_inputs(folder)
    write_large(folder / "d_large.png", face_frame)
    root = tmp_path / "logs"
    done = _cli(str(folder), "--subject", "P01", "--session", "mixed", root=root)
    assert done.returncode == 3, done.stderr  # "some skipped"
    assert "Traceback" not in done.stderr and "cv2.error" not in done.stderr
    assert "b_one_pixel.png: too small: 1x1 px" in done.stderr
    assert "c_garbage.png: not a readable image" in done.stderr
    assert "d_large.png is 10000x10000 px: shrunk" in done.stderr
    store = LogStore(root)
    rows = store.read("P01", "mixed")
    assert rows["frame_index"].tolist() == [0, 1]  # the good and the large image
    assert rows["face_detected"].tolist() == [True, True]
    assert rows.loc[1, "box_w"] * 10_000 / MAX_SIDE > 4 * 150  # the upscaled face, shrunk
    check = store.session_meta("P01", "mixed").extra["input_check"]
    assert [s["name"] for s in check["skipped"]] == ["b_one_pixel.png", "c_garbage.png"]
    assert "too small" in check["skipped"][0]["reason"]
    assert check["downscaled"] == [{"name": "d_large.png", "width": 10_000, "height": 10_000}]
    assert check["limits"]["max_side"] == MAX_SIDE


@pytest.mark.subprocess
def test_a_run_of_only_bad_inputs_writes_no_session(tmp_path, model_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    _bad_inputs(folder)
    root = tmp_path / "logs"
    done = _cli(str(folder), "--subject", "P02", root=root)
    assert done.returncode == 2, done.stderr
    assert "no readable frame" in done.stderr and "nothing written" in done.stderr
    assert "too small" in done.stderr and "Traceback" not in done.stderr
    assert not (root / "subject=P02").exists()
    one = _cli(str(folder / "b_one_pixel.png"), "--subject", "P02", root=root)  # one image
    assert one.returncode == 2 and "Traceback" not in one.stderr, one.stderr
    assert not (root / "subject=P02").exists()


@pytest.mark.parametrize(("side", "message"), [
    (13_000, "169 megapixels, over the limit of 150"),  # ours
    (40_000, "too large: .*decompression bomb"),  # Pillow's own, for the absurd ones
])
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path, side, message):
    """A PNG declaring side x side pixels, with 64 rows of data: the header alone refuses it."""
    import zlib

    raw = zlib.compress(b"\x00" * (side + 1) * 64, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw)
                     + chunk(b"IEND", b""))
    with pytest.raises(InputRejected, match=message):
        load_image(path)


def test_sizes_within_the_limits_decode_exactly_as_before(tmp_path, face_frame):
    path = tmp_path / "f.png"
    cv2.imwrite(str(path), face_frame)
    image, original = load_image(path)
    assert original is None and np.array_equal(image, cv2.imread(str(path), cv2.IMREAD_COLOR))


def test_the_upload_reports_bad_files_by_their_own_names(tmp_path, face_frame, model):
    from fer_core.pipeline import FramePipeline

    good = cv2.imencode(".png", face_frame)[1].tobytes()
    tiny = cv2.imencode(".png", np.zeros((2, 2, 3), np.uint8))[1].tobytes()
    store = LogStore(tmp_path / "logs")
    result = analyze_uploads([("face.png", good), ("tiny.png", tiny), ("notes.txt", b"x")],
                             FramePipeline(model), store, SessionInfo("P03"))
    assert result.frames == 1 and result.frames_with_face == 1
    assert [s.name for s in result.skipped] == ["notes.txt", "tiny.png"]
    assert "unsupported file type .txt" in result.skipped[0].reason
    meta = store.session_meta("P03", result.session)
    assert [s["name"] for s in meta.extra["input_check"]["skipped"]] == ["notes.txt", "tiny.png"]
    with pytest.raises(MediaError, match="no readable frame"):
        analyze_uploads([("tiny.png", tiny)], FramePipeline(model), store, SessionInfo("P04"))
    assert store.list_sessions("P04").empty


def test_a_video_too_small_is_refused_before_anything_is_written(tmp_path, model):
    from fer_core.pipeline import FramePipeline

    video = write_y4m(tmp_path / "tiny.y4m", [np.zeros((16, 16, 3), np.uint8)] * 3, fps=10)
    store = LogStore(tmp_path / "logs")
    with pytest.raises(MediaError, match="too small"):
        analyze_path(video, SessionInfo("P05"), store=store, pipeline=FramePipeline(model),
                     progress=False)
    assert not (tmp_path / "logs" / "subject=P05").exists()


def test_a_tiny_frame_gives_no_face_instead_of_a_cv2_error(model):
    """The live path too: the detector answers "no face" for a frame too small to scan."""
    from fer_core.pipeline import FramePipeline

    result = FramePipeline(model).process(np.zeros((1, 1, 3), np.uint8))
    assert result.faces == []
