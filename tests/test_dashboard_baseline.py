"""Issue 19 on the pages (AppTest): the chosen baseline, session names, the sessions table,
settings restored from the URL, and the smaller review items.

The store holds subject p01 with five 10-s sessions at 1 frame/s, one per day, whose
negative-affect shares are 10%, 20%, 10%, 20% and 50% (tests/test_baseline.py works the
observations out by hand): with no baseline chosen only s5 is flagged; with s5 chosen as the
baseline, s1-s4 are.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from fer_core.auth import Auth, Role
from fer_core.logstore import LogStore
from tests.auth_fixtures import add_account, log_in, use_auth_dir
from tests.dashboard_fixtures import _face, write_session

APP = "../dashboard/app.py"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NEGATIVE = {"s1": 1, "s2": 2, "s3": 1, "s4": 2, "s5": 5}
OPERATORS = {"s1": "anna", "s2": "ben", "s3": "anna", "s4": "ben", "s5": "anna"}


def _rows(t0: datetime, n_negative: int) -> list[dict]:
    return [_face(i, t0, {"sad": 0.9, "happy": 0.1} if i < n_negative
                  else {"happy": 0.9, "sad": 0.1}) for i in range(10)]


@pytest.fixture
def env(tmp_path, monkeypatch) -> tuple[Auth, LogStore]:
    root = tmp_path / "logs"
    for i, (name, k) in enumerate(NEGATIVE.items()):
        write_session(root, "p01", name, _rows(T0 + timedelta(days=i), k), source="video",
                      label=f"week {i + 1}", operator=OPERATORS[name],
                      notes=f"note of {name}\nsecond line")
    write_session(root, "p02", "t1", _rows(T0 + timedelta(days=30), 3), source="video",
                  operator="carl")
    monkeypatch.setenv("FER_LOG_ROOT", str(root))
    monkeypatch.setenv("FER_TIMEZONE", "UTC")
    auth = use_auth_dir(monkeypatch, tmp_path / "auth")
    add_account(auth, "psy", Role.PSYCHOLOGIST, ("p01", "p02"))
    add_account(auth, "view", Role.VIEWER, ("p01",))
    return auth, LogStore(root)


def run(user: str, page: str | None = None, params: dict | None = None, **state) -> AppTest:
    at = log_in(AppTest.from_file(APP, default_timeout=60), user)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    for key, value in state.items():
        at.session_state[key.replace("__", ".")] = value
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def plain(text: str) -> str:
    """Text as the reader sees it (the page escapes Markdown in typed labels)."""
    return re.sub(r"\\(.)", r"\1", text)


def observations(at: AppTest) -> list[str]:
    return [plain(w.value) for w in at.warning if "not a diagnosis" in w.value]


def info(at: AppTest) -> str:
    return plain(at.info[0].value)


def table_with(at: AppTest, column: str):
    return next(d for d in at.dataframe if column in d.value.columns)


def test_psychologist_chooses_the_baseline_and_the_observations_follow(env):
    auth, store = env
    at = run("psy", "history")
    assert "No baseline chosen" in info(at)
    (only,) = observations(at)
    assert only.startswith("**week 5 · 2026-11-06 09:00**")  # label and local start time
    assert "4 earlier sessions" in only

    at.multiselect(key="history.baseline_pick.p01").set_value(["s5"])
    at.button(key="history.baseline_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert store.session_meta("p01", "s5").baseline is True
    entry = auth.audit.read(user="psy", action="annotate")[-1]
    assert entry["target"] == "subject=p01 session=s5"
    assert entry["details"] == {"field": "baseline", "value": True}
    assert "1 session(s) chosen as baseline (week 5 · 2026-11-06 09:00)" in info(at)
    flagged = observations(at)
    assert [o.split("**")[1] for o in flagged] == [
        f"week {i} · 2026-11-0{i + 1} 09:00" for i in range(1, 5)]
    assert all("chosen baseline" in o for o in flagged)
    table = at.dataframe(key="history.sessions").value.set_index("session")
    assert table["baseline"].to_dict() == {"s5": True, "s4": False, "s3": False, "s2": False,
                                           "s1": False}
    assert table["flagged"].to_dict()["s5"] is False
    # the chart of negative affect draws the chosen baseline: 50% for every session
    negative = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                    if "Negative-affect share per session vs baseline" in c.proto.spec)
    traces = {t["name"]: t for t in negative["data"]}
    assert traces["chosen baseline session"]["x"] == ["week 5 · 2026-11-06 09:00"]
    assert traces["baseline"]["y"] == pytest.approx([50.0] * 5)

    # unchoosing it is audited too, and the old rule is back
    at.multiselect(key="history.baseline_pick.p01").set_value([])
    at.button(key="history.baseline_save").click().run()
    assert store.session_meta("p01", "s5").baseline is False
    assert auth.audit.read(user="psy", action="annotate")[-1]["details"]["value"] is False
    assert "No baseline chosen" in info(at)


def test_viewer_sees_the_rule_but_cannot_choose_nor_see_the_store_path(env):
    _, store = env
    store.set_baseline("p01", "s2", True)
    at = run("view", "history")
    assert "1 session(s) chosen as baseline (week 2 · 2026-11-03 09:00)" in info(at)
    assert not [m for m in at.multiselect if m.key == "history.baseline_pick.p01"]
    assert not [b for b in at.button if b.key == "history.baseline_save"]
    # the sidebar (AppTest keeps it only for the first page of a run)
    sidebar = " ".join(c.value for c in run("view").sidebar.caption)
    assert "Logged in as" in sidebar  # the sidebar's captions are read
    assert "Log store" not in sidebar and str(store.root) not in sidebar
    assert "Log store" in " ".join(c.value for c in run("admin").sidebar.caption)


def test_an_observation_opens_its_session(env):
    at = run("psy", "history")
    at.button(key="history.open.s5").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Session — p01"
    assert at.session_state["shared.session"] == "s5"


def test_sessions_table_columns_filters_and_a_row_opens_its_session(env):
    at = run("psy", "history")
    table = at.dataframe(key="history.sessions").value
    assert table["label"].tolist() == [f"week {i}" for i in (5, 4, 3, 2, 1)]  # newest first
    assert table["notes"].tolist() == [f"note of s{i}" for i in (5, 4, 3, 2, 1)]  # first line
    assert table["operator"].tolist() == ["anna", "ben", "anna", "ben", "anna"]
    at.text_input(key="history.label_filter").set_value("WEEK 2").run()
    assert at.dataframe(key="history.sessions").value["session"].tolist() == ["s2"]
    at.text_input(key="history.label_filter").set_value("").run()
    at.multiselect(key="history.operator_filter").set_value(["ben"]).run()
    assert at.dataframe(key="history.sessions").value["session"].tolist() == ["s4", "s2"]
    at.selectbox(key="history.sort").set_value("oldest first").run()
    assert at.dataframe(key="history.sessions").value["session"].tolist() == ["s2", "s4"]
    at.date_input(key="history.period").set_value((dt.date(2026, 11, 4), dt.date(2026, 11, 6)))
    at.run()
    assert at.dataframe(key="history.sessions").value["session"].tolist() == ["s4"]
    # selecting a row (as the browser does) opens that session
    at.session_state["history.sessions"] = {"selection": {"rows": [0], "columns": [],
                                                          "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Session — p01"
    assert at.session_state["shared.session"] == "s4"


def test_compare_reads_against_the_chosen_baseline(env):
    _, store = env
    at = run("psy", "compare", compare__A__subject="p01", compare__A__session="s1",
             compare__B__subject="p01", compare__B__session="s3")
    # no choice, and no session before s1: no baseline column, and the page says why
    assert "No baseline" in info(at)
    assert "baseline" not in at.table[0].value.columns
    store.set_baseline("p01", "s2", True)
    store.set_baseline("p01", "s4", True)
    at = run("psy", "compare", compare__A__subject="p01", compare__A__session="s1",
             compare__B__subject="p01", compare__B__session="s5")
    assert "2 session(s) chosen as baseline (week 2 · 2026-11-03 09:00, week 4" in (
        info(at))
    row = at.table[0].value.loc["Negative-affect share (%)"]
    # s2 and s4: 20% each, 10 s of face each: pooled 20%; s1 10% (-10), s5 50% (+30)
    assert float(row["baseline"]) == pytest.approx(20)
    assert float(row["A - baseline"]) == pytest.approx(-10)
    assert float(row["B - baseline"]) == pytest.approx(30)
    labels = at.selectbox(key="compare.A.session").options
    assert "week 1 · 2026-11-02 09:00" in labels


def test_compare_default_periods_do_not_overlap(env):
    at = run("psy", "compare", compare__mode="Two periods of one subject")
    a, b = at.session_state["compare.A.period"], at.session_state["compare.B.period"]
    # five days with sessions, 11-02..11-06: A = 11-02..11-03, B = 11-04..11-06
    assert (a, b) == ((dt.date(2026, 11, 2), dt.date(2026, 11, 3)),
                      (dt.date(2026, 11, 4), dt.date(2026, 11, 6)))
    minutes = at.table[0].value.loc["Recorded time (min)"]
    assert float(minutes["A"]) + float(minutes["B"]) == pytest.approx(50 / 60, abs=0.01)
    assert not [w for w in at.warning if "overlap" in w.value]
    at.date_input(key="compare.B.period").set_value((dt.date(2026, 11, 3), dt.date(2026, 11, 6)))
    at.run()
    assert [w for w in at.warning if "overlap" in w.value]


def test_settings_come_back_from_the_url(env):
    at = run("psy", "session", params={"smooth": "5"}, shared__session="s1")
    assert at.slider(key="session.window_s").value == 5.0
    assert at.query_params["smooth"] == "5"
    bad = run("psy", "session", params={"smooth": "999"}, shared__session="s1")
    assert bad.slider(key="session.window_s").value == 2.0  # out of range: the default
    hist = run("psy", "history", params={"per": "day", "period": "2026-11-03..2026-11-04"})
    assert hist.radio(key="history.by").value == "day"
    assert hist.date_input(key="history.period").value == (dt.date(2026, 11, 3),
                                                           dt.date(2026, 11, 4))
    comp = run("psy", "compare", params={"mode": "Two sessions", "a_subject": "p01",
                                         "a_session": "s2", "b_subject": "p01",
                                         "b_session": "s4"})
    assert comp.selectbox(key="compare.A.session").value == "s2"
    assert comp.selectbox(key="compare.B.session").value == "s4"
    periods = run("psy", "compare", params={"mode": "Two periods of one subject",
                                            "a_period": "2026-11-02..2026-11-02",
                                            "b_period": "2026-11-05..2026-11-06"})
    assert periods.date_input(key="compare.B.period").value == (dt.date(2026, 11, 5),
                                                                dt.date(2026, 11, 6))
    # a subject this account may not see is ignored, not shown
    other = run("psy", "compare", params={"a_subject": "nobody", "a_session": "x"})
    assert other.selectbox(key="compare.A.subject").value == "p01"


def test_per_expression_peak_says_it_is_smoothed(env):
    at = run("psy", "session", shared__session="s1")
    per_class = table_with(at, "mean confidence")
    assert "peak of smoothed probability" in per_class.value.columns
    assert "peak probability" not in per_class.value.columns
    assert "smoothed curve" in per_class.proto.columns


def test_admin_tables_have_headers_and_a_readable_audit_log(env):
    auth, _ = env
    admin = auth.principal(log_in_token(auth))
    for user in ("psy", "view"):  # no assignments left: an empty table
        for subject in sorted(auth.assignments.subjects_of(user)):
            auth.set_assignment(admin, subject, user, False)
    at = run("admin", "admin")
    assignments = table_with(at, "subjects").value
    assert assignments.columns.tolist() == ["account", "subjects"] and assignments.empty
    audit = table_with(at, "details").value
    assert audit["time"].str.endswith(" UTC").all()
    assert not audit["details"].str.contains("{", regex=False).any()
    assert audit["details"].str.contains("account: psy").any()  # an unassignment, as text
    assert "role: admin; via: first-run setup" in audit["details"].tolist()


def log_in_token(auth: Auth) -> str:
    from tests.auth_fixtures import PW

    return auth.login("admin", PW).token


def test_picks_of_one_subject_do_not_break_another(env):
    """Filters, period and baseline picks made for p01 do not fit p02 (other days, operators,
    sessions): switching the subject falls back to p02's defaults instead of failing."""
    at = run("psy", "history")
    at.multiselect(key="history.operator_filter").set_value(["ben"]).run()
    at.date_input(key="history.period").set_value((dt.date(2026, 11, 3), dt.date(2026, 11, 4)))
    at.multiselect(key="history.baseline_pick.p01").set_value(["s2"]).run()
    at.session_state["shared.subject"] = "p02"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Subject history — p02"
    assert at.dataframe(key="history.sessions").value["session"].tolist() == ["t1"]
    assert at.multiselect(key="history.operator_filter").value == []
    comp = run("psy", "compare", compare__mode="Two periods of one subject")
    comp.session_state["shared.subject"] = "p02"
    comp.run()
    assert not comp.exception, [e.value for e in comp.exception]
