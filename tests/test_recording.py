"""One recording path: the live glue, ``analyze`` and the upload give identical rows.

The same decoded frames go through all three entry points with the same timestamps: as
``av.VideoFrame``s with an RTP-like clock into the Record page's :class:`LiveRecorder`, as a video
file into :func:`analyze_path`, and as uploaded bytes into :func:`analyze_uploads`. The clip has
empty frames, a face that moves (so the tracked re-detection between full scans matters) and
empty frames again, so a drift in detection cadence or row building shows up here.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
import pytest

from dashboard.webrtc_glue import WebRtcRecorder
from fer_core.analyze import analyze_path, analyze_uploads
from fer_core.calibration import crop_softmax, expected_calibration_error
from fer_core.data import load_fer2013
from fer_core.detection import FaceDetector
from fer_core.inference import predict_faces_logits
from fer_core.logstore import PROB_COLUMNS as PROBS
from fer_core.logstore import LogStore
from fer_core.models.file_format import load_model, with_temperature
from fer_core.pipeline import DEFAULT_SETTINGS, FramePipeline, PipelineSettings, to_gray
from fer_core.recording import SessionRecorder, SessionResult, face_rows
from fer_core.session_info import SessionInfo
from fer_core.training.evaluate import evaluate_faces
from fer_core.video_fixture import blank_frame, compose_face_frame, face_paths, write_y4m
from tests.core_data import FER_FIXTURE

FACES = Path(__file__).parent / "fixtures" / "fer2013" / "test" / "happy"
CONSENT = {"given": True, "text": "consent text shown", "at": "2026-11-27T10:00:00+00:00"}
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PROB_COLUMNS = list(PROBS)
FPS = 20  # 50 ms per frame: every timestamp is a whole millisecond on every path
#: session context, set once per session; the rest of every row must be equal
CONTEXT = ["subject", "session", "source"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    """A 20-frame Y4M clip and its frames as OpenCV decodes them (what analyze sees)."""
    detector = FaceDetector()
    face = None
    for path in face_paths(FACES):
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if detector.detect(cv2.cvtColor(compose_face_frame(image), cv2.COLOR_BGR2GRAY)):
            face = image
            break
    assert face is not None, "Haar finds no committed happy face"
    frames = [blank_frame()] * 4
    frames += [compose_face_frame(face, center=(300 + 6 * i, 240 + 2 * i)) for i in range(12)]
    frames += [blank_frame()] * 4
    path = write_y4m(tmp_path_factory.mktemp("clip") / "clip.y4m", frames, fps=FPS)
    cap = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        decoded.append(image)
    cap.release()
    assert len(decoded) == len(frames)
    return path, decoded


def _live(model, store: LogStore, images: list[np.ndarray],
          info: SessionInfo | None = None) -> SessionResult:
    """Feed ``images`` to the Record page's recorder as streamlit-webrtc would; its result."""
    elapsed = [0.0]  # the monotonic clock: frame k arrives k/FPS after the start (at T0)
    recorder = WebRtcRecorder(model, store, now=lambda: T0, monotonic=lambda: elapsed[0])
    recorder.arm(info or SessionInfo("P1", consent=CONSENT))

    def feed() -> None:
        for i, image in enumerate(images):
            elapsed[0] = i / FPS
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = 123_456 + i * 90_000 // FPS
            frame.time_base = Fraction(1, 90_000)
            recorder.on_frame(frame)

    worker = threading.Thread(target=feed)  # on_frame runs on the component's thread
    worker.start()
    worker.join()
    finished = recorder.finish()
    assert finished is not None and finished.error is None
    return finished


def test_live_analyze_and_upload_record_identical_rows(model, clip, tmp_path):
    path, images = clip
    store = LogStore(tmp_path)
    live = _live(model, store, images).session
    offline = analyze_path(path, SessionInfo("P1", "offline"), store=store,
                           pipeline=FramePipeline(model), start=T0, progress=False).session
    upload = analyze_uploads([("camera.y4m", path.read_bytes())], FramePipeline(model), store,
                             SessionInfo("P1", consent=CONSENT), start=T0).session

    rows = {s: store.read("P1", s).drop(columns=CONTEXT) for s in (live, offline, upload)}
    reference = rows[live]
    assert len(reference) == len(images)
    assert reference["face_detected"].sum() >= 8  # the face is found and tracked, not missed
    expected_ts = [T0 + timedelta(milliseconds=1000 * i // FPS) for i in range(len(images))]
    assert reference["timestamp"].tolist() == expected_ts
    for session in (offline, upload):
        pd.testing.assert_frame_equal(rows[session].drop(columns=PROB_COLUMNS),
                                      reference.drop(columns=PROB_COLUMNS))
        # several frames share one forward pass offline: float32 sums in another order
        np.testing.assert_allclose(rows[session][PROB_COLUMNS].to_numpy(dtype=float),
                                   reference[PROB_COLUMNS].to_numpy(dtype=float), atol=1e-6)

    metas = {s: store.session_meta("P1", s) for s in (live, offline, upload)}
    assert [metas[s].source for s in (live, offline, upload)] == ["webcam", "video", "video"]
    for meta in metas.values():
        assert meta.extra["pipeline"] == {**DEFAULT_SETTINGS.as_dict(), "backend": "torchscript"}
        assert (meta.model_name, meta.model_version) == (model.name, model.version)


def test_one_session_info_gives_live_analyze_and_upload_the_same_metadata(model, clip,
                                                                          tmp_path):
    """Issue 20 item 3: the Record page's live recorder (real av frames, no browser),
    ``analyze`` of the fixture video and the upload of its bytes, all from ONE SessionInfo.

    Every metadata field is equal except exactly these, and only because the entry point
    decides them: ``session`` (each run generates its own id), ``source`` (the frames come from
    a camera or a file) and ``extra``'s entry-point keys (live: ``client``; a file: ``input``,
    the file's own name, and ``input_check``, what its per-item checks found). The three
    return the same result type with the same counts.
    """
    path, images = clip
    store = LogStore(tmp_path)
    settings = PipelineSettings(detect_every=5)  # not the default: the settings travel too
    info = SessionInfo("P9", operator="psy", label="baseline", notes="first visit",
                       consent=CONSENT, settings=settings, extra={"study": "S1"})
    live = _live(model, store, images, info)
    offline = analyze_path(path, info, store=store, pipeline=FramePipeline(model, settings),
                           start=T0, progress=False)
    upload = analyze_uploads([("camera.y4m", path.read_bytes())],
                             FramePipeline(model, settings), store, info, start=T0)
    results = {"live": live, "analyze": offline, "upload": upload}

    assert {type(r) for r in results.values()} == {SessionResult}
    assert len({r.session for r in results.values()}) == 3
    for r in results.values():
        assert (r.subject, r.frames, r.rows, r.started_at) == ("P9", len(images), len(images), T0)
        assert r.duration_s == pytest.approx((len(images) - 1) / FPS)
    assert len({r.frames_with_face for r in results.values()}) == 1
    assert [r.source for r in results.values()] == ["webcam", "video", "video"]

    metas = {k: store.session_meta("P9", r.session).to_dict() for k, r in results.items()}
    reference = metas["live"]
    assert reference["operator"] == "psy" and reference["consent"] == CONSENT
    assert (reference["label"], reference["notes"]) == ("baseline", "first visit")
    assert reference["extra"]["pipeline"] == {**settings.as_dict(), "backend": "torchscript"}
    for k in ("analyze", "upload"):
        differ = {f for f in reference if metas[k][f] != reference[f]}
        assert differ == {"session", "source", "extra"}, (k, differ)
    extras = {k: m["extra"] for k, m in metas.items()}
    live = extras["live"].pop("live")  # camera frames received and dropped: live only
    assert live["frames_dropped"] == 0 and live["frames_received"] > 0
    assert extras["live"] == {"study": "S1", "client": "record page",
                              "pipeline": reference["extra"]["pipeline"]}
    for k, name in (("analyze", "clip.y4m"), ("upload", "camera.y4m")):
        assert extras[k].pop("input") == name  # the upload's own name, not its temporary one
        assert extras[k].pop("input_check")["skipped"] == []
        assert extras[k] == {"study": "S1", "pipeline": reference["extra"]["pipeline"]}


def test_session_info_checks_ids_once_when_built():
    from fer_core.logstore import InvalidIdError

    with pytest.raises(InvalidIdError, match="subject"):
        SessionInfo("../etc")
    with pytest.raises(InvalidIdError, match="session"):
        SessionInfo("P1", "a b")
    with pytest.raises(ValueError, match="source"):
        SessionInfo("P1", source="phone")
    info = SessionInfo("P1", source="webcam")
    with pytest.raises(ValueError, match="frames come from a 'video' source"):
        info.for_source("video")
    assert SessionInfo("P1").for_source("image").source == "image"


def test_a_batch_of_frames_gives_the_rows_of_frame_by_frame(model, clip, tmp_path):
    _, images = clip
    stamps = [T0 + timedelta(seconds=i) for i in range(len(images))]
    one, many = FramePipeline(model), FramePipeline(model)
    singles = [one.process(image, ts, i) for i, (image, ts) in enumerate(zip(images, stamps,
                                                                              strict=True))]
    batched = many.process_many(images, stamps)
    assert [r.full_scan for r in batched] == [r.full_scan for r in singles]
    assert any(not r.full_scan for r in batched)  # re-detection between full scans happened
    for a, b in zip(singles, batched, strict=True):
        assert [f.box for f in a.faces] == [f.box for f in b.faces]
        assert [f.label for f in a.faces] == [f.label for f in b.faces]
        for fa, fb in zip(a.faces, b.faces, strict=True):
            np.testing.assert_allclose(fa.probs, fb.probs, atol=1e-6)
        assert face_rows(a.faces, a.timestamp, a.frame_index)[0].keys() \
            == face_rows(b.faces, b.timestamp, b.frame_index)[0].keys()


def test_the_recorder_counts_and_closes_its_session(model, clip, tmp_path):
    _, images = clip
    store = LogStore(tmp_path)
    info = SessionInfo("P2", "s1", source="video")
    with SessionRecorder.open(store, model, info, started_at=T0) as rec:
        results = rec.add_many(images[:5], [T0 + timedelta(seconds=i) for i in range(5)])
        results.append(rec.add(images[5], T0 + timedelta(seconds=5)))
    assert [r.frame_index for r in results] == list(range(6))
    assert rec.frames == 6 and rec.frames_with_face == sum(bool(r.faces) for r in results) >= 1
    assert rec.rows == len(store.read("P2", "s1")) == 6
    assert store.list_sessions("P2").iloc[0]["status"] == "closed"
    result = rec.result()
    assert (result.subject, result.session, result.source) == ("P2", "s1", "video")
    assert (result.frames, result.rows) == (6, 6) and result.duration_s == 5.0
    with pytest.raises(ValueError, match="session's model"):
        SessionRecorder.open(store, model, info.replace(session=None),
                             pipeline=FramePipeline(_other(model)))
    with pytest.raises(ValueError, match="settings are not the session's"):
        SessionRecorder.open(store, model, info.replace(session=None),
                             pipeline=FramePipeline(model, PipelineSettings(detect_every=3)))
    assert len(store.list_sessions("P2")) == 1  # refused before anything was written


def _other(model):
    import dataclasses

    return dataclasses.replace(model)


def test_every_path_records_the_model_files_calibrated_probabilities(model_path, clip, tmp_path):
    """A model file with a temperature: live, analyze, upload and evaluate all apply it.

    The expected probabilities are computed independently: the boxes of an uncalibrated run,
    the crops cut from them, their raw per-crop logits, then mean softmax(logits / T).
    """
    t = 2.5
    plain = load_model(model_path)
    hot = load_model(with_temperature(model_path, tmp_path / "hot.pt", t, {"temperature": t}))
    path, images = clip
    store = LogStore(tmp_path / "store")
    sessions = [
        _live(hot, store, images).session,
        analyze_path(path, SessionInfo("P1", "offline"), store=store,
                     pipeline=FramePipeline(hot), start=T0, progress=False).session,
        analyze_uploads([("camera.y4m", path.read_bytes())], FramePipeline(hot), store,
                        SessionInfo("P1", consent=CONSENT), start=T0).session,
    ]
    reference = FramePipeline(plain)
    expected = []
    for result, image in zip(reference.process_many(images, [T0] * len(images)), images,
                             strict=True):
        if result.faces:
            crops = reference.crop_faces(to_gray(image), [f.box for f in result.faces])
            logits = predict_faces_logits(plain, crops, crops=DEFAULT_SETTINGS.crops)
            expected.append(crop_softmax(logits, t))
    want = np.concatenate(expected)
    assert len(want) >= 8
    for session in sessions:
        rows = store.read("P1", session)
        got = rows.loc[rows["face_detected"], PROB_COLUMNS].to_numpy(dtype=float)
        np.testing.assert_allclose(got, want, atol=2e-5)
        # and they are not the uncalibrated ones
        assert np.abs(got - crop_softmax(logits, 1.0)[-1]).max() > 1e-3
    # evaluate: the same temperature on a split's faces
    faces = load_fer2013(FER_FIXTURE, "PublicTest", use_cache=False)
    probs = crop_softmax(predict_faces_logits(plain, faces.images), t)
    result = evaluate_faces(hot, faces, dataset="fer2013", split="fixture")
    assert result.temperature == t
    assert result.accuracy == pytest.approx(100 * np.mean(probs.argmax(1) == faces.labels))
    assert result.ece == pytest.approx(expected_calibration_error(probs, faces.labels))
