"""Unit tests of fer_core.analytics against hand-computed values on small real log files.

Session A (tests/dashboard_fixtures.py), 10 frames at 1 frame/s starting 09:00:00 UTC:

    t  face label    probs                     confidence  valence
    0  yes  happy    happy .8 neutral .2        .8          .8
    1  yes  happy    happy .6 neutral .4        .6          .6
    2  no
    3  yes  sad      sad .7 neutral .3          .7         -.56
    4  yes  sad      sad .9 neutral .1          .9         -.72   (+ a secondary angry face)
    5  yes  neutral  neutral .6 happy .4       .6          .4
    6  yes  angry    angry .6 sad .4            .6         -.8
    7  yes  happy    happy 1.0                  1.0         1.0
    8  no
    9  yes  happy    happy .7 surprise .3       .7          .76
"""

from __future__ import annotations

import math
import subprocess
import sys

import pandas as pd
import pytest

from fer_core import analytics as an
from tests.dashboard_fixtures import (
    read_session,
    session_a_rows,
    session_b_rows,
    write_session,
)


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    write_session(root, "p01", "s-a", session_a_rows(), source="video")
    write_session(root, "p01", "s-b", session_b_rows(), source="video")
    return root


@pytest.fixture(scope="module")
def session_a(store_root) -> pd.DataFrame:
    return read_session(store_root, "p01", "s-a")


@pytest.fixture(scope="module")
def subject_rows(store_root) -> pd.DataFrame:
    return read_session(store_root, "p01")


def test_frame_and_face_rows_ignore_secondary_faces(session_a):
    assert len(an.frame_rows(session_a)) == 10
    assert len(an.face_rows(session_a)) == 8
    assert (an.face_rows(session_a)["face_index"] == 0).all()


def test_class_shares_hand_computed(session_a):
    shares = an.class_shares(session_a)
    # 8 face frames: happy 4, sad 2, neutral 1, angry 1 (the secondary angry face is ignored).
    assert shares.to_dict() == pytest.approx(
        {"angry": 0.125, "disgust": 0, "fear": 0, "happy": 0.5, "sad": 0.25,
         "surprise": 0, "neutral": 0.125}
    )


def test_session_summary_hand_computed(session_a):
    s = an.session_summary(session_a)
    assert s["n_frames"] == 10
    assert s["n_face_frames"] == 8
    assert s["face_in_view"] == pytest.approx(0.8)
    # every frame covers 1 s (the last one the interval before it): 10 s recorded, not 9
    assert s["duration_s"] == pytest.approx(10.0)
    assert s["dominant"] == "happy"
    assert s["negative_share"] == pytest.approx(0.375)  # angry 1 + sad 2 of 8
    # (.8 + .6 + .7 + .9 + .6 + .6 + 1.0 + .7) / 8
    assert s["mean_confidence"] == pytest.approx(5.9 / 8, abs=1e-6)
    assert s["confidence_happy"] == pytest.approx((0.8 + 0.6 + 1.0 + 0.7) / 4, abs=1e-6)
    assert s["confidence_sad"] == pytest.approx(0.8, abs=1e-6)
    assert math.isnan(s["confidence_fear"])
    # (.8 + .6 - .56 - .72 + .4 - .8 + 1.0 + .76) / 8
    assert s["mean_valence"] == pytest.approx(1.48 / 8, abs=1e-6)


def test_valence_weights_documented_range():
    assert an.VALENCE_WEIGHTS["happy"] == 1.0
    assert an.VALENCE_WEIGHTS["neutral"] == 0.0
    assert all(-1 <= w <= 1 for w in an.VALENCE_WEIGHTS.values())
    assert all(an.VALENCE_WEIGHTS[c] < 0 for c in ("angry", "disgust", "fear", "sad"))
    assert "derived estimate" in an.VALENCE_LABEL


def test_valence_is_nan_without_face(session_a):
    v = an.valence(an.frame_rows(session_a))
    assert v.isna().sum() == 2
    assert v.dropna().round(4).tolist() == [0.8, 0.6, -0.56, -0.72, 0.4, -0.8, 1.0, 0.76]


def test_smoothing_centred_window(session_a):
    sm = an.smooth_probabilities(session_a, window_s=2.0)
    by_t = sm.set_index(sm["timestamp"].dt.second)
    # window (t-1, t+1]: t=0 -> frames 0,1; t=1 -> frame 1 only (2 has no face);
    # t=4 -> frames 4,5.
    assert by_t.at[0, "prob_happy"] == pytest.approx(0.7)
    assert by_t.at[1, "prob_happy"] == pytest.approx(0.6)
    assert by_t.at[4, "prob_sad"] == pytest.approx(0.45)
    raw = an.smooth_probabilities(session_a, window_s=0)
    assert raw["prob_sad"].round(3).tolist() == [0, 0, 0.7, 0.9, 0, 0.4, 0, 0]


def test_timeline_keeps_gaps_and_bins_long_sessions(session_a):
    tl = an.timeline(session_a)
    assert len(tl) == 10 and tl.attrs["bin_s"] == 0
    assert tl["prob_happy"].isna().sum() == 2  # the two no-face frames break the line
    binned = an.timeline(session_a, max_points=5)
    # span 9 s / 5 points -> 1.8 s bins, floored on the clock: [0,1.8) [1.8,3.6) ...
    assert binned.attrs["bin_s"] == pytest.approx(1.8)
    assert len(binned) <= 6
    first = binned.iloc[0]
    assert first["prob_happy"] == pytest.approx(0.7)  # frames 0 and 1


def test_ethogram_per_frame(session_a):
    seg = an.ethogram_segments(session_a)
    assert seg["label"].tolist() == [
        "happy", "no face", "sad", "neutral", "angry", "happy", "no face", "happy"]
    assert seg["duration_s"].tolist() == [2, 1, 2, 1, 1, 1, 1, 1]
    assert seg["duration_s"].sum() == 10  # last segment lasts one frame step


def test_ethogram_binned_mode(session_a):
    seg = an.ethogram_segments(session_a, bin_s=2.0)
    # bins of 2 s: [happy,happy] [noface,sad] [sad,neutral] [angry,happy] [noface,happy];
    # ties go to the earlier FER2013 class, and a face class wins over "no face".
    assert seg["label"].tolist() == ["happy", "sad", "angry", "happy"]
    assert seg["duration_s"].tolist() == [2, 4, 2, 2]


def test_transitions(session_a):
    tr = an.transition_counts(session_a)
    assert set(map(tuple, tr[["from", "to", "count"]].to_numpy().tolist())) == {
        ("happy", "sad", 1), ("sad", "neutral", 1), ("neutral", "angry", 1), ("angry", "happy", 1)
    }
    tr2 = an.transition_counts(session_a, min_run_s=2.0)
    # runs happy(2) sad(2) neutral(1) angry(1) happy(2): the one-frame runs are flicker
    assert tr2[["from", "to", "count"]].to_numpy().tolist() == [
        ["happy", "sad", 1], ["sad", "happy", 1]]


def test_peaks(session_a):
    peaks = an.class_peaks(session_a).set_index("class")
    assert peaks.at["happy", "peak"] == pytest.approx(1.0)
    assert peaks.at["happy", "offset_s"] == 7
    # the secondary face's angry 1.0 is not the subject's peak
    assert peaks.at["angry", "peak"] == pytest.approx(0.6)
    assert peaks.at["sad", "offset_s"] == 4
    assert peaks.at["surprise", "peak"] == pytest.approx(0.3)


def test_empty_input_gives_empty_results(session_a):
    empty = session_a.iloc[0:0]
    assert an.class_shares(empty).sum() == 0
    assert an.session_summary(empty)["n_frames"] == 0
    assert an.ethogram_segments(empty).empty
    assert an.transition_counts(empty).empty
    assert an.class_peaks(empty).empty
    assert an.bucket_counts(empty).empty


# ---- history ---------------------------------------------------------------------------------

def test_bucket_counts_and_session_table(subject_rows):
    counts = an.bucket_counts(subject_rows)
    assert counts.groupby("session")["n"].sum().to_dict() == {"s-a": 10, "s-b": 4}
    b = counts.loc[counts["session"] == "s-b"].set_index("label")
    assert b.at["angry", "n"] == 2 and b.at["angry", "seconds"] == 2
    # valence of s-b's angry frames: .9*-.8 + .1*-.8 = -.8 ; .5*-.8 + .3*-.7 = -.61
    assert b.at["angry", "valence_sum"] == pytest.approx(-1.41, abs=1e-5)
    table = an.session_table(counts, an.session_bounds(subject_rows)).set_index("session")
    direct = an.session_summary(read_only(subject_rows, "s-a"))
    for key in ("duration_s", "n_frames", "face_in_view", "negative_share", "mean_valence",
                "mean_confidence", "share_happy", "dominant"):
        assert table.at["s-a", key] == pytest.approx(direct[key]) if key != "dominant" else (
            table.at["s-a", key] == direct[key])
    # s-b: 3 face frames of 4; angry 2, neutral 1 -> negative 2/3
    assert table.at["s-b", "face_in_view"] == pytest.approx(0.75)
    assert table.at["s-b", "negative_share"] == pytest.approx(2 / 3)
    assert table.at["s-b", "duration_s"] == 4  # 4 frames at 1 frame/s cover 4 s


def read_only(rows: pd.DataFrame, session: str) -> pd.DataFrame:
    return rows.loc[rows["session"] == session]


def test_days_and_heatmap_follow_the_time_zone(subject_rows):
    counts = an.bucket_counts(subject_rows)
    utc = an.shares_by_day(counts, tz="UTC")
    assert [str(d) for d in utc["day"]] == ["2026-11-02", "2026-11-03"]
    berlin = an.shares_by_day(counts, tz="Europe/Berlin")  # UTC+1 in November
    assert [str(d) for d in berlin["day"]] == ["2026-11-02", "2026-11-04"]
    assert berlin.set_index(berlin["day"].astype(str)).at["2026-11-04", "angry"] == (
        pytest.approx(2 / 3))
    heat = an.time_of_day_heatmap(counts, tz="Europe/Berlin")
    assert heat.index.tolist() == [0, 10]
    assert heat.loc[10, "happy"] == pytest.approx(0.5)
    assert heat.sum(axis=1).round(6).tolist() == [1.0, 1.0]
    val = an.valence_by_day(counts, tz="UTC")
    assert val["mean_valence"].iloc[0] == pytest.approx(1.48 / 8, abs=1e-5)
    # s-b: (-.8 - .61 + 0) / 3
    assert val["mean_valence"].iloc[1] == pytest.approx(-1.41 / 3, abs=1e-5)


def test_filter_counts_and_period_summary(subject_rows):
    import datetime as dt

    counts = an.bucket_counts(subject_rows)
    bounds = an.session_bounds(subject_rows)
    first = an.filter_counts(counts, end=dt.date(2026, 11, 2))
    assert set(first["session"]) == {"s-a"}
    s = an.summarise_period(first, bounds.loc[bounds["session"].isin(first["session"])])
    assert s["n_sessions"] == 1 and s["share_happy"] == pytest.approx(0.5)
    both = an.summarise_period(counts, bounds)
    # face frames 8 + 3 = 11; negative: 3 + 2 = 5
    assert both["negative_share"] == pytest.approx(5 / 11)
    assert both["duration_s"] == 14 and both["n_frames"] == 14  # 1 frame/s: 1 s per frame


def test_baseline_flags_hand_computed():
    starts = pd.date_range("2026-11-01", periods=6, freq="D", tz="UTC")
    table = pd.DataFrame({"session": list("abcdef"), "start": starts,
                          "negative_share": [0.1, 0.2, 0.1, 0.2, 0.6, 0.15]})
    flags = an.baseline_flags(table)
    # e: earlier .1 .2 .1 .2 -> mean .15, sd .0577 -> z = 7.79; d (z 1.15) and f (z -.43) not
    assert flags["session"].tolist() == ["e"]
    assert flags.at[0, "z"] == pytest.approx(7.794, abs=1e-3)
    assert flags.at[0, "direction"] == "higher"
    text = flags.at[0, "observation"]
    assert "60%" in text and "not a diagnosis" in text
    assert "depress" not in text.lower()
    assert an.baseline_flags(table.iloc[:3]).empty  # not enough history


def test_baseline_flags_ignore_zero_sd():
    table = pd.DataFrame({"session": list("abcd"),
                          "start": pd.date_range("2026-11-01", periods=4, tz="UTC"),
                          "negative_share": [0.1, 0.1, 0.1, 0.5]})
    assert an.baseline_flags(table).empty


def test_compare_summaries(session_a, subject_rows):
    a = an.session_summary(session_a)
    b = an.session_summary(read_only(subject_rows, "s-b"))
    table = an.compare_summaries(a, b).set_index("metric")
    assert table.at["Negative-affect share (%)", "A"] == pytest.approx(37.5)
    assert table.at["Negative-affect share (%)", "difference (B - A)"] == pytest.approx(
        200 / 3 - 37.5)
    assert table.at["Recorded time (min)", "difference (B - A)"] == pytest.approx(-6 / 60)


def test_compare_display_never_shows_a_negative_zero():
    # issue 19: Compare showed "-0.00" for a difference that rounds to nothing
    from fer_core.analytics.compare import display_values

    table = pd.DataFrame({"metric": ["x", "y", "z"], "A": [1.0, 2.5, math.nan],
                          "difference (B - A)": [-0.001, -0.004999, -0.006]})  # fmt: skip
    shown = display_values(table)
    assert shown["difference (B - A)"].tolist() == ["0.00", "0.00", "-0.01"]
    assert shown["A"].tolist() == ["1.00", "2.50", "—"]
    assert shown["metric"].tolist() == ["x", "y", "z"]


# ---- store-wide (DuckDB) ---------------------------------------------------------------------

def test_session_label_counts_duckdb(store_root):
    counts = an.session_label_counts(store_root)
    got = {(r.session, r.label): r.n for r in counts.itertuples()}
    assert got == {("s-a", "angry"): 1, ("s-a", "happy"): 4, ("s-a", "neutral"): 1,
                   ("s-a", "no face"): 2, ("s-a", "sad"): 2, ("s-b", "angry"): 2,
                   ("s-b", "neutral"): 1, ("s-b", "no face"): 1}
    seconds = {(r.session, r.label): r.seconds for r in counts.itertuples()}
    assert seconds == pytest.approx({k: float(v) for k, v in got.items()})  # 1 frame/s
    shares = an.negative_share_by_session(counts).set_index("session")["negative_share"]
    assert shares.to_dict() == pytest.approx({"s-a": 0.375, "s-b": 2 / 3})


def test_session_label_counts_numeric_looking_ids_stay_strings(tmp_path):
    write_session(tmp_path, "007", "0001", session_b_rows())
    counts = an.session_label_counts(tmp_path)
    assert set(counts["subject"]) == {"007"} and set(counts["session"]) == {"0001"}


def test_session_label_counts_empty_store(tmp_path):
    assert an.session_label_counts(tmp_path).empty


def test_overview_table_and_filters():
    subjects = pd.DataFrame({
        "subject": ["p01", "demo-a"], "n_sessions": [2, 1], "n_rows": [15, 4],
        "first_started_at": pd.to_datetime(["2026-11-02", "2026-11-05"], utc=True),
        "last_started_at": pd.to_datetime(["2026-11-03", "2026-11-05"], utc=True),
        "total_duration_s": [7200.0, 1800.0], "synthetic": [False, True]})
    sessions = pd.DataFrame({
        "subject": ["p01", "p01", "demo-a"], "session": ["s2", "s1", "x"],
        "started_at": pd.to_datetime(["2026-11-03", "2026-11-02", "2026-11-05"], utc=True)})
    counts = pd.DataFrame({
        "subject": ["p01", "p01", "p01", "demo-a"], "session": ["s1", "s1", "s2", "x"],
        "label": ["sad", "happy", "happy", "no face"], "n": [1, 3, 2, 5],
        "seconds": [1800.0, 3600.0, 1800.0, 900.0]})
    table = an.overview_table(subjects, sessions, counts)
    assert table["subject"].tolist() == ["demo-a", "p01"]  # most recent first
    p = table.set_index("subject").loc["p01"]
    # shares by time, not rows: s1 sad 1800 s of 5400 s (by rows it would be 1 of 4)
    assert p["negative_trend"] == [0.3333, 0.0]  # oldest session first
    assert p["mean_negative_share"] == pytest.approx(1 / 6)
    assert p["total_hours"] == 2  # 7200 s covered by its frames
    assert table.set_index("subject").loc["demo-a", "total_hours"] == 0.25
    assert table.set_index("subject").loc["demo-a", "negative_trend"] == []
    assert an.filter_overview(table, search="P0")["subject"].tolist() == ["p01"]
    assert an.filter_overview(table, synthetic="synthetic")["subject"].tolist() == ["demo-a"]
    assert an.filter_overview(table, min_sessions=2)["subject"].tolist() == ["p01"]
    with pytest.raises(ValueError, match="synthetic filter"):
        an.filter_overview(table, synthetic="maybe")


@pytest.mark.subprocess
def test_analytics_does_not_import_heavy_modules():
    code = ("import sys, fer_core.analytics; "
            "bad = [m for m in ('torch', 'cv2', 'streamlit', 'av') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
