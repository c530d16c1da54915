"""The chosen baseline (issue 19 item 2) and Compare's periods, against hand-computed values."""

from __future__ import annotations

import datetime as dt
import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from fer_core import analytics as an
from fer_core.analytics.compare import default_periods, period_instants, sessions_in_period
from fer_core.logstore import LogStore
from tests.dashboard_fixtures import _face, write_session


def _table() -> pd.DataFrame:
    """Four sessions. a: 10 s of face, 10% negative, 20 s recorded, face in view 50%;
    b: 30 s of face, 50% negative, 30 s recorded, 100%; c: 0%; d: 60%."""
    return pd.DataFrame({
        "session": list("abcd"),
        "start": pd.date_range("2026-11-01 09:00", periods=4, freq="D", tz="UTC"),
        "negative_share": [0.1, 0.5, 0.0, 0.6],
        "face_in_view": [0.5, 1.0, 1.0, 1.0],
        "face_seconds": [10.0, 30.0, 10.0, 10.0],
        "duration_s": [20.0, 30.0, 10.0, 10.0],
    })


def test_pooled_is_time_weighted():
    table = _table()
    mean, sd = an.pooled(table, ["a", "b"], "negative_share")
    # (10 x .1 + 30 x .5) / 40 = 16 / 40 = .4 (the unweighted mean would be .3)
    assert mean == pytest.approx(0.4)
    # weighted variance: (10 x .3^2 + 30 x .1^2) / 40 = (.9 + .3) / 40 = .03
    assert sd == pytest.approx(math.sqrt(0.03))
    # face in view is a share of recorded time: (20 x .5 + 30 x 1) / 50 = .8
    assert an.pooled(table, ["a", "b"], "face_in_view")[0] == pytest.approx(0.8)
    one_mean, one_sd = an.pooled(table, ["a"], "negative_share")
    assert one_mean == pytest.approx(0.1) and math.isnan(one_sd)


def test_flags_against_a_chosen_baseline():
    flags = an.baseline_flags(_table(), chosen=["a", "b"])
    # baseline .4, spread .1732: limit max(2 x .1732, .10) = .3464. c: -.4 flagged;
    # d: +.2 not; a and b are the baseline itself and never flagged
    assert flags["session"].tolist() == ["c"]
    row = flags.iloc[0]
    assert row["rule"] == an.RULE_CHOSEN and row["direction"] == "lower"
    assert row["baseline_mean"] == pytest.approx(0.4)
    assert row["z"] == pytest.approx(-0.4 / math.sqrt(0.03))
    assert "chosen baseline (2 session(s) pooled by time: 40%" in row["observation"]
    assert "not a diagnosis" in row["observation"]


def test_one_chosen_session_uses_the_minimum_difference():
    # baseline a alone: 10%, no spread; b +.4 and d +.5 flagged, c -.1 is not more than 10 points
    flags = an.baseline_flags(_table(), chosen=["a"])
    assert flags["session"].tolist() == ["b", "d"]
    assert flags["z"].isna().all()


def test_no_chosen_baseline_keeps_the_earlier_sessions_rule():
    starts = pd.date_range("2026-11-01", periods=6, freq="D", tz="UTC")
    table = pd.DataFrame({"session": list("abcdef"), "start": starts,
                          "negative_share": [0.1, 0.2, 0.1, 0.2, 0.6, 0.15]})
    ref = an.reference_table(table)
    assert ref["rule"].unique().tolist() == [an.RULE_EARLIER]
    assert ref["baseline_mean"].iloc[:3].isna().all()  # fewer than 3 earlier sessions
    assert ref["baseline_mean"].iloc[4] == pytest.approx(0.15)
    assert an.baseline_flags(table)["session"].tolist() == ["e"]
    # a chosen id that is not among the sessions (another subject's) changes nothing
    assert an.baseline_flags(table, chosen=["zz"])["session"].tolist() == ["e"]


def test_baseline_summary_and_rule_text():
    table = _table()
    chosen, rule = an.baseline_summary(table, ["negative_share", "duration_s"], ["a", "b"])
    assert rule == an.RULE_CHOSEN
    assert chosen["negative_share"] == pytest.approx(0.4)
    assert chosen["duration_s"] == pytest.approx(25.0)  # mean recorded time per session
    # no choice: mean of the sessions before d (a, b, c): (.1 + .5 + 0) / 3 = .2
    earlier, rule = an.baseline_summary(table, ["negative_share"], before=table.at[3, "start"])
    assert rule == an.RULE_EARLIER and earlier["negative_share"] == pytest.approx(0.2)
    assert an.baseline_summary(table, ["negative_share"], before=table.at[2, "start"]) == (
        {}, "none")
    assert "2 session(s) chosen as baseline (intake, week 1)" in an.rule_text(
        an.RULE_CHOSEN, ["intake", "week 1"])
    assert "earlier sessions" in an.rule_text(an.RULE_EARLIER)


def test_compare_table_with_a_baseline():
    a = {"negative_share": 0.5, "duration_s": 120.0}
    b = {"negative_share": 0.2, "duration_s": 60.0}
    table = an.compare_summaries(a, b, {"negative_share": 0.4, "duration_s": 90.0})
    row = table.set_index("metric").loc["Negative-affect share (%)"]
    assert row["baseline"] == pytest.approx(40.0)
    assert row["A - baseline"] == pytest.approx(10.0)
    assert row["B - baseline"] == pytest.approx(-20.0)
    assert table.set_index("metric").at["Recorded time (min)", "B - baseline"] == pytest.approx(
        -0.5)
    assert "baseline" not in an.compare_summaries(a, b).columns


# ---- a synthetic store: choosing a baseline changes the observation ----------------------------

def _session(t0: datetime, n_negative: int, n: int = 10) -> list[dict]:
    """``n`` frames at 1 frame/s, the first ``n_negative`` sad and the rest happy."""
    return [_face(i, t0, {"sad": 0.9, "happy": 0.1} if i < n_negative
                  else {"happy": 0.9, "sad": 0.1}) for i in range(n)]


def test_choosing_a_baseline_in_the_store_changes_the_observation(tmp_path):
    negatives = {"s1": 1, "s2": 2, "s3": 1, "s4": 2, "s5": 5}  # 10%, 20%, 10%, 20%, 50%
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for i, (name, k) in enumerate(negatives.items()):
        write_session(tmp_path, "p01", name, _session(t0 + timedelta(days=i), k),
                      source="video", label=f"week {i + 1}")
    store = LogStore(tmp_path)

    def observe() -> pd.DataFrame:
        counts, bounds = an.subject_history(tmp_path, "p01")
        listing = store.list_sessions("p01")
        chosen = listing.loc[listing["baseline"], "session"].tolist()
        return an.baseline_flags(an.session_table(counts, bounds), chosen=chosen)

    # no choice: s5 against s1-s4 (mean 15%, sd 5.77%): z = .35 / .0577 = 6.06
    before = observe()
    assert before["session"].tolist() == ["s5"]
    assert before.iloc[0]["z"] == pytest.approx(0.35 / math.sqrt(0.01 / 3))
    assert "4 earlier sessions" in before.iloc[0]["observation"]

    assert store.set_baseline("p01", "s5", True) is False  # the previous value
    assert store.session_meta("p01", "s5").baseline is True
    after = observe()
    # s5 (50%) is the baseline now: s1-s4 lie 30-40 points below it, s5 is not flagged
    assert after["session"].tolist() == ["s1", "s2", "s3", "s4"]
    assert (after["direction"] == "lower").all() and (after["rule"] == an.RULE_CHOSEN).all()
    assert after["baseline_mean"].tolist() == pytest.approx([0.5] * 4)

    # the choice travels through an export ZIP into another store
    other = LogStore(tmp_path / "other")
    other.import_zip(store.export("zip", subject="p01"))
    assert other.list_sessions("p01").set_index("session")["baseline"].to_dict() == {
        "s1": False, "s2": False, "s3": False, "s4": False, "s5": True}
    assert store.set_baseline("p01", "s5", False) is True
    assert observe()["session"].tolist() == ["s5"]


def test_zip_with_a_malformed_baseline_is_refused(tmp_path):
    from fer_core.logstore.zipcheck import check_meta

    meta = store_meta(tmp_path)
    check_meta(meta, "m.json")  # a valid one passes
    with pytest.raises(ValueError, match="baseline must be true/false"):
        check_meta({**meta, "baseline": "yes"}, "m.json")


def store_meta(tmp_path) -> dict:
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    write_session(tmp_path, "p01", "s1", _session(t0, 1), source="video")
    return LogStore(tmp_path).session_meta("p01", "s1").to_dict()


# ---- Compare's two periods: adjacent, never overlapping -----------------------------------------

def test_period_is_half_open_in_local_time():
    first, after = period_instants(dt.date(2026, 11, 19), dt.date(2026, 11, 25), "Europe/Berlin")
    assert first == pd.Timestamp("2026-11-19 00:00", tz="Europe/Berlin")
    assert after == pd.Timestamp("2026-11-26 00:00", tz="Europe/Berlin")
    with pytest.raises(ValueError, match="before it starts"):
        period_instants(dt.date(2026, 11, 26), dt.date(2026, 11, 25), "UTC")


def test_adjacent_periods_count_each_session_once():
    # 11-26 00:00 Berlin is 11-25 23:00 UTC: that session starts on B's first local day
    starts = pd.to_datetime(["2026-11-19 10:00:00", "2026-11-25 22:59:59", "2026-11-25 23:00:00",
                             "2026-12-03 12:00:00"], utc=True)
    table = pd.DataFrame({"session": ["w1", "late", "midnight", "w3"], "start": starts})
    days = table["start"].dt.tz_convert("Europe/Berlin").dt.date
    (a0, a1), (b0, b1) = default_periods(days)
    # session days 11-19, 11-25, 11-26, 12-03: A = 11-19..11-25, B = 11-26..12-03
    assert (a0, a1, b0, b1) == (dt.date(2026, 11, 19), dt.date(2026, 11, 25),
                                dt.date(2026, 11, 26), dt.date(2026, 12, 3))
    in_a = sessions_in_period(table, a0, a1, "Europe/Berlin")
    in_b = sessions_in_period(table, b0, b1, "Europe/Berlin")
    assert in_a == ["w1", "late"] and in_b == ["midnight", "w3"]
    assert not set(in_a) & set(in_b) and len(in_a) + len(in_b) == len(table)


def test_default_periods_edge_cases():
    one = dt.date(2026, 11, 19)
    assert default_periods([one, one]) == ((one, one), (one, one))
    two = [one, dt.date(2026, 11, 22)]
    assert default_periods(two) == ((one, dt.date(2026, 11, 21)), (two[1], two[1]))
    with pytest.raises(ValueError):
        default_periods([])


# ---- the sessions table: names, filters, sort, CSV ----------------------------------------------

def _listing() -> tuple[pd.DataFrame, pd.DataFrame]:
    starts = pd.to_datetime(["2026-11-02 09:00:00", "2026-11-09 09:00:00",
                             "2026-11-16 23:30:00"], utc=True)
    listing = pd.DataFrame({"session": ["x1", "x2", "x3"], "started_at": starts,
                            "label": ["intake", "", "stimulus A"],
                            "operator": ["anna", "ben", "anna"],
                            "notes": ["calm\nsecond line", "", "tired"],
                            "baseline": [True, False, False], "synthetic": False})
    figures = pd.DataFrame({
        "session": ["x1", "x2", "x3"], "start": starts, "end": starts + pd.Timedelta(minutes=5),
        "duration_s": [300.0, 120.5, 60.0], "n_frames": [3000, 1205, 600],
        "face_seconds": [290.0, 100.0, 60.0], "face_in_view": [0.96, 0.83, 1.0],
        "negative_share": [0.1, 0.4, 0.2], "mean_valence": [0.2, -0.1, 0.0],
        "mean_confidence": [0.7, 0.6, 0.65], "dominant": ["happy", "sad", "neutral"],
        **{f"share_{c}": [0.0, 0.0, 0.0] for c in an.CLASSES}})
    return figures, listing


def test_session_list_names_filters_and_sorts():
    from fer_core.analytics.session_list import filter_session_list, session_list

    figures, listing = _listing()
    table = session_list(figures, listing, "Europe/Berlin")
    # local start times (UTC+1 in November), label first; no label: the time alone
    assert table["name"].tolist() == ["intake · 2026-11-02 10:00", "2026-11-09 10:00",
                                      "stimulus A · 2026-11-17 00:30"]
    assert table["notes"].tolist() == ["calm", "", "tired"]  # first line only
    assert table["baseline"].tolist() == [True, False, False]
    f = filter_session_list
    assert f(table, label="STIM", tz="Europe/Berlin")["session"].tolist() == ["x3"]
    assert f(table, operators=["anna"])["session"].tolist() == ["x3", "x1"]  # newest first
    # x3 starts 11-16 23:30 UTC = 11-17 00:30 in Berlin: outside 11-09..11-16 there
    assert f(table, start=dt.date(2026, 11, 9), end=dt.date(2026, 11, 16),
             tz="Europe/Berlin")["session"].tolist() == ["x2"]
    assert f(table, start=dt.date(2026, 11, 9), end=dt.date(2026, 11, 16),
             tz="UTC")["session"].tolist() == ["x3", "x2"]
    assert f(table, sort="negative affect (high first)")["session"].tolist() == ["x2", "x3", "x1"]
    assert f(table, sort="oldest first")["session"].tolist() == ["x1", "x2", "x3"]
    with pytest.raises(ValueError, match="sort must be one of"):
        f(table, sort="random")


def test_sessions_csv_has_subject_label_seconds_and_zone():
    import io

    from fer_core.analytics.session_list import session_list, sessions_csv

    figures, listing = _listing()
    text = sessions_csv(session_list(figures, listing, "Europe/Berlin"), "p01", "Europe/Berlin")
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert back["subject"].tolist() == ["p01"] * 3
    assert back["label"].tolist() == ["intake", "", "stimulus A"]
    assert back["duration_s"].tolist() == [300.0, 120.5, 60.0]  # numbers, in seconds
    assert back["start_local"].tolist()[0] == "2026-11-02T10:00:00+01:00"
    assert back["time_zone"].unique().tolist() == ["Europe/Berlin"]
    assert back["baseline"].tolist() == [True, False, False]


# ---- the audit log as text ----------------------------------------------------------------------

def test_audit_table_is_local_and_readable():
    from fer_core.auth.audit_view import audit_table

    entries = [
        {"time": "2026-11-02T09:00:05.123+00:00", "user": "anna", "action": "annotate",
         "target": "subject=p01 session=s1", "details": {"field": "baseline", "value": True}},
        {"time": "2026-07-02T09:00:00.000+00:00", "user": "ben", "action": "view",
         "target": "Overview"},
        {"time": "", "user": "", "action": "unreadable_line", "target": "audit-x.jsonl:3"},
    ]
    table = audit_table(entries, "Europe/Berlin")
    assert table.columns.tolist() == ["time", "user", "action", "target", "details"]
    assert table["time"].tolist() == ["", "2026-07-02 11:00:00 CEST",
                                      "2026-11-02 10:00:05 CET"]  # newest first
    assert table["details"].tolist() == ["", "", "field: baseline; value: yes"]
    assert "{" not in "".join(table["details"])
    assert audit_table([], "UTC").columns.tolist() == ["time", "user", "action", "target",
                                                        "details"]
