"""Recording quality (fer_core.measures.quality) against hand-computed values.

Sessions are built frame by frame so every expected number can be worked out on paper: frames
every 0.1 s (each covers 0.1 s; the last covers the interval before it), 5-s bins of 50 frames.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fer_core.labels import FER2013_CLASSES
from fer_core.measures import quality as q
from fer_core.pipeline import FramePipeline, crop_light, to_gray
from fer_core.recording import face_rows

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _frame(i: int, t: float, face: bool = True, px: int = 100, brightness: float = 120.0,
           contrast: float = 40.0, confidence: float = 0.8) -> dict:
    row = {"timestamp": pd.Timestamp(T0 + timedelta(seconds=t)), "frame_index": i,
           "face_index": 0 if face else -1, "face_detected": face}
    if face:
        row.update(box_w=px, box_h=px + 10, label="happy", confidence=confidence,
                   face_brightness=brightness, face_contrast=contrast,
                   **{f"prob_{c}": confidence if c == "happy" else (1 - confidence) / 6
                      for c in FER2013_CLASSES})
    return row


def _session(times: list[float], **per_frame) -> pd.DataFrame:
    """Frames at ``times``; ``per_frame[name]`` maps a frame index to that frame's value."""
    rows = []
    for i, t in enumerate(times):
        kwargs = {k: f(i) for k, f in per_frame.items()}
        rows.append(_frame(i, t, **kwargs))
    return pd.DataFrame(rows)


TEN_FPS = [round(0.1 * i, 1) for i in range(200)]  # 0.0 .. 19.9 s: four 5-s bins


def test_a_clean_session_is_reliable():
    result = q.session_quality(_session(TEN_FPS))
    assert result.verdict == "reliable" and result.reliable and result.reasons == ()
    assert result.n_frames == 200
    assert result.span_s == pytest.approx(20.0)  # 19.9 + the 0.1 s the last frame covers
    assert result.fps == pytest.approx(10.0)
    assert result.face_in_view == 1.0 and result.low_confidence_share == 0.0
    assert result.face_px == 100.0  # the smaller side of the 100 x 110 box
    assert (result.brightness, result.contrast) == (120.0, 40.0)
    assert result.series["fps"].tolist() == pytest.approx([10.0, 10.0, 10.0, 10.0])
    assert result.series["start"].iloc[1] == pd.Timestamp(T0 + timedelta(seconds=5))
    assert result.stretches.empty
    assert result.frames_dropped is None and result.dropped_share is None


def test_five_seconds_without_a_face_are_a_stretch_and_a_reason():
    rows = _session(TEN_FPS, face=lambda i: not 50 <= i < 100)  # no face from 5.0 to 10.0 s
    result = q.session_quality(rows)
    assert result.face_in_view == pytest.approx(150 / 200)
    assert result.series["face_in_view"].tolist() == pytest.approx([1.0, 0.0, 1.0, 1.0])
    (stretch,) = result.stretches.itertuples()
    assert stretch.reason == "no face" and stretch.seconds == pytest.approx(5.0)
    assert stretch.start == pd.Timestamp(T0 + timedelta(seconds=5))
    assert stretch.end == pd.Timestamp(T0 + timedelta(seconds=10))
    assert result.flagged_share["no face"] == pytest.approx(5 / 20)
    assert result.verdict == "use with care: no face 25% of the time"
    assert result.reasons == ("no face",)


def test_a_slow_second_half_is_a_low_frame_rate():
    # 10 frames/s for 10 s, then 2 frames/s: 10.0, 10.5, ..., 19.5 (each covers 0.5 s)
    times = TEN_FPS[:100] + [10.0 + 0.5 * i for i in range(20)]
    result = q.session_quality(_session(times))
    assert result.series["fps"].tolist() == pytest.approx([10.0, 10.0, 2.0, 2.0])
    assert result.fps == pytest.approx(120 / 20.0)
    (stretch,) = result.stretches.itertuples()
    assert (stretch.reason, stretch.seconds) == ("low frame rate", pytest.approx(10.0))
    assert result.verdict == "use with care: low frame rate 50% of the time"


def test_small_dark_flat_and_uncertain_faces_each_flag_their_bins():
    rows = _session(
        TEN_FPS,
        px=lambda i: 40 if i < 50 else 100,  # bin 0: a 40-px face
        brightness=lambda i: 30.0 if 50 <= i < 100 else 120.0,  # bin 1: dark
        confidence=lambda i: 0.3 if 100 <= i < 150 else 0.8,  # bin 2: uncertain
        contrast=lambda i: 5.0 if i >= 150 else 40.0,  # bin 3: flat
    )
    result = q.session_quality(rows)
    got = [(s.reason, round((s.start - pd.Timestamp(T0)).total_seconds(), 3), s.seconds)
           for s in result.stretches.itertuples()]
    assert got == [("small face", 0.0, 5.0), ("dark face", 5.0, 5.0),
                   ("low confidence", 10.0, 5.0), ("dark face", 15.0, pytest.approx(5.0))]
    assert result.flagged_share == pytest.approx({
        "no face": 0.0, "low frame rate": 0.0, "small face": 0.25, "dark face": 0.5,
        "low confidence": 0.25})
    assert result.verdict == ("use with care: small face 25% of the time, dark face 50% of the "
                              "time, low confidence 25% of the time")
    assert result.face_px == 100.0 and result.brightness == 120.0 and result.contrast == 40.0
    assert result.low_confidence_share == pytest.approx(0.25)
    assert result.series["low_confidence"].tolist() == pytest.approx([0.0, 0.0, 1.0, 0.0])


def test_a_short_stretch_is_listed_but_leaves_the_session_reliable():
    times = [round(0.1 * i, 1) for i in range(600)]  # 60 s
    result = q.session_quality(_session(times, face=lambda i: not 100 <= i < 150))
    assert len(result.stretches) == 1
    assert result.flagged_share["no face"] == pytest.approx(5 / 60)  # under VERDICT_SHARE
    assert result.verdict == "reliable"


def test_an_empty_bin_is_a_low_frame_rate_only():
    times = [round(0.1 * i, 1) for i in range(50)] + [10.0 + 0.1 * i for i in range(50)]
    series = q.quality_series(_session(times))
    assert series["fps"].tolist()[1] == 0.0  # 5-10 s: no frame at all
    assert np.isnan(series["face_in_view"].iloc[1])
    flags = q.bin_flags(series)
    assert flags.iloc[1].to_dict() == {"no face": False, "low frame rate": True,
                                       "small face": False, "dark face": False,
                                       "low confidence": False}


def test_version_1_rows_are_judged_without_brightness():
    rows = _session(TEN_FPS).drop(columns=["face_brightness", "face_contrast"])
    result = q.session_quality(rows)
    assert result.brightness is None and result.contrast is None
    assert result.verdict == "reliable"
    nulls = _session(TEN_FPS).assign(face_brightness=np.nan, face_contrast=np.nan)
    assert q.session_quality(nulls).brightness is None


def test_frames_dropped_come_from_the_live_metadata():
    meta = SimpleNamespace(extra={"live": {"frames_dropped": 30, "frames_received": 120}})
    result = q.session_quality(_session(TEN_FPS), meta)
    assert (result.frames_dropped, result.frames_received) == (30, 120)
    assert result.dropped_share == pytest.approx(0.25)
    assert q.live_counts({"live": {"frames_dropped": "x"}}) == (None, None)
    assert q.live_counts(None) == (None, None)


def test_no_frames_and_bad_input():
    empty = _session([]).reindex(columns=["timestamp", "frame_index", "face_index",
                                          "face_detected", "confidence"])
    result = q.session_quality(empty)
    assert result.verdict == "use with care: no frames recorded" and result.n_frames == 0
    two = _session(TEN_FPS[:10]).assign(session=["a"] * 5 + ["b"] * 5)
    with pytest.raises(ValueError, match="one session"):
        q.session_quality(two)
    with pytest.raises(ValueError, match="bin_s"):
        q.quality_series(_session(TEN_FPS), bin_s=0)


def test_digest_is_json_ready():
    d = q.session_quality(_session(TEN_FPS, face=lambda i: i >= 50)).digest()
    assert d["verdict"] == "use with care: no face 25% of the time"
    assert d["face_in_view"] == 0.75 and d["reasons"] == ["no face"]


def test_crop_light_is_mean_and_standard_deviation():
    crops = np.zeros((2, 4, 4), np.uint8)
    crops[0] = 100
    crops[1, :2] = 200  # half 200, half 0: mean 100, sd 100
    brightness, contrast = crop_light(crops)
    assert brightness.tolist() == [100.0, 100.0] and contrast.tolist() == [0.0, 100.0]
    assert crop_light(np.zeros((0, 48, 48), np.uint8))[0].shape == (0,)
    with pytest.raises(ValueError):
        crop_light(np.zeros((48, 48), np.uint8))


def test_the_pipeline_logs_the_crop_light_before_equalisation(model):
    from tests.core_data import detectable_face_frame

    frame = detectable_face_frame()
    pipeline = FramePipeline(model)
    result = pipeline.process(frame, T0, 0)
    assert result.faces, "the fixture face must be found"
    face = result.faces[0]
    crop = pipeline.crop_faces(to_gray(frame), [face.box])[0].astype(np.float64)
    assert face.brightness == pytest.approx(crop.mean(), abs=1e-3)
    assert face.contrast == pytest.approx(crop.std(), abs=1e-3)
    dark = (frame.astype(np.float64) * 0.5).astype(np.uint8)  # equalisation would undo this
    pipeline.reset()
    darker = pipeline.process(dark, T0, 1).faces
    assert darker and darker[0].brightness < 0.6 * face.brightness
    row = face_rows(result.faces, T0, 0)[0]
    assert row["face_brightness"] == face.brightness and row["face_contrast"] == face.contrast


def test_summaries_carry_the_verdict_for_the_sessions_tables(tmp_path):
    """The session summary written at close holds the verdict; the sessions table reads it
    without raw rows, and a summary made before quality existed is recomputed."""
    import json

    from fer_core import analytics as an
    from fer_core.logstore import LogStore
    from fer_core.measures.summaries import session_digest, stale_reason

    store = LogStore(tmp_path)
    for name, face in (("clean", lambda i: True), ("gappy", lambda i: i >= 50)):
        rows = [_frame(i, t, face=face(i)) for i, t in enumerate(TEN_FPS)]
        with store.open_session("P1", name, started_at=T0) as w:
            w.append_many([dict(r, timestamp=r["timestamp"].to_pydatetime()) for r in rows])
    summary = json.loads((tmp_path / "subject=P1/session=gappy/_summary.json").read_text())
    assert summary["quality"]["verdict"] == "use with care: no face 25% of the time"
    verdicts = an.session_verdicts(tmp_path, "P1").set_index("session")["quality"]
    assert verdicts.to_dict() == {"clean": "reliable",
                                  "gappy": "use with care: no face 25% of the time"}
    old = {k: v for k, v in session_digest(_session(TEN_FPS)).items() if k != "quality"}
    assert stale_reason(old) == "quality missing"
