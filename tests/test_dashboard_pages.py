"""AppTest tests of every dashboard page against small hand-computed fixture logs.

The store holds subject p01 (sessions s-a and s-b of tests/dashboard_fixtures.py, written with
the real LogStore writer) and a synthetic subject demo-x. Expected numbers are worked out by hand
in tests/test_analytics.py's docstring: s-a has 10 frames (8 with a face: happy 4, sad 2,
neutral 1, angry 1), s-b has 4 frames (3 with a face: angry 2, neutral 1).
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fer_core.logstore import LogStore
from tests.auth_fixtures import log_in, use_auth_dir
from tests.dashboard_fixtures import T0, session_a_rows, session_b_rows, write_session

APP = "../dashboard/app.py"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash_store")
    write_session(root, "p01", "s-a", session_a_rows(), source="video", label="intake")
    write_session(root, "p01", "s-b", session_b_rows(), source="video")
    synth = [{**r, "source": "synthetic"} for r in session_b_rows(T0)]
    write_session(root, "demo-x", "syn-1", synth, source="synthetic", synthetic=True)
    return root


@pytest.fixture(scope="module")
def auth_root(tmp_path_factory):
    return tmp_path_factory.mktemp("dash_auth")


@pytest.fixture
def app(store_root, auth_root, monkeypatch):
    """AppTest of the app on the fixture store, logged in as the admin (a real login)."""
    monkeypatch.setenv("FER_LOG_ROOT", str(store_root))
    monkeypatch.setenv("FER_TIMEZONE", "UTC")
    use_auth_dir(monkeypatch, auth_root)

    def make(page: str | None = None, subject: str = "p01", session: str | None = None,
             **state) -> AppTest:
        at = log_in(AppTest.from_file(APP, default_timeout=60))
        at.session_state["shared.subject"] = subject
        if session:
            at.session_state["shared.session"] = session
        for key, value in state.items():
            at.session_state[key.replace("__", ".")] = value
        at.run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return make


def _decode(value):
    """Plotly 7 ships numeric arrays as {"dtype", "bdata"(, "shape")}; turn them into lists."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:
            arr = arr.reshape([int(n) for n in str(value["shape"]).split(",")])
        return [None if isinstance(v, float) and np.isnan(v) else v for v in arr.tolist()]
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def figures(at: AppTest) -> list[dict]:
    return [_decode(json.loads(el.proto.spec)) for el in at.get("plotly_chart")]


def trace(fig: dict, name: str) -> dict:
    return next(t for t in fig["data"] if t.get("name") == name)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


# ---- overview ----------------------------------------------------------------------------------

def test_overview_lists_subjects_with_trend(app):
    at = app()
    assert at.title[0].value == "Overview"
    table = at.dataframe[0].value.set_index("subject")
    assert set(table.index) == {"p01", "demo-x (synthetic)"}
    p01 = table.loc["p01"]
    assert p01["n_sessions"] == 2
    # negative-affect share: s-a 3/8 = 37.5%, s-b 2/3 = 66.7%; mean 52.1%
    assert p01["mean_negative_share"] == pytest.approx((37.5 + 200 / 3) / 2, abs=1e-3)
    assert p01["negative_trend"] == pytest.approx([37.5, 66.67], abs=1e-2)
    assert "SYNTHETIC demo data" in markdown_text(at)
    (fig,) = figures(at)
    assert len(fig["data"][0]["x"]) == 3  # three sessions in the store
    assert len(at.download_button) == 4  # 3 raw-log exports + chart PNG


def test_overview_search_and_filters(app):
    at = app()
    at.text_input(key="overview.search").set_value("P0").run()
    assert at.dataframe[0].value["subject"].tolist() == ["p01"]
    assert "SYNTHETIC demo data" not in markdown_text(at)
    at.text_input(key="overview.search").set_value("").run()
    at.selectbox(key="overview.synthetic").set_value("synthetic").run()
    assert at.dataframe[0].value["subject"].tolist() == ["demo-x (synthetic)"]
    at.selectbox(key="overview.synthetic").set_value("all").run()
    at.number_input(key="overview.min_sessions").set_value(2).run()
    assert at.dataframe[0].value["subject"].tolist() == ["p01"]


# ---- history -----------------------------------------------------------------------------------

def test_history_figures(app):
    at = app("pages/history.py")
    assert at.title[0].value == "Subject history — p01"
    # 2 sessions at 1 frame/s, each frame covers 1 s: 10 s + 4 s; 11 of 14 s with a face;
    # negative 5 of 11 s
    assert metrics(at) == {"Sessions": "2", "Recorded time": "0 min 14 s",
                           "Face in view": "79%", "Negative-affect share": "45%"}
    shares, negative, valence, stacked, lines, heat = figures(at)
    assert shares["data"][0]["y"] == pytest.approx(
        [300 / 11, 0, 0, 400 / 11, 200 / 11, 0, 200 / 11])
    assert trace(stacked, "happy")["y"] == pytest.approx([50, 0])
    assert trace(stacked, "angry")["y"] == pytest.approx([12.5, 200 / 3])
    assert trace(lines, "sad")["y"] == pytest.approx([25, 0])
    assert "derived estimate" in valence["layout"]["title"]["text"]
    assert valence["data"][0]["y"] == pytest.approx([1.48 / 8, -1.41 / 3], abs=1e-5)
    # sessions on the axes by label and local start time, never by their UTC id
    assert trace(stacked, "happy")["x"] == ["intake · 2026-11-02 09:00", "2026-11-03 23:50"]
    assert trace(negative, "this session")["y"] == pytest.approx([37.5, 200 / 3])
    assert trace(negative, "baseline")["y"] == [None, None]  # 2 sessions: no baseline yet
    assert heat["data"][0]["y"] == ["09:00", "23:00"]
    assert heat["data"][0]["z"][0][3] == pytest.approx(50)  # 09:00, happy
    assert heat["data"][0]["z"][1][0] == pytest.approx(200 / 3)  # 23:00, angry
    sessions = at.dataframe[0].value
    assert sessions["session"].tolist() == ["s-b", "s-a"]  # newest first
    assert sessions["label"].tolist() == ["", "intake"]
    assert sessions["negative_share"].tolist() == pytest.approx([200 / 3, 37.5])
    assert "No baseline chosen" in at.info[0].value
    # s-b: 4 frames at 1 frame/s (bin 0: 4 frames over 4 s), 50-px faces
    assert sessions["quality"].tolist() == [
        "use with care: low frame rate 100% of the time, small face 100% of the time"] * 2
    assert not at.warning  # two sessions are too few for a baseline observation
    assert any("3 earlier sessions" in c.value for c in at.caption)
    assert "SYNTHETIC" not in markdown_text(at)


def test_history_per_day_and_period_filter(app):
    import datetime as dt

    at = app("pages/history.py")
    at.radio(key="history.by").set_value("day").run()
    stacked = figures(at)[3]
    assert trace(stacked, "happy")["x"] == ["2026-11-02", "2026-11-03"]
    at.date_input(key="history.period").set_value((dt.date(2026, 11, 3), dt.date(2026, 11, 3)))
    at.run()
    assert metrics(at)["Sessions"] == "1"
    assert figures(at)[0]["data"][0]["y"][0] == pytest.approx(200 / 3)  # s-b only: angry 2/3


def test_history_baseline_flag_is_an_observation(tmp_path, monkeypatch):
    # four calm sessions then one with much more negative affect
    from datetime import timedelta

    calm = [{**r} for r in session_a_rows()]
    for k in range(4):
        rows = [{**r, "timestamp": r["timestamp"] + timedelta(days=k)} for r in calm]
        if k % 2:  # vary the baseline a little so its sd is not zero
            rows[0] = {**rows[0], "label": "sad", "prob_sad": 0.9, "prob_happy": 0.1,
                       "confidence": 0.9}
        write_session(tmp_path, "p02", f"s{k}", rows)
    sad = [{**r, "timestamp": r["timestamp"] + timedelta(days=5)} for r in session_b_rows(T0)]
    write_session(tmp_path, "p02", "s5", sad)
    monkeypatch.setenv("FER_LOG_ROOT", str(tmp_path))
    monkeypatch.setenv("FER_TIMEZONE", "UTC")
    use_auth_dir(monkeypatch, tmp_path / "auth")
    at = log_in(AppTest.from_file(APP, default_timeout=60))
    at.run()
    at.switch_page("pages/history.py").run()
    assert len(at.warning) == 1
    text = at.warning[0].value
    assert "higher than in this person's 4 earlier sessions" in text
    assert "not a diagnosis" in text
    flagged = at.dataframe[0].value.set_index("session")["flagged"]
    assert flagged.to_dict() == {"s0": False, "s1": False, "s2": False, "s3": False, "s5": True}


def test_one_segment_label_across_sessions_on_history_and_compare(tmp_path, monkeypatch):
    from datetime import timedelta

    from fer_core.logstore import LogStore

    for k in range(2):
        rows = [{**r, "timestamp": r["timestamp"] + timedelta(days=k)} for r in session_a_rows()]
        write_session(tmp_path, "p03", f"s{k}", rows)
    store = LogStore(tmp_path)
    # day 0: [0, 2) s covers two happy frames; day 1: [3, 5) s two sad ones (the angry second
    # face of frame 4 is ignored); a point "beep" has no figures and no entry in the picker
    store.add_segment("p03", "s0", "stim", T0, T0 + timedelta(seconds=2))
    store.add_segment("p03", "s1", "stim", T0 + timedelta(days=1, seconds=3),
                      T0 + timedelta(days=1, seconds=5))
    store.add_segment("p03", "s1", "beep", T0 + timedelta(days=1, seconds=6))
    monkeypatch.setenv("FER_LOG_ROOT", str(tmp_path))
    monkeypatch.setenv("FER_TIMEZONE", "UTC")
    use_auth_dir(monkeypatch, tmp_path / "auth")
    at = log_in(AppTest.from_file(APP, default_timeout=60))
    at.session_state["shared.subject"] = "p03"
    at.run()
    at.switch_page("pages/history.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="history.segment_label").options == ["stim (2 sessions)"]
    table = at.dataframe[1].value
    assert table["session"].tolist() == ["s0", "s1"]
    assert table["happy"].tolist() == pytest.approx([100.0, 0.0])
    assert table["sad"].tolist() == pytest.approx([0.0, 100.0])
    at.switch_page("pages/compare.py").run()
    at.radio(key="compare.mode").set_value("One segment label across sessions").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.dataframe[0].value["sad"].tolist() == pytest.approx([0.0, 100.0])
    stacked = next(f for f in figures(at) if "per session" in f["layout"]["title"]["text"])
    assert trace(stacked, "happy")["y"] == pytest.approx([100.0, 0.0])


# ---- session -----------------------------------------------------------------------------------

def test_session_summary_figures(app):
    at = app("pages/session.py", session="s-a", session__window_s=0.0, session__show_raw=True)
    assert at.title[0].value == "Session — p01"
    assert metrics(at).items() >= {"Duration": "0 min 10 s", "Face in view": "80%",
                                   "Dominant expression": "happy", "Negative-affect share": "38%",
                                   "Mean confidence": "0.74"}.items()
    smooth, raw, etho, valence, shares, transitions, fps, face = figures(at)
    happy = trace(raw, "happy")["y"]
    assert happy[:2] == pytest.approx([0.8, 0.6]) and happy[2] is None  # gap: no face
    # the main timeline: the probabilities stacked to 100% (window 0 = raw values)
    assert trace(smooth, "happy")["y"][:2] == pytest.approx([80, 60])
    assert {t.get("stackgroup") for t in smooth["data"]} == {"probabilities"}
    labels = [t["name"] for t in etho["data"]]
    assert set(labels) == {"angry", "happy", "sad", "neutral", "no face"}
    assert sum(trace(etho, "happy")["x"]) == pytest.approx(4000)  # 4 s of happy, in ms
    assert "derived estimate" in valence["layout"]["title"]["text"]
    assert shares["data"][0]["y"] == pytest.approx([12.5, 0, 0, 50, 25, 0, 12.5])
    z = transitions["data"][0]["z"]
    assert sum(map(sum, z)) == 4  # happy>sad, sad>neutral, neutral>angry, angry>happy
    assert z[3][4] == 1  # happy -> sad
    per_class = at.dataframe[0].value
    assert per_class.loc["happy", "mean confidence"] == pytest.approx(0.775, abs=1e-6)
    assert per_class.loc["happy", "peak at (s from start)"] == 7
    assert len(at.download_button) == 13  # 8 PNG + report (PDF, HTML) + 3 raw-log exports
    # recording quality: 10 frames at 1 frame/s in two 5-s bins (5 frames / 5 s = 1 fps, under
    # 4), 50-px face boxes (under 60), face in view 4 of 5 s in each bin, no confidence < 0.4
    assert at.warning[0].value == ("Verdict: **use with care: low frame rate 100% of the time, "
                                   "small face 100% of the time**")
    assert metrics(at).items() >= {"Processed rate": "1.0 fps", "Frames dropped": "—",
                                   "Face size": "50 px", "Brightness / contrast": "— / —",
                                   "Low-confidence share": "0%"}.items()
    assert fps["data"][0]["y"] == pytest.approx([1.0, 1.0, 1.0])  # the last bin drawn to its end
    assert face["data"][0]["y"] == pytest.approx([80.0, 80.0, 80.0])
    stretches = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert stretches["reason"].tolist() == ["low frame rate", "small face"]
    assert stretches["seconds"].tolist() == pytest.approx([10.0, 10.0])
    assert stretches["from"].tolist() == ["09:00:00", "09:00:00"]
    # every time chart: one x range, one left and right margin, the legend under the plot
    timed = [smooth, raw, etho, valence]
    assert len({tuple(f["layout"]["xaxis"]["range"]) for f in timed}) == 1
    assert len({(f["layout"]["margin"]["l"], f["layout"]["margin"]["r"]) for f in timed}) == 1
    assert {f["layout"]["legend"]["orientation"] for f in timed} == {"h"}
    # a one-line guide under every chart
    guides = [c.value for c in at.caption if ":material/help:" in c.value]
    assert len(guides) == 8 and any("no face light grey" in g for g in guides)


def test_session_raw_lines_only_on_request(app):
    at = app("pages/session.py", session="s-a")
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert len(titles) == 7 and not any("raw" in t for t in titles)  # 5 + 2 quality
    assert titles[0].startswith("Expressions over time")


def test_session_smoothing_window_changes_the_smoothed_line(app):
    at = app("pages/session.py", session="s-a", session__window_s=2.0)
    smooth = figures(at)[0]
    assert "smoothed over 2 s" in smooth["layout"]["title"]["text"]
    assert trace(smooth, "happy")["y"][:2] == pytest.approx([70, 60])  # (t-1, t+1]


def test_a_segment_ending_before_it_starts_is_refused_with_a_message(app, store_root):
    at = app("pages/session.py", session="s-b")
    at.number_input(key="session.segment_start").set_value(5.0)
    at.number_input(key="session.segment_end").set_value(2.0)
    at.text_input(key="session.segment_label").set_value("backwards").run()
    at.button(key="session.add_segment").click().run()
    assert any("before it starts" in e.value for e in at.error), [e.value for e in at.error]
    assert LogStore(store_root).session_meta("p01", "s-b").segments == []
    at.run()  # the message is shown once, not on every later run
    assert not any("before it starts" in e.value for e in at.error)


def test_session_segments_added_edited_deleted_and_notes_saved(app, store_root):
    at = app("pages/session.py", session="s-b")
    at.number_input(key="session.segment_start").set_value(1.0)
    at.number_input(key="session.segment_end").set_value(5.0)
    at.text_input(key="session.segment_label").set_value("task 2").run()
    at.button(key="session.add_segment").click().run()
    at.button(key="session.add_segment").click().run()  # a second click adds no copy
    meta = LogStore(store_root).session_meta("p01", "s-b")
    assert [(s.label, (s.end - s.start).total_seconds()) for s in meta.segments] == [
        ("task 2", 4.0)]
    raw = figures(at)[0]
    assert [a["text"] for a in raw["layout"]["annotations"]] == ["task 2"]
    assert [sh["type"] for sh in raw["layout"]["shapes"]] == ["rect"]  # a shaded interval
    table = next(d.value for d in at.dataframe if "duration (s)" in d.value.columns)
    assert table["label"].tolist() == ["task 2"] and table["duration (s)"].tolist() == [4.0]
    assert table["s from start"].tolist() == [1.0]
    # a point marker, then the interval edited into another label and its end removed
    at.number_input(key="session.segment_start").set_value(2.0)
    at.number_input(key="session.segment_end").set_value(None)
    at.text_input(key="session.segment_label").set_value("beep").run()
    at.button(key="session.add_segment").click().run()
    table = next(d.value for d in at.dataframe if "duration (s)" in d.value.columns)
    point = table.set_index("label").loc["beep"]  # its empty figures say why: no stretch
    assert point["end"] == "point marker" and point["duration (s)"] != point["duration (s)"]  # NaN
    assert table.set_index("label").loc["task 2", "end"] != "point marker"
    seg_id = meta.segments[0].id
    at.selectbox(key="session.segment_pick").set_value(seg_id).run()
    at.text_input(key=f"session.edit_label.{seg_id}").set_value("task 2b")
    at.number_input(key=f"session.edit_end.{seg_id}").set_value(0.5).run()
    at.button(key="session.save_segment").click().run()  # end before start: refused
    assert "Not saved" in at.error[0].value
    at.number_input(key=f"session.edit_end.{seg_id}").set_value(3.0).run()
    at.button(key="session.save_segment").click().run()
    meta = LogStore(store_root).session_meta("p01", "s-b")
    assert sorted((s.label, s.end is None) for s in meta.segments) == [
        ("beep", True), ("task 2b", False)]
    at.selectbox(key="session.segment_pick").set_value(seg_id).run()
    at.button(key="session.delete_segment").click().run()
    assert [s.label for s in LogStore(store_root).session_meta("p01", "s-b").segments] == [
        "beep"]
    at.text_area(key="session.notes").set_value("calm, talkative")
    at.button(key="session.save_notes").click().run()
    assert LogStore(store_root).session_meta("p01", "s-b").notes == "calm, talkative"


def test_session_of_synthetic_subject_shows_badge(app):
    at = app("pages/session.py", subject="demo-x")
    assert "SYNTHETIC demo data" in markdown_text(at)
    assert at.title[0].value == "Session — demo-x"
    assert at.session_state["shared.session"] == "syn-1"  # defaulted to its only session


# ---- compare -----------------------------------------------------------------------------------

def test_compare_two_sessions(app):
    at = app("pages/compare.py", compare__A__subject="p01", compare__A__session="s-a",
             compare__B__subject="p01", compare__B__session="s-b")
    table = at.table[0].value
    row = table.loc["Negative-affect share (%)"]
    assert float(row["A"]) == pytest.approx(37.5)
    assert float(row["B"]) == pytest.approx(66.67, abs=1e-2)
    assert float(row["difference (B - A)"]) == pytest.approx(29.17, abs=1e-2)
    (fig,) = figures(at)
    assert trace(fig, "A")["y"] == pytest.approx([12.5, 0, 0, 50, 25, 0, 12.5])
    assert trace(fig, "B")["y"] == pytest.approx([200 / 3, 0, 0, 0, 0, 0, 100 / 3])


def test_compare_two_periods(app):
    import datetime as dt

    at = app("pages/compare.py", compare__mode="Two periods of one subject",
             compare__A__period=(dt.date(2026, 11, 2), dt.date(2026, 11, 2)),
             compare__B__period=(dt.date(2026, 11, 3), dt.date(2026, 11, 3)))
    table = at.table[0].value
    assert float(table.loc["Face in view (%)", "A"]) == pytest.approx(80)
    assert float(table.loc["Face in view (%)", "B"]) == pytest.approx(75)
    assert float(table.loc["Share happy (%)", "difference (B - A)"]) == pytest.approx(-50)


# ---- empty store -------------------------------------------------------------------------------

@pytest.mark.parametrize("page", [None, "pages/history.py", "pages/session.py",
                                  "pages/compare.py"])
def test_empty_store_shows_how_to_start(tmp_path, monkeypatch, page):
    monkeypatch.setenv("FER_LOG_ROOT", str(tmp_path / "fresh"))
    use_auth_dir(monkeypatch, tmp_path / "auth")
    at = log_in(AppTest.from_file(APP, default_timeout=60)).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.info) == 1
    text = at.info[0].value
    assert "log store is empty" in text
    assert "python -m fer_core demo-data" in text and "Record" in text and "import" in text
    assert not at.get("plotly_chart")
