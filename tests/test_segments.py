"""Task segments: the model, reading version-1 markers, the writer and store API, export/ZIP
round trips, and the per-segment figures against hand-computed values."""

from __future__ import annotations

import io
import json
import math
import zipfile
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from fer_core.analytics.segments import (
    label_across_sessions,
    segment_label_counts,
    subject_segment_metas,
)
from fer_core.logstore import LogStore, Segment, SegmentError, SessionMeta, SessionNotFoundError
from fer_core.logstore.layout import SESSION_META, session_dir
from fer_core.logstore.schema import PROB_COLUMNS
from fer_core.measures.frames import CLASSES
from fer_core.measures.segments import rows_in, same_label_across_sessions, segment_figures

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# ---------------------------------------------------------------------------- model
def test_segment_validates_and_rounds_to_ms() -> None:
    seg = Segment("a1", "  stimulus A ", at(1.0004), at(2))
    assert seg.label == "stimulus A" and seg.start == at(1) and seg.duration_s == 1.0
    assert not seg.is_point and Segment("p", "x", at(1)).is_point
    with pytest.raises(SegmentError, match="non-empty label"):
        Segment("a", "   ", at(1))
    with pytest.raises(SegmentError, match=r"ends .* before it starts"):
        Segment("a", "x", at(2), at(1))
    with pytest.raises(SegmentError, match="naive"):
        Segment("a", "x", datetime(2026, 1, 1))
    with pytest.raises(SegmentError, match="must be text"):
        Segment("a", 3, at(1))  # type: ignore[arg-type]
    assert Segment("b", "zero length", at(1), at(1)).duration_s == 0.0


def test_meta_round_trip_and_format_version() -> None:
    meta = SessionMeta("P1", "s1", T0, segments=[Segment("a", "task", at(1), at(5)),
                                                 Segment("b", "beep", at(3))])
    data = json.loads(meta.to_json())
    assert data["format_version"] == 2 and "markers" not in data
    assert data["segments"] == [
        {"id": "a", "label": "task", "start": "2026-03-01T09:00:01.000Z",
         "end": "2026-03-01T09:00:05.000Z"},
        {"id": "b", "label": "beep", "start": "2026-03-01T09:00:03.000Z", "end": None}]
    back = SessionMeta.from_dict(data)
    assert back.segments == meta.segments
    # the read-only markers view: every segment's start, in time order
    assert [(m.label, m.timestamp) for m in back.markers] == [("task", at(1)), ("beep", at(3))]
    with pytest.raises(SegmentError, match="ids must be unique"):
        SessionMeta.from_dict({**data, "segments": data["segments"] + data["segments"][:1]})
    with pytest.raises(SegmentError, match="ends"):
        SessionMeta.from_dict({**data, "segments": [
            {"id": "x", "label": "bad", "start": "2026-03-01T09:00:05Z",
             "end": "2026-03-01T09:00:01Z"}]})


def _version1(tmp_path) -> LogStore:
    store = LogStore(tmp_path)
    store.open_session("P1", "old", started_at=T0).close()
    path = session_dir(store.root, "P1", "old") / SESSION_META
    data = json.loads(path.read_text())
    del data["segments"]
    data.update(format_version=1, markers=[
        {"timestamp": "2026-03-01T09:00:02.000Z", "label": "stimulus A"},
        {"timestamp": "2026-03-01T09:00:07.500Z", "label": "break"},
        {"timestamp": "2026-03-01T09:00:07.500Z", "label": "break"}])  # a double click
    path.write_text(json.dumps(data))
    return store


def test_version1_markers_read_as_point_segments(tmp_path) -> None:
    store = _version1(tmp_path)
    meta = store.session_meta("P1", "old")
    assert [(s.label, s.start, s.end) for s in meta.sorted_segments()] == [
        ("stimulus A", at(2), None), ("break", at(7.5), None)]
    assert "markers" not in meta.extra
    # ids are derived from the marker, so a second read names the same segments
    assert [s.id for s in store.session_meta("P1", "old").segments] == [
        s.id for s in meta.segments]
    # an edit rewrites the file as version 2, the old marker now an interval
    first = meta.sorted_segments()[0]
    store.update_segment("P1", "old", first.id, end=at(4))
    data = json.loads((session_dir(store.root, "P1", "old") / SESSION_META).read_text())
    assert data["format_version"] == 2 and "markers" not in data
    assert {s["label"]: s["end"] for s in data["segments"]} == {
        "stimulus A": "2026-03-01T09:00:04.000Z", "break": None}


# ---------------------------------------------------------------------------- store API
def test_store_add_edit_delete_and_bad_input(tmp_path) -> None:
    store = LogStore(tmp_path)
    store.open_session("P1", "s1", started_at=T0).close()
    seg = store.add_segment("P1", "s1", "stimulus A", at(10), at(20))
    again = store.add_segment("P1", "s1", "stimulus A", at(10), at(20))  # a second click
    assert again.id == seg.id and len(store.session_meta("P1", "s1").segments) == 1
    point = store.add_marker("P1", "s1", "beep", at(12))  # the old name: a point
    assert point.is_point and len(store.session_meta("P1", "s1").segments) == 2

    edited = store.update_segment("P1", "s1", seg.id, label="stimulus B", start=at(11))
    assert (edited.id, edited.label, edited.start, edited.end) == (
        seg.id, "stimulus B", at(11), at(20))
    store.update_segment("P1", "s1", point.id, end=at(13))  # a point becomes an interval
    store.update_segment("P1", "s1", seg.id, end=None)  # and an interval a point
    meta = store.session_meta("P1", "s1")
    assert {s.label: (s.start, s.end) for s in meta.segments} == {
        "stimulus B": (at(11), None), "beep": (at(12), at(13))}

    with pytest.raises(SegmentError, match="before it starts"):
        store.update_segment("P1", "s1", point.id, end=at(1))
    with pytest.raises(SegmentError, match="non-empty label"):
        store.add_segment("P1", "s1", " ", at(1))
    with pytest.raises(SegmentError, match="before it starts"):
        store.add_segment("P1", "s1", "x", at(5), at(4))
    with pytest.raises(SegmentError, match="naive"):
        store.add_segment("P1", "s1", "x", datetime(2026, 3, 1))
    with pytest.raises(SegmentError, match="no segment 'nope'"):
        store.delete_segment("P1", "s1", "nope")
    with pytest.raises(SessionNotFoundError):
        store.add_segment("P1", "missing", "x", at(1))
    assert len(store.session_meta("P1", "s1").segments) == 2  # nothing bad was stored

    store.delete_segment("P1", "s1", point.id)
    assert [s.label for s in store.session_meta("P1", "s1").segments] == ["stimulus B"]
    assert store.list_sessions("P1")["n_segments"].tolist() == [1]


def test_writer_segments_while_recording_and_after_close(tmp_path) -> None:
    store = LogStore(tmp_path)
    w = store.open_session("P1", "live", started_at=T0, flush_interval=3600)
    mark = w.add_segment("mark", at(1))
    task = w.add_segment("task", at(2))
    assert task.is_point  # open until ended
    ended = w.end_segment(task.id, at(5))
    assert ended.end == at(5)
    with pytest.raises(SegmentError, match="before it starts"):
        w.end_segment(task.id, at(1))
    w.flush()
    on_disk = {s.id: s for s in store.session_meta("P1", "live").segments}
    assert on_disk[task.id].end == at(5) and on_disk[mark.id].is_point
    # a segment added from the dashboard while recording is ended by the writer on disk
    other = store.add_segment("P1", "live", "from dashboard", at(6))
    w.end_segment(other.id, at(8))
    with pytest.raises(SegmentError, match="no segment"):
        w.end_segment("unknown", at(8))
    w.close(at(10))
    late = w.add_segment("after stop", at(9), at(10))  # written at once after close
    meta = store.session_meta("P1", "live")
    assert {s.label: (s.start, s.end) for s in meta.segments} == {
        "mark": (at(1), None), "task": (at(2), at(5)), "from dashboard": (at(6), at(8)),
        "after stop": (at(9), at(10))}
    assert late.id in {s.id for s in meta.segments}


# ---------------------------------------------------------------------------- export / ZIP
def test_segments_travel_in_zip_and_parquet_exports(tmp_path) -> None:
    store = LogStore(tmp_path / "a")
    with store.open_session("P1", "s1", started_at=T0) as w:
        w.append_many(_rows_dicts(T0))
    store.add_segment("P1", "s1", "stimulus A", at(0), at(4))
    store.add_segment("P1", "s1", "beep", at(6))
    zipped = store.export("zip")
    target = LogStore(tmp_path / "b")
    target.import_zip(zipped)
    assert target.session_meta("P1", "s1").segments == store.session_meta("P1", "s1").segments
    sessions = json.loads(
        __import__("pyarrow.parquet", fromlist=["x"]).read_schema(
            io.BytesIO(store.export("parquet"))).metadata[b"fer.sessions"])
    assert [s["label"] for s in sessions[0]["segments"]] == ["stimulus A", "beep"]


def test_old_zip_with_markers_still_imports_and_bad_segments_are_refused(tmp_path) -> None:
    store = LogStore(tmp_path / "a")
    with store.open_session("P1", "s1", started_at=T0) as w:
        w.append_many(_rows_dicts(T0))
    zipped = store.export("zip")

    def rewritten(change) -> bytes:
        src = zipfile.ZipFile(io.BytesIO(zipped))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for name in src.namelist():
                data = src.read(name)
                if name.startswith("sessions/") and name.endswith(".json"):
                    meta = json.loads(data)
                    change(meta)
                    data = json.dumps(meta).encode()
                dst.writestr(name, data)
        return out.getvalue()

    def as_version1(meta: dict) -> None:
        del meta["segments"]
        meta.update(format_version=1, markers=[
            {"timestamp": "2026-03-01T09:00:03.000Z", "label": "stimulus A"}])

    target = LogStore(tmp_path / "b")
    target.import_zip(rewritten(as_version1))
    segments = target.session_meta("P1", "s1").segments
    assert [(s.label, s.start, s.end) for s in segments] == [("stimulus A", at(3), None)]

    def backwards(meta: dict) -> None:
        meta["segments"] = [{"id": "x", "label": "bad", "start": "2026-03-01T09:00:05Z",
                             "end": "2026-03-01T09:00:01Z"}]

    with pytest.raises(ValueError, match="before it starts"):
        LogStore(tmp_path / "c").import_zip(rewritten(backwards))

    def untyped(meta: dict) -> None:
        meta["segments"] = [{"label": "no id", "start": "2026-03-01T09:00:05Z"}]

    with pytest.raises(ValueError, match="each segment must be"):
        LogStore(tmp_path / "d").import_zip(rewritten(untyped))


# ---------------------------------------------------------------------------- analytics
#: (seconds, label or None for no face, confidence, {class: probability})
ROWS = [
    (0.0, "happy", 0.8, {"happy": 0.8, "neutral": 0.2}),
    (1.0, "happy", 0.6, {"happy": 0.6, "neutral": 0.4}),
    (1.5, None, None, {}),
    (3.0, "sad", 0.5, {"sad": 0.5, "neutral": 0.5}),
    (4.0, "neutral", 0.9, {"neutral": 0.9, "sad": 0.1}),
    *[(float(t), "neutral", 0.7, {"neutral": 0.7, "happy": 0.3}) for t in range(5, 10)],
]


def _rows_dicts(start: datetime) -> list[dict]:
    out = []
    for i, (t, label, conf, probs) in enumerate(ROWS):
        row = {"timestamp": start + timedelta(seconds=t), "frame_index": i,
               "face_index": -1 if label is None else 0, "face_detected": label is not None,
               "model_name": "m", "model_version": "1", "source": "synthetic"}
        if label is not None:
            row.update(label=label, confidence=conf, box_x=0, box_y=0, box_w=40, box_h=40,
                       **{f"prob_{c}": probs.get(c, 0.0) for c in CLASSES})
        out.append(row)
    return out


def _rows(start: datetime = T0) -> pd.DataFrame:
    frame = pd.DataFrame(_rows_dicts(start))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    for c in PROB_COLUMNS:
        frame[c] = frame[c].astype("float64")
    return frame


def _seg(label: str, start: float, end: float | None, id_: str | None = None) -> Segment:
    return Segment(id_ or f"{label}-{start}", label, at(start), None if end is None else at(end))


def test_segment_figures_hand_computed() -> None:
    # [0, 4) holds rows at 0, 1, 1.5 (no face) and 3. Each covers the step to the next row
    # inside the segment: 1, 0.5, 1.5; the last one (3 s) the step before it, 1.5 -> 4.5 s
    # recorded, 3 s with a face (0 s, 1 s, 3 s rows): face in view 3/4.5.
    # happy 1 + 0.5 = 1.5 s, sad 1.5 s -> 50/50.
    # valence: 0.8 (x1 s), 0.6 (x0.5 s), -0.8*0.5 = -0.4 (x1.5 s) -> 0.5/3
    # confidence: 0.8 x1 + 0.6 x0.5 + 0.5 x1.5 = 1.85 over 3 s
    table = segment_figures(_rows(), [_seg("A", 0, 4), _seg("beep", 2, None),
                                      _seg("B", 5, 7)])
    assert table["label"].tolist() == ["A", "B"]  # the point has no figures
    a = table.iloc[0]
    assert a["duration_s"] == 4.0 and a["recorded_s"] == pytest.approx(4.5)
    assert a["n_frames"] == 4
    assert a["face_in_view"] == pytest.approx(3 / 4.5)
    assert a["share_happy"] == pytest.approx(0.5) and a["share_sad"] == pytest.approx(0.5)
    assert a["share_neutral"] == 0.0
    assert a["mean_valence"] == pytest.approx(0.5 / 3)
    assert a["mean_confidence"] == pytest.approx(1.85 / 3)
    # [5, 7): the 5 s and 6 s rows, neutral, valence 0.3 x happy weight 1.0
    b = table.iloc[1]
    assert (b["recorded_s"], b["face_in_view"], b["share_neutral"]) == (2.0, 1.0, 1.0)
    assert b["mean_valence"] == pytest.approx(0.3) and b["mean_confidence"] == pytest.approx(0.7)
    assert table["start"].tolist() == [pd.Timestamp(at(0)), pd.Timestamp(at(5))]


def test_points_empty_and_faceless_segments() -> None:
    table = segment_figures(_rows(), [_seg("beep", 2, None), _seg("gap", 1.5, 2),
                                      _seg("after", 20, 30)], include_points=True)
    assert table["label"].tolist() == ["gap", "beep", "after"]
    gap, beep, after = (table.iloc[i] for i in range(3))
    assert math.isnan(beep["duration_s"]) and beep["n_frames"] == 0
    # one no-face row alone covers the 2 s cap: recorded, but no face and no shares
    assert gap["recorded_s"] == 2.0 and gap["face_in_view"] == 0.0
    assert math.isnan(gap["share_happy"]) and math.isnan(gap["mean_valence"])
    assert after["n_frames"] == 0 and math.isnan(after["face_in_view"])
    assert segment_figures(_rows(), []).empty


def test_pooling_never_spans_the_gap_nor_counts_overlap_twice() -> None:
    rows = _rows()
    # two "stim" segments [5, 7) and [8, 10): four 1-s rows; the 7 s row is outside and the
    # gap between the stretches is not recorded time
    pooled = rows_in(rows, [_seg("stim", 5, 7), _seg("stim", 8, 10)])
    assert pooled["session"].tolist() == ["1", "1", "2", "2"]
    # overlapping [0, 2) and [1, 4) = [0, 4): the same figures as one segment
    overlap = same_label_across_sessions(
        [("s", T0, rows, [_seg("A", 0, 2, "x"), _seg("A", 1, 4, "y")])], "A")
    single = segment_figures(rows, [_seg("A", 0, 4)])
    assert overlap.loc[0, "n_frames"] == 4 and overlap.loc[0, "duration_s"] == 5.0
    for col in ("recorded_s", "face_in_view", "share_happy", "mean_valence"):
        assert overlap.loc[0, col] == pytest.approx(single.loc[0, col])


def test_same_label_across_sessions_hand_computed() -> None:
    later = T0 + timedelta(days=7)
    sessions = [
        # listed out of order: the table is sorted by start
        ("s2", later, _rows(later), [Segment("c", "stim", later, later + timedelta(seconds=4))]),
        ("s1", T0, _rows(), [_seg("stim", 5, 7), _seg("stim", 8, 10), _seg("other", 0, 9)]),
        ("s3", T0 + timedelta(days=9), _rows(), [_seg("stim", 1, None)]),  # a point only
    ]
    table = same_label_across_sessions(sessions, "stim")
    assert table["session"].tolist() == ["s1", "s2"]
    s1, s2 = table.iloc[0], table.iloc[1]
    assert (s1["n_segments"], s1["duration_s"], s1["recorded_s"]) == (2, 4.0, 4.0)
    assert s1["share_neutral"] == 1.0 and s1["mean_valence"] == pytest.approx(0.3)
    assert s2["share_happy"] == pytest.approx(0.5) and s2["face_in_view"] == pytest.approx(3 / 4.5)
    with pytest.raises(ValueError, match="non-empty segment label"):
        same_label_across_sessions(sessions, " ")
    assert same_label_across_sessions(sessions, "absent").empty


def test_label_across_sessions_on_a_real_store(tmp_path) -> None:
    store = LogStore(tmp_path)
    for session, start in (("s1", T0), ("s2", T0 + timedelta(days=7))):
        with store.open_session("P1", session, started_at=start) as w:
            w.append_many(_rows_dicts(start))
        store.add_segment("P1", session, "stim", start, start + timedelta(seconds=4))
    store.add_segment("P1", "s2", "rest", T0 + timedelta(days=7, seconds=5),
                      T0 + timedelta(days=7, seconds=9))
    store.open_session("P1", "no-segments", started_at=T0 + timedelta(days=1)).close()
    metas = subject_segment_metas(store.root, "P1")
    assert [m.session for m in metas] == ["s1", "s2"]
    assert segment_label_counts(metas).values.tolist() == [["stim", 2], ["rest", 1]]
    table = label_across_sessions(store.root, "P1", "stim", metas)
    assert table["session"].tolist() == ["s1", "s2"]
    assert table["share_happy"].tolist() == pytest.approx([0.5, 0.5])
    assert table["mean_confidence"].tolist() == pytest.approx([1.85 / 3] * 2)
