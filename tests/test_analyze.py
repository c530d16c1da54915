"""``python -m fer_core analyze`` on generated videos and image folders, and its bad inputs.

Videos are generated here from committed real faces: empty frames, then a face, then empty
frames again, so the expected face/no-face pattern and every frame's timestamp are known.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_core.analyze import MediaError, analyze_path, open_media
from fer_core.config import PROJECT_ROOT
from fer_core.logstore import LogStore
from fer_core.session_info import SessionInfo
from fer_core.video_fixture import blank_frame, read_y4m, write_y4m
from tests.core_data import detectable_face_frame

FACE = PROJECT_ROOT / "tests" / "fixtures" / "fer2013" / "test" / "happy"
START = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
FPS = 10


@pytest.fixture(scope="module")
def face_frame(model_path) -> np.ndarray:
    """A 640x480 frame with a real face that the detector finds (tests/core_data.py)."""
    return detectable_face_frame(FACE)


def _frames(face: np.ndarray) -> list[np.ndarray]:
    """1 s empty, 2 s face, 1 s empty at 10 frames/s."""
    return [blank_frame()] * FPS + [face] * (2 * FPS) + [blank_frame()] * FPS


def _cli(*args: str, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core", "analyze", *args, "--root", str(root)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


def test_y4m_writer_round_trips(tmp_path, face_frame):
    path = write_y4m(tmp_path / "v.y4m", [blank_frame(), face_frame], fps=15)
    assert path.read_bytes().startswith(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\nFRAME\n")
    fps, frames = read_y4m(path)
    assert fps == 15 and len(frames) == 2
    assert np.abs(frames[1].astype(int) - face_frame.astype(int)).mean() < 3  # 4:2:0 rounding
    with pytest.raises(ValueError, match="even"):
        write_y4m(tmp_path / "odd.y4m", [blank_frame(641, 480)])


@pytest.mark.subprocess
@pytest.mark.parametrize("kind", ["y4m", "avi"])
def test_analyze_a_video_through_the_cli(tmp_path, face_frame, kind):
    video = tmp_path / f"clip.{kind}"
    frames = _frames(face_frame)
    if kind == "y4m":
        write_y4m(video, frames, fps=FPS)
    else:
        out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 480))
        for f in frames:
            out.write(f)
        out.release()
    root = tmp_path / "logs"
    done = _cli(str(video), "--subject", "P01", "--session", "clip", "--start",
                START.isoformat(), "--label", "offline", "--operator", "psy", root=root)
    assert done.returncode == 0, done.stderr
    assert "frame" in done.stderr and "40/40" in done.stderr  # the tqdm progress bar

    store = LogStore(root)
    rows = store.read("P01", "clip")
    assert rows["frame_index"].tolist() == list(range(40))  # one row per frame, one face each
    expected_ts = [START + timedelta(milliseconds=100 * i) for i in range(40)]
    assert list(rows["timestamp"]) == [pd.Timestamp(t) for t in expected_ts]
    assert (rows["source"] == "video").all()
    detected = rows["face_detected"].to_numpy()
    assert not detected[:FPS].any() and not detected[3 * FPS:].any()
    assert detected[FPS:3 * FPS].mean() >= 0.9  # the face, in (almost) every frame showing it
    assert rows.loc[rows["face_detected"], "label"].notna().all()
    assert rows.loc[~rows["face_detected"], ["label", "box_x"]].isna().all().all()
    meta = store.session_meta("P01", "clip")
    assert meta.source == "video" and meta.label == "offline"
    assert meta.operator == "psy"  # the CLI's SessionInfo carries the operator too
    assert meta.started_at == START
    assert meta.ended_at == expected_ts[-1]  # the video's clock, not the wall clock


def test_every_nth_frame_keeps_true_timestamps(tmp_path, face_frame, model_path):
    video = write_y4m(tmp_path / "clip.y4m", _frames(face_frame), fps=FPS)
    result = analyze_path(video, SessionInfo("P02", "every3"), store=LogStore(tmp_path / "logs"),
                          start=START, every=3, progress=False)
    rows = LogStore(tmp_path / "logs").read("P02", "every3")
    assert result.frames == len(rows) == 14  # frames 0, 3, ..., 39
    assert list(rows["timestamp"]) == [pd.Timestamp(START + timedelta(milliseconds=300 * i))
                                       for i in range(14)]


@pytest.mark.subprocess
def test_analyze_a_folder_of_images_skips_a_damaged_one(tmp_path, face_frame, model_path):
    folder = tmp_path / "images"
    folder.mkdir()
    times = [START + timedelta(seconds=s) for s in (0, 5, 9)]
    for i, (frame, t) in enumerate(zip([face_frame, blank_frame(), face_frame], times,
                                       strict=True)):
        path = folder / f"img{i}.png"
        cv2.imwrite(str(path), frame)
        os.utime(path, (t.timestamp(), t.timestamp()))
    (folder / "img3.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("ignored: not an image")
    root = tmp_path / "logs"
    done = _cli(str(folder), "--subject", "P03", "--session", "pics", root=root)
    assert done.returncode == 3, done.stderr  # done, but some input was skipped
    assert "skipped img3.jpg" in done.stderr
    rows = LogStore(root).read("P03", "pics")
    assert list(rows["timestamp"]) == [pd.Timestamp(t) for t in times]
    assert rows["face_detected"].tolist() == [True, False, True]
    assert (rows["source"] == "image").all()


def test_a_single_image_gets_its_modification_time(tmp_path, face_frame, model_path):
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), face_frame)
    os.utime(path, (START.timestamp(), START.timestamp()))
    result = analyze_path(path, SessionInfo("P04"), store=LogStore(tmp_path / "logs"),
                          progress=False)
    rows = LogStore(tmp_path / "logs").read("P04", result.session)
    assert rows["timestamp"].tolist() == [pd.Timestamp(START)] and rows["face_detected"].all()


@pytest.mark.subprocess
@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "missing.mp4", "no such file"),
    (lambda d: (d / "clip.txt").write_text("x") and d / "clip.txt", "unsupported file type"),
    (lambda d: (d / "broken.mp4").write_bytes(os.urandom(4096)) and d / "broken.mp4",
     "cannot read video"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "holds no images"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, make, message):
    """Checked before the model is even loaded: these run with no model shipped too."""
    target = make(tmp_path)
    root = tmp_path / "logs"
    done = _cli(str(target), "--subject", "P05", root=root)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (root / "subject=P05").exists()
    with pytest.raises(MediaError, match=message):
        open_media(target)


@pytest.mark.subprocess
def test_bad_ids_and_an_existing_session_are_refused(tmp_path, face_frame, model_path):
    image = tmp_path / "one.png"
    cv2.imwrite(str(image), face_frame)
    root = tmp_path / "logs"
    done = _cli(str(image), "--subject", "../evil", root=root)
    assert done.returncode == 2 and "subject id" in done.stderr and not root.exists()
    assert _cli(str(image), "--subject", "P06", "--session", "s", root=root).returncode == 0
    before = LogStore(root).read("P06", "s")
    again = _cli(str(image), "--subject", "P06", "--session", "s", root=root)
    assert again.returncode == 2 and "already exists" in again.stderr
    pd.testing.assert_frame_equal(LogStore(root).read("P06", "s"), before)  # nothing lost


def test_a_folder_of_only_damaged_images_leaves_no_session(tmp_path, model_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG broken")
    store = LogStore(tmp_path / "logs")
    with pytest.raises(MediaError, match="no readable frame"):
        analyze_path(folder, SessionInfo("P07", "s"), store=store, progress=False)
    assert store.list_sessions().empty


def test_prefetch_keeps_order_passes_errors_and_stops_early():
    from fer_core.analyze import prefetch

    assert list(prefetch(iter(range(50)), 4)) == list(range(50))

    def failing():
        yield 1
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for x in prefetch(failing(), 2):
            got.append(x)
    assert got == [1]

    closed = []

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)  # the source (a video capture) is released

    for x in prefetch(endless(), 3):
        if x == 5:
            break
    assert closed == [True]
