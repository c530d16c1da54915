"""Time, not rows: the row-weighting rule, and every figure staying put when the rate changes.

The two-rate test records the same 60-s synthetic session twice through the real log store:
once at an even 10 frames/s, once the way the live recorder really behaves (4 frames/s while a
face is in view, 15 frames/s without one). Truth: a face for 40 of 60 s (67%), half of that
happy and half sad. Counting rows would give 35% face-in-view at the uneven rate.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from fer_core import analytics as an
from fer_core.measures.weights import DEFAULT_MAX_GAP_S, row_duration_sql, row_durations
from tests.dashboard_fixtures import T0, _face, _no_face, read_session, write_session

# ---- the rule, hand-computed -----------------------------------------------------------------


def test_row_durations_hand_computed():
    # rows at 0, 0.25, 0.5, 3.5, 3.6 s: intervals .25 .25 3.0(capped 2) .1, last = previous .1
    got = row_durations([0.0, 0.25, 0.5, 3.5, 3.6], cap_s=2.0)
    assert got.tolist() == pytest.approx([0.25, 0.25, 2.0, 0.1, 0.1])


def test_row_durations_any_order_groups_and_datetimes():
    ts = pd.to_datetime(["2026-11-02 09:00:01", "2026-11-02 09:00:00",
                         "2026-11-02 10:00:00", "2026-11-02 09:00:00.5"],
                        utc=True, format="ISO8601")
    # session a: 0, .5, 1 s -> .5 .5 .5 ; session b: one row -> the cap
    got = row_durations(pd.Series(ts), cap_s=1.5, groups=["a", "a", "b", "a"])
    assert got.tolist() == pytest.approx([0.5, 0.5, 1.5, 0.5])


def test_row_durations_edge_cases():
    assert row_durations([]).size == 0
    assert row_durations([5.0]).tolist() == [DEFAULT_MAX_GAP_S]
    with pytest.raises(ValueError, match="cap_s"):
        row_durations([0.0, 1.0], cap_s=0)
    with pytest.raises(ValueError, match="timestamp"):
        row_durations([0.0, float("nan")])


def test_stalled_stream_does_not_inflate_one_row():
    # face at 0..4 s at 1 frame/s, then the stream stalls 60 s and one no-face frame arrives
    rows = [_face(i, T0, {"happy": 1.0}) for i in range(5)] + [_no_face(64, T0)]
    s = an.session_summary(pd.DataFrame(rows))
    # face rows cover 1+1+1+1+2(capped) = 6 s; the last no-face row covers 2 s (capped back)
    assert s["duration_s"] == pytest.approx(8.0)
    assert s["face_in_view"] == pytest.approx(6 / 8)


# ---- the same session at two processing rates -------------------------------------------------

#: (start s, end s, label or None for no face) of the synthetic session
SEGMENTS = [(0, 20, "happy"), (20, 30, None), (30, 50, "sad"), (50, 60, None)]
TRUTH = {"face_in_view": 40 / 60, "share_happy": 0.5, "share_sad": 0.5, "negative_share": 0.5}


def _session(face_fps: float, no_face_fps: float) -> list[dict]:
    rows, t, i = [], 0.0, 0
    for start, end, label in SEGMENTS:
        fps = face_fps if label else no_face_fps
        t = float(start)
        while t < end - 1e-9:
            row = _face(i, T0, {label: 0.9, "neutral": 0.1}) if label else _no_face(i, T0)
            row["timestamp"] = T0 + timedelta(seconds=t)
            rows.append(row)
            t += 1.0 / fps
            i += 1
    return rows


@pytest.fixture(scope="module")
def two_rate_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("two-rate")
    write_session(root, "p01", "even", _session(10, 10))
    write_session(root, "p02", "uneven", _session(4, 15))
    return root


def _figures_every_way(root, subject: str, session: str) -> list[dict]:
    """The session's figures as the session page, the history pages and the overview get them."""
    rows = read_session(root, subject, session)
    direct = an.session_summary(rows)
    counts, bounds = an.bucket_counts(rows), an.session_bounds(rows)
    table = an.session_table(counts, bounds).iloc[0].to_dict()
    period = an.summarise_period(counts, bounds)
    store = an.negative_share_by_session(an.session_label_counts(root, subject)).iloc[0]
    return [direct, table, period, {"negative_share": float(store["negative_share"])}]


def test_two_rates_give_the_same_figures(two_rate_store):
    uneven = read_session(two_rate_store, "p02", "uneven")
    frames = an.frame_rows(uneven)
    by_rows = frames["face_detected"].mean()
    assert by_rows == pytest.approx(160 / 460)  # what counting rows said: 35%, not 67%
    for subject, session in (("p01", "even"), ("p02", "uneven")):
        for figures in _figures_every_way(two_rate_store, subject, session):
            for key, truth in TRUTH.items():
                if key in figures:
                    assert figures[key] == pytest.approx(truth, abs=0.01), (session, key)
    even = an.session_summary(read_session(two_rate_store, "p01", "even"))
    odd = an.session_summary(uneven)
    for c in an.CLASSES:
        assert abs(even[f"share_{c}"] - odd[f"share_{c}"]) <= 0.01
    assert odd["duration_s"] == pytest.approx(even["duration_s"], abs=0.3)
    assert odd["mean_valence"] == pytest.approx(even["mean_valence"], abs=0.01)


def test_duckdb_rule_matches_python_on_a_real_store(two_rate_store):
    import duckdb

    pattern = str(two_rate_store / "**" / "*.parquet")
    sql = f"""
        SELECT session, timestamp, {row_duration_sql(cap_s=0.2)} AS seconds
        FROM read_parquet(?, hive_partitioning = true, hive_types_autocast = false)
        WHERE face_index <= 0 ORDER BY session, timestamp
    """
    with duckdb.connect() as con:
        got = con.execute(sql, [pattern]).df()
    expected = row_durations(got["timestamp"], cap_s=0.2, groups=got["session"])
    assert np.allclose(got["seconds"].to_numpy(), expected)
    assert (got["seconds"] < 0.2).any() and (got["seconds"] == 0.2).any()  # cap was exercised
